/**
 * Where answers come from: an OpenAI-compatible server, or the built-in offline demo responder.
 * Both answer with a web Response, so the relay treats them the same.
 */
import type { Config } from './config.ts'
import { PUBLIC_MODEL } from './chat-request.ts'

export interface Upstream {
  /** Sends a chat request (no model field; the upstream decides it) and resolves at the headers. */
  send(body: Record<string, unknown>, signal: AbortSignal): Promise<Response>
}

/** The configured OpenAI-compatible server: `POST {baseUrl}/chat/completions`. */
export function createHttpUpstream(upstream: NonNullable<Config['upstream']>): Upstream {
  const url = `${upstream.baseUrl}/chat/completions`
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
  if (upstream.apiKey) headers.authorization = `Bearer ${upstream.apiKey}`
  return {
    send: (body, signal) =>
      fetch(url, { method: 'POST', headers, body: JSON.stringify({ ...body, model: upstream.model }), signal }),
  }
}

const DEMO_ANSWER =
  "Hello! I'm the **Assisters demo responder**, a built-in offline stand-in, not a real model. " +
  'Set `UPSTREAM_BASE_URL` and `UPSTREAM_MODEL` on the server to chat with a real one. ' +
  'You asked: '

/**
 * The offline demo responder: streams a short, clearly labelled answer word by word (or answers
 * in one piece), in the exact chunk format of an OpenAI-compatible server.
 */
export function createDemoUpstream(options: { wordDelayMs?: number } = {}): Upstream {
  const wordDelayMs = options.wordDelayMs ?? 40
  return {
    async send(body, signal) {
      const question = lastUserText(body.messages).slice(0, 200)
      const answer = DEMO_ANSWER + (question ? `“${question}”` : '(nothing)')
      const id = `chatcmpl-demo-${Date.now().toString(36)}`
      const created = Math.floor(Date.now() / 1000)
      const usage = { prompt_tokens: countWords(allText(body.messages)), completion_tokens: countWords(answer) }
      const withTotal = { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens }

      if (body.stream !== true) {
        return Response.json({
          id, object: 'chat.completion', created, model: PUBLIC_MODEL,
          choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }],
          usage: withTotal,
        })
      }
      const chunk = (choices: unknown[], extra: object = {}) =>
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: PUBLIC_MODEL, choices, ...extra })}\n\n`
      const words = answer.split(/(?<= )/)
      const encoder = new TextEncoder()
      const stream = new ReadableStream<Uint8Array>({
        async start(controller) {
          const send = (text: string) => controller.enqueue(encoder.encode(text))
          send(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]))
          for (const word of words) {
            if (signal.aborted) return controller.error(signal.reason)
            await new Promise((resolve) => setTimeout(resolve, wordDelayMs))
            send(chunk([{ index: 0, delta: { content: word }, finish_reason: null }]))
          }
          send(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]))
          send(chunk([], { usage: withTotal }))
          send('data: [DONE]\n\n')
          controller.close()
        },
      })
      return new Response(stream, { headers: { 'content-type': 'text/event-stream' } })
    },
  }
}

type Message = { role: string; content: string }
const messagesOf = (messages: unknown) => (Array.isArray(messages) ? (messages as Message[]) : [])
const lastUserText = (messages: unknown) =>
  messagesOf(messages).findLast((message) => message.role === 'user')?.content.trim() ?? ''
const allText = (messages: unknown) => messagesOf(messages).map((message) => message.content).join(' ')

const countWords = (text: string) => text.split(/\s+/).filter(Boolean).length
