/**
 * The real server driven by the official `openai` package: the contract says any OpenAI client
 * works against it, and that client picks its error class by status and throws on an error frame
 * mid-stream, so our wire format is checked by the code that consumes it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { http, HttpResponse } from 'msw'
import OpenAI from 'openai'
import {
  MODEL,
  UPSTREAM_KEY,
  UPSTREAM_URL,
  completion,
  createUpstreamMock,
  deltaChunk,
  sseEvents,
  startServer,
  usageChunk,
  type TestServer,
} from './harness.ts'

// Node's own fetch, taken before msw patches it: msw tees every response it lets through, and a tee
// branch's cancel() waits for the other branch, so the client's cleanup after [DONE] would never end.
const directFetch = globalThis.fetch
const upstream = createUpstreamMock()
let server: TestServer

beforeAll(async () => {
  upstream.listen()
  server = await startServer()
})
afterEach(() => upstream.mock.resetHandlers())
afterAll(async () => {
  await server.close()
  upstream.mock.close()
})

const clientFor = (apiKey: string, defaultHeaders: Record<string, string> = {}) =>
  new OpenAI({ apiKey, baseURL: server.url + '/v1', maxRetries: 0, timeout: 5000, defaultHeaders, fetch: directFetch })

const question = [{ role: 'user' as const, content: 'Hello' }]

const eventStream = (body: BodyInit) => new HttpResponse(body, { headers: { 'content-type': 'text/event-stream' } })

/** The error a promise rejects with (fails the test if it resolves). */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

describe('the official openai client', () => {
  it('gets a completion', async () => {
    upstream.mock.use(http.post(UPSTREAM_URL, () => HttpResponse.json(completion('Hi from upstream'))))
    const { key } = await server.createKey()
    const answer = await clientFor(key).chat.completions.create({ model: MODEL, messages: question })
    expect(answer.choices[0]?.message.content).toBe('Hi from upstream')
    expect(answer.usage?.total_tokens).toBe(12)
  })

  it('streams an answer it can join from the deltas', async () => {
    upstream.mock.use(
      http.post(UPSTREAM_URL, () =>
        eventStream(sseEvents([deltaChunk('Hel'), deltaChunk('lo, '), deltaChunk('world'), usageChunk(2, 3)])),
      ),
    )
    const { key } = await server.createKey()
    const stream = await clientFor(key).chat.completions.create({ model: MODEL, messages: question, stream: true })
    let text = ''
    let chunks = 0
    for await (const chunk of stream) {
      chunks++
      text += chunk.choices[0]?.delta.content ?? ''
    }
    expect(text).toBe('Hello, world')
    // The usage chunk it did not ask for was dropped.
    expect(chunks).toBe(3)
  })

  it('throws inside the for await loop when the upstream fails mid-stream', async () => {
    upstream.mock.use(
      http.post(UPSTREAM_URL, () =>
        eventStream(
          new ReadableStream({
            start(controller) {
              controller.enqueue(new TextEncoder().encode(sseEvents([deltaChunk('partial')], { done: false })))
              setTimeout(() => controller.error(new Error(`broken; key ${UPSTREAM_KEY}`)), 20)
            },
          }),
        ),
      ),
    )
    const { key } = await server.createKey()
    const stream = await clientFor(key).chat.completions.create({ model: MODEL, messages: question, stream: true })
    const received: string[] = []
    const err = await rejectionOf(
      (async () => {
        for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? '')
      })(),
    )
    expect(received).toEqual(['partial'])
    expect(err).toBeInstanceOf(OpenAI.APIError)
    expect(err).toMatchObject({ code: 'upstream_error', type: 'api_error' })
    expect((err as Error).message).not.toContain(UPSTREAM_KEY)
  })

  it('lists assisters-chat-v1 as the model', async () => {
    const { key } = await server.createKey()
    const ids: string[] = []
    for await (const model of clientFor(key).models.list()) ids.push(model.id)
    expect(ids).toEqual([MODEL])
  })

  it('raises AuthenticationError (401) for an unknown key', async () => {
    const err = await rejectionOf(
      clientFor('ask_' + 'x'.repeat(40)).chat.completions.create({ model: MODEL, messages: question }),
    )
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError)
    expect(err).toMatchObject({ status: 401, code: 'invalid_api_key' })
  })

  it('raises PermissionDeniedError (403) for a key used from an origin it does not allow', async () => {
    upstream.mock.use(http.post(UPSTREAM_URL, () => HttpResponse.json(completion('should not be asked'))))
    const { key } = await server.createKey({ allowed_domains: ['example.com'] })
    const err = await rejectionOf(
      clientFor(key, { origin: 'https://evil.com' }).chat.completions.create({ model: MODEL, messages: question }),
    )
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError)
    expect(err).toMatchObject({ status: 403, code: 'origin_not_allowed' })
    // The same key from its own origin works, so the 403 was about the origin.
    const allowed = await clientFor(key, { origin: 'https://example.com' }).chat.completions.create({ model: MODEL, messages: question })
    expect(allowed.choices[0]?.message.content).toBe('should not be asked')
  })

  it('raises RateLimitError (429) once the key has used its requests for the minute', async () => {
    upstream.mock.use(http.post(UPSTREAM_URL, () => HttpResponse.json(completion('once'))))
    const { key } = await server.createKey({ rate_limit_rpm: 1 })
    const client = clientFor(key)
    await client.chat.completions.create({ model: MODEL, messages: question })
    const err = await rejectionOf(client.chat.completions.create({ model: MODEL, messages: question }))
    expect(err).toBeInstanceOf(OpenAI.RateLimitError)
    expect(err).toMatchObject({ status: 429, code: 'rate_limit_exceeded' })
    expect(Number((err as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after'))).toBeGreaterThanOrEqual(1)
  })
})
