/**
 * `npm run bench`: every section measures against a baseline in the same run, prints its tables,
 * and the whole report goes to bench/results.md.
 *   --quick         shorter runs and fewer streams, for trying things out (writes no results file)
 *   --only=<name>   relay, pieces, profile, widget, limiter or scale: its sections replace theirs in bench/results.md
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { parseArgs } from 'node:util'
import { benchLimiter } from './limiter.ts'
import { benchProfile } from './profile.ts'
import { benchRelay } from './relay.ts'
import { benchRelayPieces } from './relay-pieces.ts'
import { benchScaleOut } from './scale-out.ts'
import { markdownTable, markdownTargets, type BenchSection } from './report.ts'
import { benchWidget } from './widget.ts'

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } } })
const only = values.only
if (only !== undefined && !['relay', 'pieces', 'profile', 'widget', 'limiter', 'scale'].includes(only)) {
  console.error(`bench: --only must be relay, pieces, profile, widget, limiter or scale, got '${only}'`)
  process.exit(2)
}

const repeats = 3
const sections: BenchSection[] = []
const report = (section: BenchSection) => {
  sections.push(section)
  console.log(`\n## ${section.title}\n`)
  for (const table of section.tables) console.log(`${markdownTable(table)}\n`)
  console.log(markdownTargets(section.targets))
}

if (!only || only === 'relay') {
  const relay = await benchRelay(values.quick ? { repeats, seconds: 1, manyStreams: 200 } : { repeats, seconds: 5, manyStreams: 1000 })
  relay.forEach(report)
}
if (!only || only === 'pieces') report(await benchRelayPieces(values.quick ? { repeats: 1, seconds: 1 } : { repeats: 5, seconds: 3 }))
if (!only || only === 'profile') report(await benchProfile(values.quick ? { repeats: 1, seconds: 2 } : { repeats, seconds: 5 }))
if (!only || only === 'widget') report(await benchWidget({ repeats: values.quick ? 3 : 7 }))
if (!only || only === 'limiter') report(await benchLimiter(values.quick ? { calls: 5_000, repeats: 3 } : { calls: 50_000, repeats: 5 }))
if (!only || only === 'scale') report(await benchScaleOut({ repeats, seconds: values.quick ? 1 : 5 }))

if (!values.quick) {
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.versions.node}, ${process.platform}`
  const today = new Date().toISOString().slice(0, 10)
  // A section run on its own says so: the file's other sections come from an earlier run.
  const alone = only ? `Run on its own (\`npm run bench -- --only=${only}\`) on ${today}: ${machine}.\n\n` : ''
  const body = (s: BenchSection) =>
    `## ${s.title}\n\n${alone}${s.method}\n\n${[...s.tables.map(markdownTable), markdownTargets(s.targets)].filter(Boolean).join('\n\n')}\n`
  const file = new URL('results.md', import.meta.url)
  writeFileSync(
    file,
    only
      ? sections.reduce((text, s) => replaceSection(text, s.title, body(s)), readFileSync(file, 'utf8'))
      : `# Benchmark results\n\nWritten by \`npm run bench\` on ${today}: ${machine}.\n\n${sections.map(body).join('\n')}`,
  )
  console.log(only ? `\nReplaced its sections in bench/results.md` : '\nWrote bench/results.md')
}

/** The results file with one section (its heading to the next) in place of the one of that title, or added at the end. */
function replaceSection(text: string, title: string, section: string): string {
  const start = text.indexOf(`\n## ${title}\n`)
  if (start === -1) return `${text.trimEnd()}\n\n${section}`
  const next = text.indexOf('\n## ', start + 1)
  return text.slice(0, start + 1) + section + (next === -1 ? '' : text.slice(next))
}
