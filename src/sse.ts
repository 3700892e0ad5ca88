/** One dispatched event: `event` is the event type ("message" when no `event:` field), `data` its data lines joined by "\n". */
export interface SseEvent { event: string; data: string }

/** A push parser: feed it decoded text in any chunking; it calls onEvent once per complete event, in order. */
export function createSseParser(onEvent: (event: SseEvent) => void): { push(text: string): void } {
  // `buf` holds the unterminated tail; `cr` says the last chunk ended in CR, whose LF may open the next.
  let buf = '', type = '', data: string | undefined, cr = false, start = true
  const line = (l: string) => {
    if (!l) {
      if (data != null) onEvent({ event: type || 'message', data })
      data = undefined
      type = ''
    } else if (l[0] != ':') {
      const c = l.indexOf(':'), f = c < 0 ? l : l.slice(0, c)
      let v = c < 0 ? '' : l.slice(c + 1)
      if (v[0] == ' ') v = v.slice(1)
      if (f == 'data') data = data == null ? v : data + '\n' + v
      else if (f == 'event') type = v
    }
  }
  return {
    push(text) {
      if (!text) return // an empty chunk must not forget a pending CR
      if (start && text[0] == '\uFEFF') text = text.slice(1)
      if (cr && text[0] == '\n') text = text.slice(1)
      start = false
      cr = text.endsWith('\r')
      // Split only the new text, so a long line arriving in tiny chunks stays linear.
      const lines = text.split(/\r\n?|\n/)
      lines[0] = buf + lines[0]
      buf = lines.pop()!
      lines.forEach(line)
    },
  }
}

/** Reads an SSE byte stream as events, decoding UTF-8 across chunks and cancelling the stream if the consumer stops early. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader(), out: SseEvent[] = [], parser = createSseParser((e) => out.push(e))
  // The parser drops the one leading BOM itself; a default decoder would drop a second one too.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true })
  let done = false
  try {
    while (!done) {
      const r = await reader.read()
      done = r.done
      parser.push(decoder.decode(r.value, { stream: !done })) // the last call flushes the decoder
      yield* out.splice(0)
    }
  } finally {
    // Stopped early (break, a bad event, a read error): abort the underlying request. Not awaited: a
    // body tee'd by a service worker or a mock may never settle its cancel, and nothing here needs it.
    if (!done) reader.cancel().catch(() => {})
  }
}
