import { WidgetError } from './errors.ts'
import { readSse } from './sse.ts'

/** The public model name; the server decides which upstream model answers. */
const MODEL = 'assisters-chat-v1'

/** One turn of the conversation as the chat completions API takes it. */
export interface ChatTurn {
  role: 'user' | 'assistant'
  content: string
}

/**
 * Streams one answer from `POST {api}/v1/chat/completions`, yielding text deltas. Throws WidgetError for
 * anything the visitor should hear about, and the AbortError untouched when `signal` aborts.
 */
export async function* streamChat(api: string, key: string, messages: ChatTurn[], signal: AbortSignal): AsyncGenerator<string> {
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

/**
 * Asks `GET {api}/v1/key` whether this key may be used from this page, which spends nothing of its
 * chat limit. Throws the WidgetError of a 401 or 403; anything else (a busy check, a server that
 * cannot tell, no connection) resolves: the chat itself will say what is wrong, if anything is.
 */
export async function checkKey(api: string, key: string, signal: AbortSignal): Promise<void> {
  const res = await fetch(`${api}/v1/key`, { headers: { authorization: `Bearer ${key}` }, signal }).catch(() => null)
  if (res?.status === 401 || res?.status === 403) throw await WidgetError.fromResponse(res)
}
