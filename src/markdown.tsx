import { Fragment, h } from 'preact'
import type { ComponentChild, JSX } from 'preact'

type Nodes = ComponentChild[]
/** What a parser produced, and the index where the input after it starts. */
type Parsed = [ComponentChild, number]
type Block = (lines: string[], i: number, depth: number, tight: boolean) => Parsed

/** Lists, quotes and inline spans nest this deep at most; deeper markers stay text, so no input can exhaust the stack. */
const DEPTH = 3
const WORD = /[\p{L}\p{N}]/u
const ATOM = /\\[!-/:-@[-`{-~]|`+/g
const TICKS = /`+/g
const AUTOLINK = /https?:\/\/[^\s<>\0]*[^\s<>\0.,:;!?'")\]*_]/iy
const SAFE = /^(https?:\/\/|mailto:)/i
const FENCE = /^ {0,3}(`{3,}|~{3,})/
const HEADING = /^ {0,3}#{1,6}(?:[ \t]+|$)/
const RULE = /^ {0,3}([-*_])(?: *\1){2,} *$/
const QUOTE = /^ {0,3}> ?/
const ITEM = /^( *)(?:[-*+]|(\d{1,9})[.)])(?:[ \t]+|$)/

/** Renders the markdown an assistant writes as Preact nodes; text stays text, only http(s) and mailto links survive. */
export function Markdown({ text }: { text: string }): JSX.Element {
  return <>{blocks(text.split(/\r\n?|\n/), 0)}</>
}

function blocks(lines: string[], depth: number, tight = false): Nodes {
  const out: Nodes = []
  for (let i = 0; i < lines.length; ) {
    const line = lines[i]!
    if (!line.trim()) {
      i++
      continue
    }
    const [node, next] = (opens(line, depth) ?? paragraph)(lines, i, depth, tight)
    out.push(node)
    i = next
  }
  return out
}

/** The parser of the block that a line starts, if it starts one (a paragraph ends there). */
function opens(line: string, depth: number): Block | undefined {
  if (FENCE.test(line)) return fence
  if (HEADING.test(line)) return heading
  // A rule (---) is only a separator here: there is no <hr> in the widget's vocabulary.
  if (RULE.test(line)) return (_, i) => [null, i + 1]
  if (depth < DEPTH && QUOTE.test(line)) return quote
  if (depth < DEPTH && ITEM.test(line)) return list
}

const fence: Block = (lines, i) => {
  const mark = FENCE.exec(lines[i]!)![1]!
  const end = new RegExp(`^ {0,3}${mark[0]}{${mark.length},}\\s*$`)
  let j = i + 1
  // An answer still streaming may not have closed its fence yet: the code runs to the end.
  while (j < lines.length && !end.test(lines[j]!)) j++
  return [<pre><code>{lines.slice(i + 1, j).join('\n')}</code></pre>, j + 1]
}

// No h1-h6: the widget sits inside someone else's page outline.
const heading: Block = (lines, i) => [<p><strong>{inline(lines[i]!.replace(HEADING, '').trim(), true, 0)}</strong></p>, i + 1]

const quote: Block = (lines, i, depth) => {
  let j = i
  while (j < lines.length && QUOTE.test(lines[j]!)) j++
  return [<blockquote>{blocks(lines.slice(i, j).map((l) => l.replace(QUOTE, '')), depth + 1)}</blockquote>, j]
}

const paragraph: Block = (lines, i, depth, tight) => {
  let j = i
  while (++j < lines.length && lines[j]!.trim() && !opens(lines[j]!, depth));
  const kids = inline(lines.slice(i, j).map((l) => l.trim()).join('\n'), true, 0)
  return [tight ? kids : <p>{kids}</p>, j]
}

const list: Block = (lines, i, depth) => {
  const start = ITEM.exec(lines[i]!)![2]
  const items: Nodes = []
  let j = i
  for (let m; j < lines.length && (m = ITEM.exec(lines[j]!)) && !m[2] === !start; ) {
    const body = [lines[j]!.slice(m[0].length)]
    // Lines indented past the marker belong to the item, and so do blank lines before such a line.
    for (let k = ++j; k < lines.length; k++) {
      const l = lines[k]!
      const indent = l.search(/\S/)
      if (indent < 0) continue
      if (indent <= m[1]!.length) break
      body.push(...lines.slice(j, k), l.slice(Math.min(indent, m[0].length)))
      j = k + 1
    }
    items.push(<li>{blocks(body, depth + 1, body.every((l) => l.trim()))}</li>)
    while (j < lines.length && !lines[j]!.trim()) j++
  }
  return [start ? <ol start={+start === 1 ? undefined : +start}>{items}</ol> : <ul>{items}</ul>, j]
}

/**
 * Code spans and backslash escapes bind before anything else: finds them, and returns a copy of the
 * text with them blanked out (NUL) so that the searches for emphasis and link delimiters skip them.
 */
function atoms(s: string): [string, Map<number, Parsed>] {
  const found = new Map<number, Parsed>()
  const unclosed = new Set<number>()
  let mask = ''
  let done = 0
  const keep = (a: number, b: number, node: ComponentChild) => {
    found.set(a, [node, b])
    mask += s.slice(done, a) + '\0'.repeat(b - a)
    done = b
  }
  ATOM.lastIndex = 0
  for (let t; (t = ATOM.exec(s)); ) {
    const [run] = t
    const a = t.index
    if (run[0] === '\\') keep(a, a + 2, run[1])
    // A run length that found no closer once never will further on: this keeps `` ` `` ` `` … linear.
    else if (!unclosed.has(run.length)) {
      TICKS.lastIndex = a + run.length
      let c
      while ((c = TICKS.exec(s)) && c[0] !== run);
      if (!c) unclosed.add(run.length)
      else {
        keep(a, (ATOM.lastIndex = TICKS.lastIndex), <code>{s.slice(a + run.length, c.index)}</code>)
      }
    }
  }
  return [mask + s.slice(done), found]
}

function inline(s: string, links: boolean, depth: number): Nodes {
  const [m, found] = atoms(s)
  const at = (k: number) => m.charAt(k)
  const out: Nodes = []
  const unclosed = new Set<string>()
  const seen: Record<string, number> = {}
  // Each kind of search only moves forward within one call, so its last answer is cached under its key
  // (this keeps [[[[… linear); not found (-1) becomes 2^32-1, past any end.
  const next = (c: string, from: number, key = c) => (seen[key]! >= from ? seen[key]! : (seen[key] = m.indexOf(c, from) >>> 0))
  const anchor = (href: string, kids: ComponentChild) => <a href={href} target="_blank" rel="noopener noreferrer">{kids}</a>

  const emphasis = (i: number, c: string): Parsed | undefined => {
    const d = at(i + 1) === c ? c + c : c
    const n = d.length
    // An opener needs text right after it; past the end, charAt gives '', which fails the same way as a space.
    if (unclosed.has(d) || !at(i + n).trim() || (c === '_' && WORD.test(at(i - 1)))) return
    for (let j = m.indexOf(d, i + n + 1); j > 0; j = m.indexOf(d, j + 1)) {
      const before = at(j - 1)
      const after = at(j + n)
      // A lone * or _ never closes inside a run, and _ never closes inside a word (snake_case_names).
      if (!before.trim() || after === c || (n < 2 && before === c) || (c === '_' && WORD.test(after))) continue
      const Tag = n > 1 ? 'strong' : 'em'
      return [<Tag>{inline(s.slice(i + n, j), links, depth + 1)}</Tag>, j + n]
    }
    unclosed.add(d)
  }

  const link = (i: number): Parsed | undefined => {
    const close = next(']', i)
    if (at(close + 1) !== '(') return
    let end = next(')', close + 2)
    // One level of parentheses inside the URL, as in Wikipedia's Foo_(bar).
    if (s.slice(close + 2, end).includes('(')) end = next(')', end + 1, '))')
    if (at(end) !== ')') return
    // A title ("…") after the URL is dropped.
    const url = s.slice(close + 2, end).trim().replace(/\s.*/s, '')
    const kids = inline(s.slice(i + 1, close), false, depth + 1)
    return [SAFE.test(url) ? anchor(url, kids) : kids, end + 1]
  }

  const autolink = (i: number): Parsed | undefined => {
    AUTOLINK.lastIndex = i
    const url = !WORD.test(at(i - 1)) && AUTOLINK.exec(m)?.[0]
    return url ? [anchor(url, url), i + url.length] : undefined
  }

  const token = (i: number, c: string): Parsed | undefined => {
    if (c === '\n') return [<br />, i + 1]
    if (depth > DEPTH) return
    if (c === '*' || c === '_') return emphasis(i, c)
    if (links && c === '[') return link(i)
    if (links && (c === 'h' || c === 'H')) return autolink(i)
  }

  let text = 0
  for (let i = 0; i < s.length; i++) {
    const t = found.get(i) ?? token(i, at(i))
    if (!t) continue
    if (text < i) out.push(s.slice(text, i))
    out.push(t[0])
    text = t[1]
    i = text - 1
  }
  if (text < s.length) out.push(s.slice(text))
  return out
}
