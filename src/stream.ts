/**
 * Streaming one answer: the request, and its SSE body read to the end. Not needed to open the chat, so
 * it rides with the markdown renderer in the answers' file (src/answers-file.ts), not in the panel.
 */
import type { ChatTurn } from './api.ts'
import type { WidgetError as PanelError } from './errors.ts'
import { readSse } from './sse.ts'

/** The public model name; the server decides which upstream model answers. */
const MODEL = 'assisters-chat-v1'

/**
 * Makes streamChat with the panel's own WidgetError: this code rides in the answers' file
 * (src/answers-file.ts), loaded after the panel, and the panel tells its errors apart by their class.
 */
export function createStreamChat(WidgetError: typeof PanelError) {
  /**
   * Streams one answer from `POST {api}/v1/chat/completions`, yielding text deltas. Throws WidgetError for
   * anything the visitor should hear about, and the AbortError untouched when `signal` aborts.
   */
  return async function* streamChat(api: string, key: string, messages: ChatTurn[], signal: AbortSignal): AsyncGenerator<string> {
    let res: Response
    try {
      res = await fetch(`${api}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages, stream: true }),
        signal,
      })
    } catch (err) {
      // fetch rejects with a TypeError for anything network-level, CORS refusals included.
      throw signal.aborted ? err : new WidgetError('network_error', String(err))
    }
    if (!res.ok || !res.body) throw await WidgetError.fromResponse(res)
    let finished = false
    try {
      for await (const { data } of readSse(res.body)) {
        // Read on to the end of the body after [DONE]: a response left unread is cancelled, which shows in
        // the browser as an aborted request and costs the connection the next question could reuse.
        if (finished || (finished = data === '[DONE]')) continue
        const chunk = JSON.parse(data)
        // The server reports a failure after the headers as a `data: {"error":…}` event.
        if (chunk.error) throw new WidgetError('stream_interrupted', String(chunk.error.message ?? ''))
        const delta = chunk.choices?.[0]?.delta?.content
        if (typeof delta === 'string' && delta) yield delta
      }
    } catch (err) {
      if (signal.aborted || err instanceof WidgetError) throw err
      throw new WidgetError('stream_interrupted', String(err))
    }
    if (finished) return
    // A stream that ends without [DONE] lost its end, even if it closed cleanly.
    throw new WidgetError('stream_interrupted', 'the stream ended without [DONE]')
  }
}
