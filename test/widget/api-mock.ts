import { http, HttpResponse } from 'msw'
import { setupServer } from 'msw/node'
import type { ChatTurn } from '../../src/api.ts'

/** msw stands in for the Assisters server here: the widget alone is under test. */
export const API = 'https://api.assisters.test'
export const CHAT_URL = `${API}/v1/chat/completions`
export const KEY = 'ask_' + 'Wd9'.repeat(12) + 'Ab12Cd'

export const KEY_URL = `${API}/v1/key`

/** By default the key and the page's origin are accepted (GET /v1/key, which the panel asks on opening). */
export const server = setupServer(http.get(KEY_URL, () => HttpResponse.json({ ok: true })))

const encoder = new TextEncoder()

/** One OpenAI chat.completion.chunk event carrying `content`. */
export const delta = (content: string) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', model: 'assisters-chat-v1', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`
export const DONE = 'data: [DONE]\n\n'

/** A text/event-stream response whose body is exactly these chunks. */
export function sseResponse(...chunks: string[]): Response {
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk))
      controller.close()
    },
  })
  return new HttpResponse(stream, { headers: { 'content-type': 'text/event-stream' } })
}

/** A stream the test writes to as it goes, to watch the widget mid-answer. */
export function controlledStream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>
  let cancelled = false
  const stream = new ReadableStream<Uint8Array>({
    start: (c) => void (controller = c),
    cancel: () => void (cancelled = true),
  })
  return {
    /** The response for `request`; its abort errors the body, as a browser's fetch does (msw's does not). */
    response: (request?: Request) => {
      request?.signal.addEventListener('abort', () => controller.error(new DOMException('aborted', 'AbortError')))
      return new HttpResponse(stream, { headers: { 'content-type': 'text/event-stream' } })
    },
    push: (text: string) => controller.enqueue(encoder.encode(text)),
    end: () => controller.close(),
    fail: () => controller.error(new TypeError('network error')),
    get cancelled() {
      return cancelled
    },
  }
}

/** The contract's error body for `status`. */
export function errorResponse(status: number, code: string, message: string, headers: Record<string, string> = {}) {
  return HttpResponse.json(
    { error: { message, type: status === 429 ? 'rate_limit_error' : 'invalid_request_error', code } },
    { status, headers },
  )
}

/** What the widget sent: headers and parsed body of each chat request, in order. */
export function recordRequests() {
  const seen: {
    authorization: string | null
    contentType: string | null
    body: { model: string; stream: boolean; messages: ChatTurn[] }
  }[] = []
  server.events.on('request:start', async ({ request }) => {
    if (request.url !== CHAT_URL) return
    seen.push({
      authorization: request.headers.get('authorization'),
      contentType: request.headers.get('content-type'),
      body: await request.clone().json(),
    })
  })
  return seen
}

/** Answers every chat request with `respond`. */
export function onChat(respond: (request: Request) => Response | Promise<Response>) {
  server.use(http.post(CHAT_URL, ({ request }) => respond(request)))
}
