/**
 * The relay's event splitter: whatever way the upstream's bytes are cut into chunks, and whichever
 * line ending it uses, the same whole events come out, each as soon as its blank line arrives.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createEventSplitter, EventTooLarge, type RawEvent } from '../../server/sse-events.ts'

const encoder = new TextEncoder()

/** Feeds `bytes` cut at `cuts` through a streaming decoder, as the relay does; returns all events. */
function splitBytes(bytes: Uint8Array, cuts: number[]): RawEvent[] {
  const push = createEventSplitter()
  const decoder = new TextDecoder()
  const events: RawEvent[] = []
  let start = 0
  for (const cut of [...cuts, bytes.length]) {
    events.push(...push(decoder.decode(bytes.subarray(start, cut), { stream: true })))
    start = cut
  }
  events.push(...push(decoder.decode()))
  return events
}

const splitText = (text: string, cuts: number[] = []) => splitBytes(encoder.encode(text), cuts)

/** Every single cut position in `text`'s bytes, 0 to length. */
const everyCut = (text: string) => Array.from({ length: encoder.encode(text).length + 1 }, (_, at) => at)

const data = (value: string, text = `data: ${value}`): RawEvent => ({ text, data: value })

describe('createEventSplitter', () => {
  it.each([
    ['one event', 'data: {"a":1}\n\n', [data('{"a":1}')]],
    ['two events', 'data: 1\n\ndata: 2\n\n', [data('1'), data('2')]],
    ['[DONE]', 'data: {"a":1}\n\ndata: [DONE]\n\n', [data('{"a":1}'), data('[DONE]')]],
    ['no space after the colon', 'data:x\n\n', [data('x', 'data:x')]],
    ['only the first space dropped', 'data:  x\n\n', [data(' x', 'data:  x')]],
    ['multi-line data joined with \\n', 'data: a\ndata: b\n\n', [{ text: 'data: a\ndata: b', data: 'a\nb' }]],
    ['an event name kept in the text', 'event: error\ndata: {}\n\n', [{ text: 'event: error\ndata: {}', data: '{}' }]],
    ['a comment as an event with no data', ': ping\n\n', [{ text: ': ping', data: undefined }]],
    ['extra blank lines ignored', '\n\ndata: 1\n\n\n\ndata: 2\n\n', [data('1'), data('2')]],
    ['CRLF line endings', 'data: 1\r\n\r\ndata: a\r\ndata: b\r\n\r\n', [data('1'), { text: 'data: a\ndata: b', data: 'a\nb' }]],
    ['lone CR line endings', 'data: 1\r\rdata: a\rdata: b\r\r', [data('1'), { text: 'data: a\ndata: b', data: 'a\nb' }]],
    ['mixed line endings', 'data: 1\r\n\ndata: 2\n\r\n: ping\r\r', [data('1'), data('2'), { text: ': ping', data: undefined }]],
    ['an unfinished event held back', 'data: 1\n\ndata: 2\n', [data('1')]],
    ['a bare data line as empty data', 'event: error\ndata\n\n', [{ text: 'event: error\ndata', data: '' }]],
    ['bare and valued data lines joined', 'data\ndata: x\n\n', [{ text: 'data\ndata: x', data: '\nx' }]],
    ['no blank line kept from a run of three line endings', 'data: 1\n\n\ndata: 2\n\n', [data('1'), data('2')]],
  ])('splits %s', (_case, text, expected) => {
    expect(splitText(text)).toEqual(expected)
  })

  const fixture = 'data: {"content":"héllo 👋"}\r\n\r\n: ping\r\n\r\ndata: a\r\ndata: b\r\n\r\ndata: [DONE]\r\n\r\n'
  const fixtureEvents = [
    data('{"content":"héllo 👋"}'),
    { text: ': ping', data: undefined },
    { text: 'data: a\ndata: b', data: 'a\nb' },
    data('[DONE]'),
  ]

  it.each(everyCut(fixture))('gives the same events when the bytes are cut at %i (mid-line, mid-CRLF, mid-character)', (cut) => {
    expect(splitBytes(encoder.encode(fixture), [cut])).toEqual(fixtureEvents)
  })

  it('gives the same events when every byte arrives on its own', () => {
    const bytes = encoder.encode(fixture)
    expect(splitBytes(bytes, everyCut(fixture).slice(1, -1))).toEqual(fixtureEvents)
  })

  it('reads a CRLF split between chunks as one line ending, not two', () => {
    const push = createEventSplitter()
    expect([...push('data: a\r')]).toEqual([])
    expect([...push('\ndata: b\r\n\r')]).toEqual([{ text: 'data: a\ndata: b', data: 'a\nb' }])
    expect([...push('\ndata: c\r\n\r\n')]).toEqual([data('c')])
  })

  it('yields an event the moment its blank line arrives, even one ending in a lone CR', () => {
    const push = createEventSplitter()
    expect([...push('data: 1\n')]).toEqual([])
    expect([...push('\n')]).toEqual([data('1')])
    expect([...push('data: 2\r\r')]).toEqual([data('2')])
    // A LF after that CR belongs to it, so it must not end a further (empty) event or swallow text.
    expect([...push('\ndata: 3\r')]).toEqual([])
    expect([...push('\r')]).toEqual([data('3')])
  })

  // Field values without line breaks; comments are any text after ':'.
  const value = fc.string({ unit: 'grapheme', maxLength: 12 }).filter((text) => !/[\r\n]/.test(text))
  const event = fc.oneof(
    fc.array(value, { minLength: 1, maxLength: 3 }).map((lines) => ({ kind: 'data' as const, lines })),
    value.map((comment) => ({ kind: 'comment' as const, lines: [comment] })),
  )
  const lineEnding = fc.constantFrom('\n', '\r\n', '\r')

  it('gives the same events for any chunking of any stream (property)', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 6 }), lineEnding, fc.array(fc.nat(), { maxLength: 8 }), (events, eol, rawCuts) => {
        const text = events
          .map((each) => (each.kind === 'data' ? each.lines.map((line) => `data: ${line}`) : [`:${each.lines[0]}`]).join(eol) + eol + eol)
          .join('')
        const bytes = encoder.encode(text)
        const cuts = [...new Set(rawCuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b)
        const expected = events.map((each) =>
          each.kind === 'data'
            ? { text: each.lines.map((line) => `data: ${line}`).join('\n'), data: each.lines.join('\n') }
            : { text: `:${each.lines[0]}`, data: undefined },
        )
        expect(splitBytes(bytes, cuts)).toEqual(expected)
      }),
      { numRuns: 500 },
    )
  })
})

describe('createEventSplitter against hostile streams (property)', () => {
  // Any text but a line break, leaning on what a parser trips over: colons, leading spaces, BOMs, multi-byte characters.
  const value = fc
    .string({
      unit: fc.oneof(fc.constantFrom(':', ' ', '\uFEFF', 'é', '🙂', '{', '"'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })),
      maxLength: 10,
    })
    .map((text) => text.replace(/[\r\n]/g, ''))
  const line = fc.oneof(
    fc.record({ field: fc.constant('data'), sep: fc.constantFrom(':', ': ', ':  '), value }),
    fc.record({ field: fc.constantFrom('event', 'id', 'retry', 'x-other'), sep: fc.constantFrom(':', ': '), value }),
    fc.record({ field: fc.constant(''), sep: fc.constant(':'), value }), // a comment
  )
  const event = fc.array(line, { minLength: 1, maxLength: 4 })
  const eol = fc.constantFrom('\n', '\r\n', '\r')

  it('gives the same events, with the right data, for any fields, blank-line runs, line endings and chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(event, fc.integer({ min: 1, max: 4 })), { maxLength: 6 }),
        fc.infiniteStream(eol),
        fc.array(fc.nat(), { maxLength: 24 }),
        (events, endings, rawCuts) => {
          let text = ''
          // A LF right after a CR would join it as one CRLF line ending, and so swallow a blank line.
          const end = () => {
            const ending = endings.next().value
            text += text.endsWith('\r') && ending.startsWith('\n') ? '\r' : ending
          }
          for (const [lines, blanks] of events) {
            for (const { field, sep, value } of lines) {
              text += field + sep + value
              end()
            }
            for (let i = 0; i < blanks; i++) end()
          }
          const expected = events.map(([lines]) => {
            const data = lines.filter((l) => l.field === 'data').map((l) => (l.sep.slice(1) + l.value).replace(/^ /, ''))
            return { text: lines.map((l) => l.field + l.sep + l.value).join('\n'), data: data.length ? data.join('\n') : undefined }
          })
          const bytes = encoder.encode(text)
          const cuts = [...new Set(rawCuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b)
          const whole = splitBytes(bytes, [])
          const chunked = splitBytes(bytes, cuts)
          expect(chunked).toEqual(whole)
          expect(chunked).toEqual(expected)
        },
      ),
      { numRuns: 1000 },
    )
  })
})

describe('the event size limit', () => {
  it('throws EventTooLarge once an unfinished event outgrows the limit, and not before', () => {
    const push = createEventSplitter(10)
    expect([...push('data: 123')]).toEqual([])
    expect(() => [...push('4567')]).toThrow(EventTooLarge)
  })

  it('does not count completed events against the limit', () => {
    const push = createEventSplitter(10)
    expect([...push('data: 1\n\ndata: 2\n\ndata: 3\n\n')]).toHaveLength(3)
  })
})
