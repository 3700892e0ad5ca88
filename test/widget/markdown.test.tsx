import { h } from 'preact'
/**
 * The assistant-answer renderer (src/markdown.tsx): the markdown subset chat models write, answers
 * cut off mid-stream, and hostile text, which must come out as inert text and vetted links only.
 */
import fc from 'fast-check'
import { render } from 'preact'
import { describe, expect, it } from 'vitest'
import { createMarkdown } from '../../src/markdown.ts'

const Markdown = createMarkdown(h)

const ALLOWED: Record<string, string[]> = {
  p: [],
  br: [],
  strong: [],
  em: [],
  code: [],
  pre: [],
  ul: [],
  ol: ['start'],
  li: [],
  a: ['href', 'target', 'rel'],
}
const SAFE_HREF = /^(https?:|mailto:)/i

function show(text: string): HTMLDivElement {
  const root = document.createElement('div')
  render(<Markdown text={text} />, root)
  return root
}

const html = (text: string) => show(text).innerHTML

/** Link markup as the renderer writes it. */
const a = (href: string, text: string) => `<a href="${href}" target="_blank" rel="noopener noreferrer">${text}</a>`

/** Fails unless the output holds only allow-listed elements and attributes, and only safe links. */
function expectInert(root: HTMLElement) {
  for (const el of root.querySelectorAll('*')) {
    const tag = el.tagName.toLowerCase()
    expect(Object.keys(ALLOWED), `element <${tag}>`).toContain(tag)
    for (const { name } of el.attributes) expect(ALLOWED[tag], `attribute ${name} on <${tag}>`).toContain(name)
    if (tag === 'a') {
      expect(el.getAttribute('href')).toMatch(SAFE_HREF)
      expect(el.getAttribute('target')).toBe('_blank')
      expect(el.getAttribute('rel')).toBe('noopener noreferrer')
    }
  }
  expect(root.querySelector('script, style, iframe, img, svg')).toBeNull()
}

describe('blocks', () => {
  it.each([
    ['blank lines separate paragraphs', 'one\n\ntwo', '<p>one</p><p>two</p>'],
    ['a single newline inside a paragraph is a line break', 'one\ntwo', '<p>one<br>two</p>'],
    ['CRLF line endings count as newlines', 'one\r\ntwo\r\n\r\nthree', '<p>one<br>two</p><p>three</p>'],
    ['an h1 heading is a bold paragraph', '# Title', '<p><strong>Title</strong></p>'],
    ['an h6 heading is a bold paragraph', '###### Small *print*', '<p><strong>Small <em>print</em></strong></p>'],
    ['seven hashes are not a heading', '####### no', '<p>####### no</p>'],
    ['a hashtag is not a heading', '#hashtag', '<p>#hashtag</p>'],
    ['a heading interrupts a paragraph', 'text\n## Next', '<p>text</p><p><strong>Next</strong></p>'],
    [
      'a backtick fence is a code block and its info string is ignored',
      '```js\nlet a = 1 < 2\n```',
      '<pre><code>let a = 1 &lt; 2</code></pre>',
    ],
    ['a tilde fence is a code block', '~~~\nx\n~~~', '<pre><code>x</code></pre>'],
    [
      'code block content is verbatim',
      '```\n**no** [x](https://a.example) _y_\n\n  # z\n```',
      '<pre><code>**no** [x](https://a.example) _y_\n\n  # z</code></pre>',
    ],
    ['a shorter fence does not close a longer one', '````\n```\n````\nafter', '<pre><code>```</code></pre><p>after</p>'],
    ['a tilde line does not close a backtick fence', '```\n~~~\n```', '<pre><code>~~~</code></pre>'],
    ['a fence interrupts a paragraph', 'run:\n```\nnpm i\n```', '<p>run:</p><pre><code>npm i</code></pre>'],
    ['a fence may be indented up to three spaces', '   ~~~\nx\n   ~~~', '<pre><code>x</code></pre>'],
    ['a closing run with more after it does not close', '```\n``` x\n```', '<pre><code>``` x</code></pre>'],
    ['dashes make an unordered list', '- a\n- b', '<ul><li>a</li><li>b</li></ul>'],
    ['stars make an unordered list', '* a\n* b', '<ul><li>a</li><li>b</li></ul>'],
    ['pluses make an unordered list', '+ a\n+ b', '<ul><li>a</li><li>b</li></ul>'],
    ['an ordered list from 1 has no start', '1. a\n2. b', '<ol><li>a</li><li>b</li></ol>'],
    ['an ordered list keeps a first number other than 1 as start', '3. a\n4. b', '<ol start="3"><li>a</li><li>b</li></ol>'],
    ['a parenthesis also ends an ordered marker', '1) a\n2) b', '<ol><li>a</li><li>b</li></ol>'],
    ['a list interrupts a paragraph', 'Steps:\n- a\n- b', '<p>Steps:</p><ul><li>a</li><li>b</li></ul>'],
    ['an indented continuation line belongs to the item', '- a\n  more\n- b', '<ul><li>a<br>more</li><li>b</li></ul>'],
    ['an unindented line after a list is a new paragraph', '- a\n\nafter', '<ul><li>a</li></ul><p>after</p>'],
    ['blank lines between items keep one list', '1. a\n\n2. b', '<ol><li>a</li><li>b</li></ol>'],
    ['a blank line before an indented line stays in the item, as line breaks', '- a\n\n  b', '<ul><li>a<br><br>b</li></ul>'],
    ['an ordered item after a bullet starts a new list', '- a\n1. b', '<ul><li>a</li></ul><ol><li>b</li></ol>'],
    ['lists have one level: indented markers join their item', '1. a\n   - b\n   - c\n2. d', '<ol><li>a<br>- b<br>- c</li><li>d</li></ol>'],
    ['any indent past the marker joins the item', '10. a\n  - b', '<ol start="10"><li>a<br>- b</li></ol>'],
    ['a list indented as a whole keeps its items apart', ' - a\n - b', '<ul><li>a</li><li>b</li></ul>'],
    [
      'a fence inside an item ends the list, and the next item keeps its number',
      '1. run:\n   ```\n   npm i\n   ```\n2. done',
      '<ol><li>run:</li></ol><pre><code>   npm i</code></pre><ol start="2"><li>done</li></ol>',
    ],
    ['an item can be empty', '- a\n-', '<ul><li>a</li><li></li></ul>'],
    ['emphasis at the start of a line is not a list marker', '*a* b', '<p><em>a</em> b</p>'],
    ['there are no blockquotes: a quote marker is text', '> a\n> b', '<p>&gt; a<br>&gt; b</p>'],
    ['a thematic break only separates (there is no <hr>)', 'a\n\n---\n\nb\n***\nc\n___', '<p>a</p><p>b</p><p>c</p>'],
    ['empty text renders nothing', '', ''],
  ])('%s', (_, text, expected) => {
    expect(html(text)).toBe(expected)
  })

  it('leading and trailing spaces of paragraph lines are dropped', () => {
    expect(html('  one  \n   two')).toBe('<p>one<br>two</p>')
  })

  it('NUL characters are dropped, even next to a code span', () => {
    expect(html('a\0b \0`c`')).toBe('<p>ab <code>c</code></p>')
  })
})

describe('inline', () => {
  it.each([
    ['a code span is verbatim', 'use `a*b*c [x](https://a.example)` now', '<p>use <code>a*b*c [x](https://a.example)</code> now</p>'],
    ['a double-backtick code span may hold a backtick', '``a`b``', '<p><code>a`b</code></p>'],
    ['a code span keeps its spaces', '`` `x` ``', '<p><code> `x` </code></p>'],
    ['a code span may hold a line break, kept as is', '`a\nb`', '<p><code>a\nb</code></p>'],
    ['a backslash inside a code span stays', '`C:\\dir\\`', '<p><code>C:\\dir\\</code></p>'],
    ['double stars are strong', 'a **b** c', '<p>a <strong>b</strong> c</p>'],
    ['double underscores are strong', '__b__', '<p><strong>b</strong></p>'],
    ['a star is emphasis', 'a *b* c', '<p>a <em>b</em> c</p>'],
    ['an underscore is emphasis', 'a _b_ c', '<p>a <em>b</em> c</p>'],
    ['emphasis nests inside strong', '**a *b* c**', '<p><strong>a <em>b</em> c</strong></p>'],
    ['emphasis holds no marker of its own kind, so strong does not nest inside it', '*a **b** c*', '<p>*a <strong>b</strong> c*</p>'],
    ['nor do triple stars make strong emphasis', '***b***', '<p>***b***</p>'],
    [
      'emphasis and strong may meet in one line',
      '**a** *b* __c__ _d_',
      '<p><strong>a</strong> <em>b</em> <strong>c</strong> <em>d</em></p>',
    ],
    ['strong may span a code span', '**run `npm i`**', '<p><strong>run <code>npm i</code></strong></p>'],
    ['a star inside a code span does not close emphasis', '*a `b*` c*', '<p><em>a <code>b*</code> c</em></p>'],
    ['underscores inside words are not emphasis', 'snake_case_names and _x_y', '<p>snake_case_names and _x_y</p>'],
    ['underscores inside non-Latin words are not emphasis either', 'имя_поля_x', '<p>имя_поля_x</p>'],
    ['stars work inside words, as in text without spaces', '中文**粗体**文字', '<p>中文<strong>粗体</strong>文字</p>'],
    ['__dunder__ names are strong', '__init__.py', '<p><strong>init</strong>.py</p>'],
    ['a star between spaces is literal', '2 * 3 * 4', '<p>2 * 3 * 4</p>'],
    ['a stray star before emphasis stays literal', '**a*', '<p>*<em>a</em></p>'],
    ['emphasis may span a line break', '*a\nb*', '<p><em>a<br>b</em></p>'],
    ['a backslash escapes nothing and stays', '\\*a\\* C:\\Users', '<p>\\<em>a\\</em> C:\\Users</p>'],
    ['a link', '[docs](https://x.example/a?b=1&c=2#d)', `<p>${a('https://x.example/a?b=1&amp;c=2#d', 'docs')}</p>`],
    [
      'a link text may hold emphasis and code',
      '[**a** `b`](https://x.example)',
      `<p>${a('https://x.example', '<strong>a</strong> <code>b</code>')}</p>`,
    ],
    ['a link with a title stays literal', '[a](https://x.example "the title")', '<p>[a](https://x.example "the title")</p>'],
    [
      'a link whose URL holds parentheses stays literal',
      '[Foo](https://en.wikipedia.org/wiki/Foo_(bar))',
      '<p>[Foo](https://en.wikipedia.org/wiki/Foo_(bar))</p>',
    ],
    ['a failed link does not hide a later one', '[a](b(c [d](https://x.example)', `<p>[a](b(c ${a('https://x.example', 'd')}</p>`],
    ['a mailto link', '[mail](mailto:a@b.example)', `<p>${a('mailto:a@b.example', 'mail')}</p>`],
    ['the scheme is matched in any case', '[a](HTTPS://X.EXAMPLE)', `<p>${a('HTTPS://X.EXAMPLE', 'a')}</p>`],
    ['spaces around the URL are trimmed', '[a](  https://x.example  )', `<p>${a('https://x.example', 'a')}</p>`],
    [
      'a link text holds no second link',
      '[a [b](https://a.example)](https://b.example)',
      `<p>[a ${a('https://a.example', 'b')}](https://b.example)</p>`,
    ],
    ['a link may sit in strong', '**[a](https://x.example)**', `<p><strong>${a('https://x.example', 'a')}</strong></p>`],
    ['a code span in a link text is whole', '[`a]`](https://x.example)', `<p>${a('https://x.example', '<code>a]</code>')}</p>`],
    ['a bare URL stays text (no autolinks)', 'see https://x.example/a_b', '<p>see https://x.example/a_b</p>'],
  ])('%s', (_, text, expected) => {
    expect(html(text)).toBe(expected)
  })
})

describe('answers still streaming', () => {
  it.each([
    ['an unclosed fence runs to the end', 'Run:\n```sh\nnpm i\nnpm t', '<p>Run:</p><pre><code>npm i\nnpm t</code></pre>'],
    ['a fence marker alone is an empty code block', '```', '<pre><code></code></pre>'],
    ['unclosed strong stays literal', 'a **bol', '<p>a **bol</p>'],
    ['unclosed emphasis stays literal', 'a _ital', '<p>a _ital</p>'],
    ['an unclosed code span stays literal', 'use `npm', '<p>use `npm</p>'],
    ['a link without its URL yet stays literal', '[text](htt', '<p>[text](htt</p>'],
    ['a link without its closing parenthesis stays literal', '[text](https://x.example/pa', '<p>[text](https://x.example/pa</p>'],
    ['an unclosed bold link stays literal around a link', '**[a](https://x.example)', `<p>**${a('https://x.example', 'a')}</p>`],
    ['a link text still open stays literal', '[tex', '<p>[tex</p>'],
    ['a list item just begun is an empty item', '- a\n- ', '<ul><li>a</li><li></li></ul>'],
  ])('%s', (_, text, expected) => {
    expect(html(text)).toBe(expected)
  })

  it('every prefix of an answer renders safely, and the last render equals a fresh one', () => {
    const answer =
      '# Setup\n\nInstall it with `npm i x`, then:\n\n1. Open **the [docs](https://x.example/docs)**\n' +
      '   - read _carefully_\n2. Run:\n   ```sh\n   npx x --init\n   ```\n\n> Note: see https://x.example.'
    const root = document.createElement('div')
    for (let end = 0; end <= answer.length; end++) {
      render(<Markdown text={answer.slice(0, end)} />, root)
      expectInert(root)
    }
    expect(root.innerHTML).toBe(html(answer))
  })
})

describe('links', () => {
  it.each([
    'javascript:void',
    'JaVaScRiPt:void',
    ' javascript:void',
    'javascript:alert`1`',
    'javascript:alert%281%29',
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    '\tjavascript:alert(1)',
    ' javascript:alert(1)',
    'java\tscript:alert(1)',
    'javascript&colon;alert(1)',
    '&#106;avascript:alert(1)',
    '&#x6A;avascript:alert(1)',
    'data:text/html,hi',
    'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
    'vbscript:msgbox(1)',
    'file:///etc/passwd',
    'ftp://x.example',
    '/relative',
    'relative/path',
    '#fragment',
    '//evil.example',
    'https:/one-slash.example',
    '\u200bhttps://x.example',
    'ｈｔｔｐｓ://x.example',
  ])('a link to %j renders no link', (url) => {
    const text = `see [the text](${url}) here`
    const root = show(text)
    expect(root.querySelector('a')).toBeNull()
    // Parentheses in a URL make no link at all, so then the whole source stays text.
    expect(root.textContent).toBe(url.includes('(') ? text : 'see the text here')
  })

  it.each(['http://x.example', 'https://x.example', 'HtTpS://x.example', 'mailto:a@b.example'])(
    'a link to %s is kept, opening in a new tab',
    (url) => {
      const link = show(`[x](${url})`).querySelector('a')!
      expect(link.getAttribute('href')).toBe(url)
      expect(link.getAttribute('target')).toBe('_blank')
      expect(link.getAttribute('rel')).toBe('noopener noreferrer')
    },
  )
})

describe('hostile input', () => {
  const corpus: { name: string; input: string; shows?: string }[] = [
    { name: 'a script tag', input: '<script>alert(1)</script>', shows: '<script>alert(1)</script>' },
    {
      name: 'an upper-case script tag with src',
      input: '<SCRIPT SRC=//evil.example/x.js></SCRIPT>',
      shows: '<SCRIPT SRC=//evil.example/x.js></SCRIPT>',
    },
    { name: 'an img with onerror', input: '<img src=x onerror=alert(1)>', shows: '<img src=x onerror=alert(1)>' },
    { name: 'an svg with onload', input: '<svg onload=alert(1)>', shows: '<svg onload=alert(1)>' },
    { name: 'an svg with a slash', input: '<svg/onload=alert(1)>', shows: '<svg/onload=alert(1)>' },
    { name: 'an iframe', input: '<iframe src="javascript:alert(1)"></iframe>', shows: '<iframe src="javascript:alert(1)"></iframe>' },
    { name: 'a body onload', input: '<body onload=alert(1)>', shows: '<body onload=alert(1)>' },
    {
      name: 'an event handler attribute',
      input: '<div onmouseover="alert(1)">hover</div>',
      shows: '<div onmouseover="alert(1)">hover</div>',
    },
    { name: 'an autofocus onfocus input', input: '<input autofocus onfocus=alert(1)>', shows: '<input autofocus onfocus=alert(1)>' },
    { name: 'a details ontoggle', input: '<details open ontoggle=alert(1)>', shows: '<details open ontoggle=alert(1)>' },
    {
      name: 'a raw anchor to javascript',
      input: '<a href="javascript:alert(1)">click</a>',
      shows: '<a href="javascript:alert(1)">click</a>',
    },
    {
      name: 'a raw anchor with onclick',
      input: '<a href="https://x.example" onclick="alert(1)">x</a>',
      shows: '<a href="https://x.example" onclick="alert(1)">x</a>',
    },
    { name: 'a style tag', input: '<style>body{display:none}</style>', shows: '<style>body{display:none}</style>' },
    {
      name: 'a math xlink',
      input: '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
      shows: '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    },
    { name: 'an HTML comment and CDATA', input: '<!-- x --><![CDATA[<script>]]>', shows: '<!-- x --><![CDATA[<script>]]>' },
    {
      name: 'a split script tag',
      input: '<<script>script>alert(1)<</script>/script>',
      shows: '<<script>script>alert(1)<</script>/script>',
    },
    { name: 'entity-encoded tags', input: '&lt;script&gt;alert(1)&lt;/script&gt;', shows: '&lt;script&gt;alert(1)&lt;/script&gt;' },
    { name: 'numeric entity tags', input: '&#60;img src=x onerror=alert(1)&#62;', shows: '&#60;img src=x onerror=alert(1)&#62;' },
    { name: 'a javascript link', input: '[x](javascript:alert(1))' },
    { name: 'a mixed-case javascript link', input: '[x](JaVaScRiPt:alert(document.cookie))' },
    { name: 'a tab before javascript', input: '[x](\tjavascript:alert(1))' },
    { name: 'a newline inside the scheme', input: '[x](java\nscript:alert(1))' },
    { name: 'an entity-encoded javascript link', input: '[x](&#106;avascript:alert(1))' },
    { name: 'a data: HTML link', input: '[x](data:text/html,<script>alert(1)</script>)' },
    { name: 'a vbscript link', input: '[x](vbscript:msgbox(1))' },
    { name: 'a protocol-relative link', input: '[x](//evil.example)' },
    { name: 'a link title with a handler', input: '[x](https://x.example "t" onclick="alert(1)")' },
    { name: 'a quote breaking out of href', input: '[x](https://x.example/"onmouseover="alert(1))' },
    { name: 'raw HTML as link text', input: '[<img src=x onerror=alert(1)>](https://x.example)', shows: '<img src=x onerror=alert(1)>' },
    { name: 'nested brackets', input: '[[x](javascript:alert(1))](https://x.example)' },
    { name: 'deeply nested brackets', input: '[[[[[x]]]]](javascript:alert(1))[[]](https://x.example)' },
    { name: 'a javascript link inside a code span', input: '`[x](javascript:alert(1))`', shows: '[x](javascript:alert(1))' },
    { name: 'a link trick split by a code span', input: '[x`](javascript:alert(1))`', shows: '](javascript:alert(1))' },
    { name: 'a script inside a fence', input: '```html\n<script>alert(1)</script>\n```', shows: '<script>alert(1)</script>' },
    { name: 'an image to javascript', input: '![x](javascript:alert(1))' },
    { name: 'a bare javascript URL', input: 'javascript:alert(1)', shows: 'javascript:alert(1)' },
    { name: 'a bare URL running into a tag', input: 'https://x.example/"><script>alert(1)</script>', shows: '<script>alert(1)</script>' },
    { name: 'a script in a heading', input: '# <script>alert(1)</script>', shows: '<script>alert(1)</script>' },
    { name: 'a script after a quote marker', input: '> <svg onload=alert(1)>', shows: '<svg onload=alert(1)>' },
    { name: 'an img in a list item', input: '- <img src=x onerror=alert(1)>', shows: '<img src=x onerror=alert(1)>' },
    { name: 'a script in strong', input: '**<script>alert(1)</script>**', shows: '<script>alert(1)</script>' },
    { name: 'full-width javascript', input: '[x](ｊａｖａｓｃｒｉｐｔ:alert(1))' },
    { name: 'a zero-width space before javascript', input: '[x](\u200bjavascript:alert(1))' },
    { name: 'a right-to-left override', input: '\u202e[x](javascript:alert(1))\u202c <script>', shows: '<script>' },
    { name: 'NUL characters', input: '\u0000<script>\u0000[x](java\u0000script:alert(1))', shows: '<script>' },
    { name: 'a very long line', input: '<script>' + 'a'.repeat(100_000) + '[x](javascript:alert(1))', shows: '<script>' },
    { name: 'a mailto link with a script in its query', input: '[x](mailto:a@b.example?body=<script>)' },
  ]

  it.each(corpus)('$name renders inert', ({ input, shows }) => {
    const root = show(input)
    expectInert(root)
    if (shows) expect(root.textContent).toContain(shows)
  })

  it('arbitrary markdown-ish text renders inert and never throws', () => {
    const piece = fc.constantFrom(
      ...'`*_[]()<>#-~>!\\:"\n\n   12.)ab'.split(''),
      '```',
      '**',
      'javascript:',
      'JaVaScRiPt:',
      'http://x',
      'https://y',
      'mailto:z',
      '<script>',
      ' onerror=',
      '&#106;',
    )
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 60 }).map((pieces) => pieces.join('')),
        (text) => {
          expectInert(show(text))
        },
      ),
      { numRuns: 1000 },
    )
  })

  // Raw HTML as an attacker would write it (tags, handlers, URL-bearing attributes, every quoting),
  // wrapped in every markdown construct and next to hostile link URLs.
  const tag = fc.constantFrom(
    'script',
    'img',
    'svg',
    'iframe',
    'a',
    'style',
    'math',
    'object',
    'embed',
    'form',
    'input',
    'details',
    'body',
    'meta',
    'link',
    'base',
    'template',
    'video',
    'button',
    'textarea',
    'noscript',
    'xmp',
    'title',
    'p',
    'strong',
    'code',
    'ol',
    'li',
  )
  const attributeName = fc.constantFrom(
    'onerror',
    'onload',
    'onclick',
    'OnMouseOver',
    'onfocus',
    'ontoggle',
    'href',
    'src',
    'srcdoc',
    'style',
    'formaction',
    'xlink:href',
    'action',
    'data',
    'poster',
    'autofocus',
    'open',
    'target',
    'rel',
    'start',
    'class',
    'id',
    'http-equiv',
  )
  const url = fc.constantFrom(
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    ' javascript:alert(1)',
    'java&#x09;script:alert(1)',
    '&#106;avascript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'vbscript:msgbox(1)',
    '//evil.example',
    'https://x.example',
    'https://x.example/"onmouseover="alert(1)',
    "https://x.example/'onclick='alert(1)",
    'https://x.example/"><img src=x onerror=alert(1)>',
    'https://x.example/<script>',
    'mailto:a@b.example?body=<svg/onload=alert(1)>',
    'HTTPS://X.EXAMPLE/a_b*c*',
    'https://x.example\\"',
  )
  const attributeValue = fc.oneof(
    url,
    fc.constantFrom('alert(1)', 'expression(alert(1))', '"><script>alert(1)</script>', 'x" onerror="alert(1)', "'", '`', ''),
  )
  const quote = fc.constantFrom('"', "'", '', '`')
  const attribute = fc.tuple(attributeName, quote, attributeValue).map(([name, q, value]) => `${name}=${q}${value}${q}`)
  const element = fc
    .tuple(
      tag,
      fc.array(attribute, { maxLength: 3 }),
      fc.constantFrom(' ', '/', '\n'),
      fc.constantFrom('', 'x', 'alert(1)'),
      fc.constantFrom('close', 'self', 'open'),
    )
    .map(([name, attributes, gap, inner, form]) => {
      const open = `<${name}${attributes.map((a) => gap + a).join('')}`
      return form === 'self' ? `${open}/>` : form === 'open' ? `${open}>${inner}` : `${open}>${inner}</${name}>`
    })
  const fragment = fc.oneof(
    element,
    fc.constantFrom('&lt;script&gt;', '&#60;img src=x onerror=alert(1)&#62;', '<!-- x -->', '<![CDATA[<script>]]>', 'text'),
  )
  const hostileBlock = fc
    .tuple(fragment, url, fc.nat())
    .map(
      ([html, href, how]) =>
        [
          html,
          `[${html}](${href})`,
          `[text](${href})`,
          `[text](${href} "t" onclick="alert(1)")`,
          `![${html}](${href})`,
          `<${href}>`,
          `**${html}**`,
          `*${html}* and _${html}_`,
          `# ${html}`,
          `- ${html}\n- [x](${href})`,
          `3. ${html}`,
          `\`${html}\``,
          `\`\`\`\n${html}\n\`\`\``,
          `> ${html}`,
          `**[${html}](${href})**`,
        ][how % 15]!,
    )

  it('renders generated hostile HTML inside any markdown construct inert, linking only to URLs it was given', () => {
    fc.assert(
      fc.property(fc.array(hostileBlock, { minLength: 1, maxLength: 6 }), fc.constantFrom('', ' ', '\n', '\n\n'), (blocks, joint) => {
        const text = blocks.join(joint)
        const root = show(text)
        expectInert(root)
        for (const link of root.querySelectorAll('a')) expect(text).toContain(link.getAttribute('href'))
      }),
      { numRuns: 1000 },
    )
  })

  it('renders any string at all inert and never throws', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        expectInert(show(text))
      }),
      { numRuns: 500 },
    )
  })

  it.each([
    ['stars', 'x' + '*'.repeat(10_000)],
    ['stars between words', 'x ' + '*'.repeat(10_000) + ' y'],
    ['underscores', 'x' + '_'.repeat(10_000)],
    ['stray closers', 'x' + '**a*'.repeat(2_500)],
    ['open brackets', '['.repeat(10_000)],
    ['bracket pairs without a URL', '[a]'.repeat(5_000)],
    ['links never closed', '[a]('.repeat(5_000)],
    ['links with an open parenthesis before a long tail', '[a](x('.repeat(2_000) + ')' + 'y'.repeat(10_000)],
    ['backticks', '`'.repeat(10_000)],
    ['backtick runs of growing length', Array.from({ length: 140 }, (_, n) => '`'.repeat(n + 1)).join(' ')],
    ['strong openers never closed', '**a '.repeat(5_000)],
    ['alternating emphasis markers', '*_'.repeat(5_000)],
    ['quote markers', '>'.repeat(10_000)],
    ['list markers', '- '.repeat(5_000)],
    ['indented list items', Array.from({ length: 2_000 }, (_, n) => ' '.repeat(n % 40) + '- x').join('\n')],
    ['fences', '```\n'.repeat(5_000)],
    ['URLs', 'http://'.repeat(5_000)],
    ['URL punctuation', 'https://x' + '.'.repeat(10_000) + 'a'],
    ['backslashes', '\\'.repeat(10_000)],
    ['newlines', '\n'.repeat(10_000)],
  ])('a pathological run of %s renders', (_, text) => {
    expectInert(show(text))
  })
})
