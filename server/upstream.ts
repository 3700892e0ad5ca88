/**
 * Where answers come from: an OpenAI-compatible server, or the built-in offline demo responder.
 * Both answer with a status and a body of bytes, so the relay treats them the same.
 */
import http from 'node:http'
import https from 'node:https'
import { pipeline, type Transform } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { urlToHttpOptions } from 'node:url'
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib'
import type { Config } from './config.ts'
import { PUBLIC_MODEL } from './chat-request.ts'

/** An upstream's answer: its status and its body, piece by piece as it arrives. */
export interface UpstreamAnswer {
  status: number
  /** As the upstream declared it; undefined when it declared none. */
  contentType?: string
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>
}

export interface Upstream {
  /** Sends a chat request (no model field; the upstream decides it); resolves at the headers, rejects when aborted. */
  send(body: Record<string, unknown>, signal: AbortSignal): Promise<UpstreamAnswer>
  /** Lets go of pooled connections. */
  close(): void
}

const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
}

/**
 * The configured OpenAI-compatible server: `POST {baseUrl}/chat/completions` over node:http with
 * a keep-alive pool. (fetch costs several times more CPU per request here, for nothing we use.)
 */
export function createHttpUpstream(upstream: NonNullable<Config['upstream']>): Upstream {
  const url = new URL(`${upstream.baseUrl}/chat/completions`)
  const client = url.protocol === 'https:' ? https : http
  const agent = new client.Agent({ keepAlive: true })
  // Worked out once, not parsed back out of the URL on every request.
  const target = { ...urlToHttpOptions(url), method: 'POST', agent }
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    // Compression would only delay events; a server that compresses anyway is still decoded below.
    'accept-encoding': 'identity',
  }
  if (upstream.apiKey) headers.authorization = `Bearer ${upstream.apiKey}`

  return {
    send: (body, signal) =>
      new Promise((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason)
        const payload = JSON.stringify({ ...body, model: upstream.model })
        const attempt = (mayRetry: boolean) => {
          let answered = false
          const request = client.request(
            { ...target, headers: { ...headers, 'content-length': Buffer.byteLength(payload) } },
            (response) => {
              answered = true
              const decode = DECODERS[String(response.headers['content-encoding']).toLowerCase()]
              // pipeline, not pipe: pipe passes no error on, so a reset, a timeout or a visitor leaving
              // (each destroys `response`) left the decoder's reader, the relay, waiting forever. The error
              // reaches that reader through the decoder, so the callback has nothing left to do.
              const body = decode ? pipeline(response, decode(), () => {}) : response
              resolve({ status: response.statusCode ?? 502, contentType: response.headers['content-type'], body })
            },
          )
          // By hand rather than the `signal` option, which also sets up a stream-end watcher per request:
          // one listener, removed when the request closes, is all the relay needs.
          const abort = () => request.destroy(signal.reason)
          signal.addEventListener('abort', abort, { once: true })
          request.once('close', () => signal.removeEventListener('abort', abort))
          request.on('error', (err: NodeJS.ErrnoException) => {
            // A pooled connection the upstream closed as this request went out (its keep-alive timeout
            // ran out just then) never reached it: once, on a new connection (node:http's documented way).
            if (mayRetry && !answered && request.reusedSocket && err.code === 'ECONNRESET' && !signal.aborted) attempt(false)
            else reject(err)
          })
          request.end(payload)
        }
        attempt(true)
      }),
    close: () => agent.destroy(),
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
  const encoder = new TextEncoder()
  return {
    async send(body, signal) {
      signal.throwIfAborted()
      const question = lastUserText(body.messages).slice(0, 200)
      const answer = DEMO_ANSWER + (question ? `“${question}”` : '(nothing)')
      const id = `chatcmpl-demo-${Date.now().toString(36)}`
      const created = Math.floor(Date.now() / 1000)
      const usage = { prompt_tokens: countWords(allText(body.messages)), completion_tokens: countWords(answer) }
      const withTotal = { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens }

      if (body.stream !== true) {
        const completion = {
          id,
          object: 'chat.completion',
          created,
          model: PUBLIC_MODEL,
          choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }],
          usage: withTotal,
        }
        return { status: 200, body: [encoder.encode(JSON.stringify(completion))] }
      }
      const chunk = (choices: unknown[], extra: object = {}) =>
        encoder.encode(
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: PUBLIC_MODEL, choices, ...extra })}\n\n`,
        )
      async function* events() {
        yield chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }])
        for (const word of answer.split(/(?<= )/)) {
          await sleep(wordDelayMs, undefined, { signal })
          yield chunk([{ index: 0, delta: { content: word }, finish_reason: null }])
        }
        yield chunk([{ index: 0, delta: {}, finish_reason: 'stop' }])
        yield chunk([], { usage: withTotal })
        yield encoder.encode('data: [DONE]\n\n')
      }
      return { status: 200, body: events() }
    },
    close() {},
  }
}

type Message = { role: string; content: string }
const messagesOf = (messages: unknown) => (Array.isArray(messages) ? (messages as Message[]) : [])
const lastUserText = (messages: unknown) =>
  messagesOf(messages)
    .findLast((message) => message.role === 'user')
    ?.content.trim() ?? ''
const allText = (messages: unknown) =>
  messagesOf(messages)
    .map((message) => message.content)
    .join(' ')

const countWords = (text: string) => text.split(/\s+/).filter(Boolean).length
