import type { ComponentChild, FunctionComponent, h as createElement } from 'preact'

type Nodes = ComponentChild[]

/** The renderer of assistants' answers: markdown text in, Preact nodes out. */
export type Markdown = FunctionComponent<{ text: string }>

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

/**
 * Makes the renderer with the panel's own `h()`: the renderer is a file of its own (loaded after the
 * panel, src/answers-file.ts), which must carry no second Preact, whose nodes the panel's could not
 * tell apart. So no JSX here: `h` is a parameter.
 */
export function createMarkdown(h: typeof createElement): Markdown {
  /** Renders the markdown an assistant writes as Preact nodes; text stays text, only http(s) and mailto links survive. */
  function Markdown({ text }: { text: string }) {
    // NUL never belongs in an answer, and inline() uses it to blank out code spans.
    // Split puts each fence's captures between the texts around it: [text, run, character, code, text, …].
    return text
      .replace(/\0/g, '')
      .replace(/\r\n?/g, '\n')
      .split(FENCED)
      .map((part, index) => (index % 4 === 3 ? h('pre', null, h('code', null, part)) : index % 4 ? null : blocks(part)))
  }

  function blocks(text: string): Nodes {
    const lines = text.split('\n')
    const out: Nodes = []
    for (let next = 0, opens; next < lines.length; ) {
      const line = lines[next++]!
      const paragraph = [line.trim()]
      // Match groups: [1] heading marks, [3] list-item indent, [4] an ordered item's number.
      if ((opens = BLOCK.exec(line))?.[1]) {
        // No h1-h6: the widget sits inside someone else's page outline.
        out.push(h('p', null, h('strong', null, inline(line.slice(opens[0].length).trim()))))
      } else if (opens?.[3] !== undefined) {
        const items: Nodes = []
        const firstNumber = opens[4]
        // Items follow each other while they are of the list's kind; reading the line that is not one is undone below.
        for (; opens?.[3] !== undefined && !opens[4] === !firstNumber; opens = BLOCK.exec(lines[next++] ?? '')) {
          const item = [lines[next - 1]!.slice(opens[0].length)]
          // Blank lines, and lines indented past the marker (nested markers too: lists have one level), stay in the item.
          while (next < lines.length && !/\S/.test(lines[next]!.slice(0, opens[3].length + 1))) item.push(lines[next++]!.trim())
          items.push(h('li', null, inline(item.join('\n').trim())))
        }
        next--
        out.push(
          firstNumber ? h('ol', { start: Number(firstNumber) === 1 ? undefined : Number(firstNumber) }, items) : h('ul', null, items),
        )
      } else if (!opens && paragraph[0]) {
        while (lines[next]?.trim() && !BLOCK.test(lines[next]!)) paragraph.push(lines[next++]!.trim())
        out.push(h('p', null, inline(paragraph.join('\n'))))
      }
      // What is left is a blank line or a rule (---), which only separates: there is no <hr> here.
    }
    return out
  }

  /** Inline nodes at nesting `depth`: emphasis and links go one level inside each other at most, so no input can exhaust the stack. */
  function inline(source: string, depth = 0): Nodes {
    // Code spans by where they start; in `masked` each is blanked out with \0 of the same length.
    const codes: string[] = []
    const masked = source.replace(CODE, (span, _run, code, at) => ((codes[at] = code), '\0'.repeat(span.length)))
    const out: Nodes = []
    let textFrom = 0
    for (const token of masked.matchAll(depth > 1 ? /\n|\0+/g : TOKEN)) {
      const [whole, marker, emphasized, linkText, url] = token
      const at = token.index
      // Nested text is read from source, where its code spans are still whole (they have the same length in masked).
      const inner = (from: number, maskedText: string) => inline(source.slice(from, from + maskedText.length), depth + 1)
      out.push(
        source.slice(textFrom, at),
        whole === '\n'
          ? h('br', null)
          : whole[0] === '\0'
            ? h('code', null, codes[at])
            : marker
              ? h(marker[1] ? 'strong' : 'em', null, inner(at + marker.length, emphasized!))
              : url
                ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, inner(at + 1, linkText!))
                : inner(at + 1, linkText!),
      )
      textFrom = at + whole.length
    }
    out.push(source.slice(textFrom))
    return out
  }

  return Markdown
}
