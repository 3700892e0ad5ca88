/**
 * The widget's server-sent-events reader (src/sse.ts): line endings in any chunking, fields,
 * comments, BOM, UTF-8 split across chunks, and cancelling the stream when the consumer stops.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createSseParser, readSse, type SseEvent } from '../../src/sse.ts'

const encode = (text: string) => new TextEncoder().encode(text)

function streamOf(chunks: Uint8Array[], cancel?: (reason: unknown) => void, close = true) {
  return new ReadableStream<Uint8Array>({
    start(c) {
      for (const chunk of chunks) c.enqueue(chunk)
      if (close) c.close()
    },
    cancel,
  })
}

async function collect(chunks: Uint8Array[]) {
  const events: SseEvent[] = []
  for await (const event of readSse(streamOf(chunks))) events.push(event)
  return events
}

/** Feeds already-decoded text chunks to a parser and returns what it dispatched. */
function parse(...texts: string[]) {
  const events: SseEvent[] = []
  const parser = createSseParser((e) => events.push(e))
  for (const text of texts) parser.push(text)
  return events
}

const msg = (data: string, event = 'message'): SseEvent => ({ event, data })

// CRLF, a lone CR, multi-byte UTF-8 (2 and 4 bytes), a comment, multi-line data, and an unterminated tail.
const FIXTURE =
  '\uFEFF: hello\r\nevent: greet\r\ndata: café\r\ndata:🙂 two\r\n\r\n' +
  'data: second\n\n: ping\r\rdata:{"a":1}\r\r' +
  'id: 7\nretry: 10\ndata: tail'
const FIXTURE_EVENTS = [msg('café\n🙂 two', 'greet'), msg('second'), msg('{"a":1}')]

describe('createSseParser', () => {
  it.each<[string, string, SseEvent[]]>([
    ['dispatches a single event', 'data: hi\n\n', [msg('hi')]],
    ['dispatches several events from one chunk in order', 'data: a\n\ndata: b\n\ndata: c\n\n', [msg('a'), msg('b'), msg('c')]],
    ['joins multi-line data with a newline', 'data: a\ndata: b\ndata:\n\n', [msg('a\nb\n')]],
    [
      'uses the event field as the type and resets it after dispatch',
      'event: delta\ndata: a\n\ndata: b\n\n',
      [msg('a', 'delta'), msg('b')],
    ],
    ['treats an empty event field as a message', 'event:\ndata: a\n\n', [msg('a')]],
    ['accepts LF line endings', 'data: a\ndata: b\n\n', [msg('a\nb')]],
    ['accepts CR line endings', 'data: a\rdata: b\r\r', [msg('a\nb')]],
    ['accepts CRLF line endings', 'data: a\r\ndata: b\r\n\r\n', [msg('a\nb')]],
    ['accepts mixed line endings', 'data: a\rdata: b\ndata: c\r\n\n', [msg('a\nb\nc')]],
    ['ignores comment lines', ': ping\ndata: a\n: ping\n\n', [msg('a')]],
    ['dispatches nothing for a stream of comments only', ': ping\n\n: ping\n\n', []],
    ['removes no space after the colon when there is none', 'data:x\n\n', [msg('x')]],
    ['removes one space after the colon', 'data: x\n\n', [msg('x')]],
    ['removes only one of several spaces after the colon', 'data:  x\n\n', [msg(' x')]],
    ['keeps later colons in the value', 'data: a: b\n\n', [msg('a: b')]],
    ['treats a line without a colon as a field with an empty value', 'data\ndata\n\n', [msg('\n')]],
    ['dispatches an empty data field as empty data', 'data:\n\n', [msg('')]],
    ['dispatches nothing for an event without data, and resets its type', 'event: x\n\ndata: a\n\n', [msg('a')]],
    ['ignores id, retry and unknown fields', 'id: 1\nretry: 5\nfoo: bar\ndata: a\n\n', [msg('a')]],
    ['does not treat a field name with a leading space as data', ' data: a\n\ndata: b\n\n', [msg('b')]],
    ['drops a leading BOM', '\uFEFFdata: a\n\n', [msg('a')]],
    ['drops only one leading BOM', '\uFEFF\uFEFFdata: a\n\ndata: b\n\n', [msg('b')]],
    ['does not drop a BOM after the start of the stream', 'data: a\n\n\uFEFFdata: b\n\n', [msg('a')]],
    ['discards a final event without its blank line', 'data: a\n\ndata: b\n', [msg('a')]],
    ['passes [DONE] through as an ordinary event', 'data: {"x":1}\n\ndata: [DONE]\n\n', [msg('{"x":1}'), msg('[DONE]')]],
    [
      'passes an error payload mid-stream through as an ordinary event',
      'data: {"choices":[]}\n\ndata: {"error":{"message":"overloaded","type":"server_error"}}\n\ndata: [DONE]\n\n',
      [msg('{"choices":[]}'), msg('{"error":{"message":"overloaded","type":"server_error"}}'), msg('[DONE]')],
    ],
  ])('%s', (_name, text, expected) => {
    expect(parse(text)).toEqual(expected)
  })

  it.each<[string, string[], SseEvent[]]>([
    [
      'counts CR and LF split across chunks as one line ending',
      ['data: a\r', '\n', 'data: b\r', '\ndata: c\r\n\r', '\n'],
      [msg('a\nb\nc')],
    ],
    ['keeps a pending CR across an empty chunk', ['data: a\r', '', '\n\r', '\n'], [msg('a')]],
    ['counts CR then CRLF as two line endings', ['data: a\r', '\r\n'], [msg('a')]],
    ['waits for the blank line before dispatching', ['data: a\n', '\n'], [msg('a')]],
    ['drops a BOM that arrives alone in the first chunk', ['', '\uFEFF', 'data: a\n\n'], [msg('a')]],
    ['joins a field name and value split across chunks', ['da', 'ta', ':', ' ', 'x', '\n', '\n'], [msg('x')]],
  ])('%s', (_name, texts, expected) => {
    expect(parse(...texts)).toEqual(expected)
  })

  // Buffering splits only new text (linear by construction); no wall-clock bound is asserted here.
  it('assembles a long event fed one character at a time', () => {
    const data = 'x'.repeat(1 << 16)
    const events: SseEvent[] = []
    const parser = createSseParser((e) => events.push(e))
    parser.push('data: ')
    for (let i = 0; i < data.length; i++) parser.push('x')
    parser.push('\n\n')
    expect(events).toHaveLength(1)
    expect(events[0]?.data === data).toBe(true)
  })
})

describe('readSse', () => {
  it('reads the fixture in one chunk', async () => {
    expect(await collect([encode(FIXTURE)])).toEqual(FIXTURE_EVENTS)
  })

  it('reads the fixture split in two at every byte offset', async () => {
    const bytes = encode(FIXTURE)
    for (let i = 0; i <= bytes.length; i++) {
      expect(await collect([bytes.slice(0, i), bytes.slice(i)]), `split at byte ${i}`).toEqual(FIXTURE_EVENTS)
    }
  })

  it('reads the fixture fed one byte per chunk', async () => {
    expect(await collect(Array.from(encode(FIXTURE), (b) => Uint8Array.of(b)))).toEqual(FIXTURE_EVENTS)
  })

  it('drops only one leading BOM, not one in the decoder and another in the parser', async () => {
    expect(await collect([encode('\uFEFF\uFEFFdata: a\n\ndata: b\n\n')])).toEqual([msg('b')])
  })

  it('discards a character truncated at the end of the stream along with its unterminated event', async () => {
    const truncated = encode('data: 🙂\n\ndata: 🙂').slice(0, -1)
    expect(await collect([truncated])).toEqual([msg('🙂')])
  })

  it('yields events that arrived before a read error, then rethrows the error', async () => {
    const failure = new Error('connection reset')
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(encode('data: a\n\n'))
      },
      pull(c) {
        c.error(failure)
      },
    })
    const events: SseEvent[] = []
    await expect(async () => {
      for await (const event of readSse(body)) events.push(event)
    }).rejects.toBe(failure)
    expect(events).toEqual([msg('a')])
  })

  it('cancels the underlying stream when the consumer breaks early', async () => {
    let cancelled = 0
    const body = streamOf([encode('data: a\n\n'), encode('data: b\n\n')], () => void cancelled++, false)
    const events: SseEvent[] = []
    for await (const event of readSse(body)) {
      events.push(event)
      break
    }
    expect(events).toEqual([msg('a')])
    expect(cancelled).toBe(1)
  })

  it('does not cancel a stream it read to the end', async () => {
    let cancelled = 0
    const body = streamOf([encode('data: a\n\n')], () => void cancelled++)
    for await (const event of readSse(body)) expect(event).toEqual(msg('a'))
    expect(cancelled).toBe(0)
  })

  /** The WHATWG event-stream algorithm, read straight from the spec over the whole text at once. */
  function reference(text: string): SseEvent[] {
    const events: SseEvent[] = []
    let type = ''
    let data: string[] | undefined
    const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/)
    lines.pop() // the unterminated tail is never dispatched
    for (const line of lines) {
      if (line === '') {
        if (data) events.push({ event: type || 'message', data: data.join('\n') })
        type = ''
        data = undefined
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon === -1 ? line : line.slice(0, colon)
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'data') (data ??= []).push(value)
      else if (field === 'event') type = value
    }
    return events
  }

  it('agrees with the spec on any mix of fields, bare names, comments and blank lines, in any chunking', async () => {
    const value = fc.string({ unit: fc.constantFrom(':', ' ', 'a', '\uFEFF', 'é', '🙂', '\u0000'), maxLength: 6 })
    const line = fc.oneof(
      fc
        .tuple(
          fc.constantFrom('data', 'event', 'id', 'retry', 'Data', 'data ', ' data', 'eventx', ''),
          fc.constantFrom('', ':', ': ', ':  '),
          value,
        )
        .map(([field, sep, text]) => field + (sep ? sep + text : '')),
      fc.constant(''), // a blank line: dispatch
    )
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.array(line, { maxLength: 16 }),
        fc.infiniteStream(fc.constantFrom('\n', '\r', '\r\n')),
        fc.array(fc.nat(), { maxLength: 16 }),
        async (bom, lines, endings, cuts) => {
          let text = bom ? '\uFEFF' : ''
          for (const each of lines) {
            const ending = endings.next().value
            // A blank line's LF right after a CR would make one CRLF ending of the two.
            text += each + (text.endsWith('\r') && each === '' && ending.startsWith('\n') ? '\r' : ending)
          }
          const bytes = encode(text)
          const points = [0, ...cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b), bytes.length]
          const chunks = points.slice(1).map((end, i) => bytes.slice(points[i], end))
          expect(await collect(chunks)).toEqual(reference(text))
        },
      ),
      { numRuns: 500 },
    )
  })

  it('yields exactly the serialized events for any line endings and any chunking', async () => {
    // Data units lean on the characters that matter: line breaks, colons, spaces, BOM and multi-byte text.
    const unit = fc.oneof(
      fc.constantFrom('\r', '\n', '\r\n', ':', ' ', '\uFEFF', 'é', '🙂'),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    )
    const event = fc.record({
      type: fc.option(fc.string({ unit: 'binary', maxLength: 8 }).map((s) => s.replace(/[\r\n]/g, ''))),
      data: fc.string({ unit, maxLength: 20 }),
      comment: fc.boolean(),
    })
    const eol = fc.constantFrom('\n', '\r', '\r\n')
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { maxLength: 6 }),
        fc.infiniteStream(eol),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (events, endings, bom, cuts) => {
          let text = bom ? '\uFEFF' : ''
          const expected: SseEvent[] = []
          for (const { type, data, comment } of events) {
            const lines = data.split(/\r\n|\r|\n/)
            const fields = [
              ...(comment ? [': keep-alive'] : []),
              ...(type === null ? [] : [`event: ${type}`]),
              ...lines.map((l) => `data: ${l}`),
            ]
            for (const field of fields) text += field + endings.next().value
            // A blank line right after a CR must not end in LF alone: CR LF would read as one line ending.
            const blank = endings.next().value
            text += text.endsWith('\r') && blank === '\n' ? '\r' : blank
            expected.push(msg(lines.join('\n'), type || 'message'))
          }
          const bytes = encode(text)
          const points = [0, ...cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b), bytes.length]
          const chunks = points.slice(1).map((end, i) => bytes.slice(points[i], end))
          expect(await collect(chunks)).toEqual(expected)
        },
      ),
    )
  })
})
