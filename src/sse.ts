/** One dispatched event: `event` is the event type ("message" when no `event:` field), `data` its data lines joined by "\n". */
export interface SseEvent {
  event: string
  data: string
}

/** A push parser: feed it decoded text in any chunking; it calls onEvent once per complete event, in order. */
export function createSseParser(onEvent: (event: SseEvent) => void): { push(text: string): void } {
  // The unterminated tail of the text so far, and whether that text ended in a CR whose LF may open the next chunk.
  let tail = ''
  let endedInCr = false
  let atStart = true
  // The event being read: its type, and its data lines so far (undefined until one arrives).
  let type = ''
  let data: string | undefined
  const readLine = (line: string) => {
    if (line === '') {
      if (data !== undefined) onEvent({ event: type || 'message', data })
      data = undefined
      type = ''
    } else if (line[0] !== ':') {
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      let value = colon < 0 ? '' : line.slice(colon + 1)
      if (value[0] === ' ') value = value.slice(1)
      if (field === 'data') data = data === undefined ? value : data + '\n' + value
      else if (field === 'event') type = value
    }
  }
  return {
    push(text) {
      if (!text) return // an empty chunk must not forget a pending CR
      if (atStart && text[0] === '\uFEFF') text = text.slice(1)
      if (endedInCr && text[0] === '\n') text = text.slice(1)
      atStart = false
      endedInCr = text.endsWith('\r')
      // Split only the new text, so a long line arriving in tiny chunks stays linear.
      const lines = text.split(/\r\n?|\n/)
      lines[0] = tail + lines[0]
      tail = lines.pop()!
      lines.forEach(readLine)
    },
  }
}

/** Reads an SSE byte stream as events, decoding UTF-8 across chunks and cancelling the stream if the consumer stops early. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader()
  const events: SseEvent[] = []
  const parser = createSseParser((event) => events.push(event))
  // The parser drops the one leading BOM itself; a default decoder would drop a second one too.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true })
  let done = false
  try {
    while (!done) {
      const chunk = await reader.read()
      done = chunk.done
      parser.push(decoder.decode(chunk.value, { stream: !done })) // the last call flushes the decoder
      yield* events.splice(0)
    }
  } finally {
    // Stopped early (break, a bad event, a read error): abort the underlying request. Not awaited: a
    // body tee'd by a service worker or a mock may never settle its cancel, and nothing here needs it.
    if (!done) reader.cancel().catch(() => {})
  }
}
