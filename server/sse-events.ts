/**
 * Cuts an upstream byte stream into whole server-sent events, so each can be forwarded the moment
 * it is complete and the relay can read the few it must (usage, errors, `[DONE]`) without parsing
 * the rest.
 */

/** One complete event: its lines as sent (line endings normalised), and its joined `data`. */
export interface RawEvent {
  text: string
  data: string | undefined
}

/** Thrown when an event grows past the splitter's limit without ending. */
export class EventTooLarge extends Error {
  override name = 'EventTooLarge'
}

/**
 * Feeds decoded text in pieces of any size; yields the events each piece completes. An event that
 * grows past `maxEventChars` without ending throws EventTooLarge, so the buffer stays bounded.
 */
export function createEventSplitter(maxEventChars = 1024 * 1024) {
  let buffer = ''
  // The last piece ended with CR: a LF starting the next piece is the rest of that CRLF.
  let pendingCr = false
  return function* push(text: string): Generator<RawEvent> {
    if (!text) return
    if (pendingCr && text.startsWith('\n')) text = text.slice(1)
    pendingCr = text.endsWith('\r')
    // A CR ends its line at once (waiting for a possible LF would hold back an event ending in CR).
    buffer += text.replace(/\r\n?/g, '\n')
    let end: number
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      // A run of three or more line endings leaves blank lines at the front of the next block.
      const block = buffer.slice(0, end).replace(/^\n+/, '')
      buffer = buffer.slice(end + 2)
      if (block) yield toEvent(block)
    }
    if (buffer.length > maxEventChars) throw new EventTooLarge(`an event is longer than ${maxEventChars} characters`)
  }
}

function toEvent(block: string): RawEvent {
  const lines = block.split('\n')
  // A `data` line without a colon is a data field with an empty value (the SSE spec's field parsing).
  const data = lines
    .filter((line) => line === 'data' || line.startsWith('data:'))
    .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
  return { text: block, data: data.length ? data.join('\n') : undefined }
}
