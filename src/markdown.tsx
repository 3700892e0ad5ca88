import { h, type ComponentChild } from 'preact'

type Nodes = ComponentChild[]

// A fence: its run (1) of one character (2), then the code (3) up to a run at least as long, or to the end while the answer streams.
const FENCED = /^ {0,3}(([`~])\2\2+).*\n?([^]*?)(?:\n {0,3}\1\2*[ \t]*$|(?![^]))/m
// What else a line opens: 1 a heading, 2 a rule, 3 a list item (its indent), 4 an ordered one (its number).
const BLOCK = /^ {0,3}(?:(#{1,6})|([-*_])\2\2+ *$)(?!\S)|^( *)(?:[-*+]|(\d+)[.)])(?!\S)/
// A backtick run, then anything up to a run of exactly its length; the lookarounds keep runs whole.
const CODE = /(?<!`)(`+)(?!`)([^]*?[^`])\1(?!`)/g
// Inline tokens, in text whose code spans are blanked out (\0): a line break; a code span; emphasis (1) around
// text (2) that does not hold the same marker again, so that each search stops at the next one; a link, whose
// text (3) has no brackets and URL no spaces or parentheses, with that URL (4) only if safe. An _ inside a word
// (snake_case_names) neither opens nor closes.
const TOKEN =
  /\n|\0+|(\*\*?|(?<![\p{L}\p{N}])__?)(?=\S)((?:(?!\1)[^])*?[^\s*_])\1(?![*_]|(?<=_)[\p{L}\p{N}])|\[([^[\]]*)\]\(\s*(?:((?:https?:\/\/|mailto:)[^\s()\0]*)|[^\s()]*)\s*\)/giu

/** Renders the markdown an assistant writes as Preact nodes; text stays text, only http(s) and mailto links survive. */
export function Markdown({ text }: { text: string }) {
  // NUL never belongs in an answer, and inline() uses it to blank out code spans.
  // Split puts each fence's captures between the texts around it: [text, run, character, code, text, …].
  return text
    .replace(/\0/g, '')
    .replace(/\r\n?/g, '\n')
    .split(FENCED)
    .map((part, k) => (k % 4 == 3 ? <pre><code>{part}</code></pre> : k % 4 ? null : blocks(part)))
}

function blocks(text: string): Nodes {
  const lines = text.split('\n')
  const out: Nodes = []
  for (let i = 0, r; i < lines.length; ) {
    const line = lines[i++]!
    const body = [line.trim()]
    if ((r = BLOCK.exec(line))?.[1]) {
      // No h1-h6: the widget sits inside someone else's page outline.
      out.push(<p><strong>{inline(line.slice(r[0].length).trim())}</strong></p>)
    } else if (r?.[3] != null) {
      const items: Nodes = []
      const start = r[4]
      // Items follow each other while they are of the list's kind; reading the line that is not one is undone below.
      for (; r?.[3] != null && !r[4] == !start; r = BLOCK.exec(lines[i++] ?? '')) {
        const item = [lines[i - 1]!.slice(r[0].length)]
        // Blank lines, and lines indented past the marker (nested markers too: lists have one level), stay in the item.
        while (i < lines.length && !/\S/.test(lines[i]!.slice(0, r[3].length + 1))) item.push(lines[i++]!.trim())
        items.push(<li>{inline(item.join('\n').trim())}</li>)
      }
      i--
      out.push(start ? <ol start={+start == 1 ? undefined : +start}>{items}</ol> : <ul>{items}</ul>)
    } else if (!r && body[0]) {
      while (lines[i]?.trim() && !BLOCK.test(lines[i]!)) body.push(lines[i++]!.trim())
      out.push(<p>{inline(body.join('\n'))}</p>)
    }
    // What is left is a blank line or a rule (---), which only separates: there is no <hr> here.
  }
  return out
}

/** Inline nodes at nesting depth `d`: emphasis and links go one level inside each other at most, so no input can exhaust the stack. */
function inline(s: string, d = 0): Nodes {
  const codes: string[] = []
  const m = s.replace(CODE, (x, _, code, at) => ((codes[at] = code), '\0'.repeat(x.length)))
  const out: Nodes = []
  let text = 0
  for (const x of m.matchAll(d > 1 ? /\n|\0+/g : TOKEN)) {
    const [t, e, em, link, url] = x
    const i = x.index
    // Nested text is read from s, where its code spans are still whole (they have the same length in m).
    const inner = (from: number, masked: string) => inline(s.slice(from, from + masked.length), d + 1)
    out.push(
      s.slice(text, i),
      t == '\n'
        ? <br />
        : t[0] == '\0'
          ? <code>{codes[i]}</code>
          : e
            ? h(e[1] ? 'strong' : 'em', null, inner(i + e.length, em!))
            : url
              ? <a href={url} target="_blank" rel="noopener noreferrer">{inner(i + 1, link!)}</a>
              : inner(i + 1, link!),
    )
    text = i + t.length
  }
  out.push(s.slice(text))
  return out
}
