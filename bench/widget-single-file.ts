/**
 * The widget as it was before issue 13 split it: one `dist/widget.js`, built fresh by the bench from
 * the last commit before that work began, so the section can set today's split widget against it.
 * Nothing built is kept in the repository: the commit's sources come out of git into a scratch folder.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildWidget } from '../demo/build-widget.ts'

/**
 * f5cc322 ("Scale-out groundwork"), the commit before 0cc84f6, the first of issue 13's: its widget is the
 * one the issue measured (`gzip -9` gives the issue's 14,921 bytes; Node's zlib at level 9, 14,982).
 */
export const SINGLE_FILE_COMMIT = 'f5cc322db0cef37194681111c617121754d7ebbd'

/** What the commit's `vite build` reads: its sources and its own build config (run with today's node_modules). */
const SOURCES = ['package.json', 'tsconfig.json', 'vite.config.ts', 'src']

export type SingleFile = { code: Buffer; commit: string } | { skipped: string }

/** Builds the commit's widget into a scratch folder; says why not, rather than failing, where git or the commit is missing. */
export async function buildSingleFile(root: string): Promise<SingleFile> {
  const git = (args: string[]) => spawnSync('git', ['-C', root, ...args], { maxBuffer: 64 * 1024 * 1024 })
  const found = git(['cat-file', '-e', `${SINGLE_FILE_COMMIT}^{commit}`])
  if (found.error) return { skipped: `git is not available (${found.error.message})` }
  if (found.status !== 0)
    return { skipped: `commit ${SINGLE_FILE_COMMIT.slice(0, 7)} is not in this checkout (not a git repository, or a shallow clone)` }

  const folder = mkdtempSync(join(tmpdir(), 'assisters-bench-single-file-'))
  try {
    const archive = git(['archive', '--format=tar', SINGLE_FILE_COMMIT, ...SOURCES])
    if (archive.status !== 0) throw new Error(`git archive failed: ${archive.stderr}`)
    const untar = spawnSync('tar', ['-x', '-C', folder], { input: archive.stdout })
    if (untar.status !== 0) throw new Error(`tar failed: ${untar.error?.message ?? untar.stderr}`)
    symlinkSync(join(root, 'node_modules'), join(folder, 'node_modules'), 'dir')
    const outDir = join(folder, 'dist')
    await buildWidget(folder, { outDir, quiet: true })
    const built = readdirSync(outDir)
    if (built.join() !== 'widget.js')
      throw new Error(`expected one widget.js from ${SINGLE_FILE_COMMIT.slice(0, 7)}, got ${built.join(', ')}`)
    return { code: readFileSync(join(outDir, 'widget.js')), commit: SINGLE_FILE_COMMIT }
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
}
