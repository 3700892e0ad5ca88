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
      http.post(UPSTREAM_URL, () => eventStream(sseEvents([deltaChunk('Hel'), deltaChunk('lo, '), deltaChunk('world'), usageChunk(2, 3)]))),
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

  it('retrieves assisters-chat-v1, and gets NotFoundError (404) for another model', async () => {
    const { key } = await server.createKey()
    const client = clientFor(key)
    expect(await client.models.retrieve(MODEL)).toMatchObject({ id: MODEL, object: 'model' })
    const err = await rejectionOf(client.models.retrieve('gpt-4o'))
    expect(err).toBeInstanceOf(OpenAI.NotFoundError)
    expect(err).toMatchObject({ status: 404, code: 'model_not_found' })
  })

  it('runs a tool-calling round trip: streamed tool-call deltas reach it, and the tool result goes back', async () => {
    const toolDelta = (toolCall: Record<string, unknown>) => ({
      ...deltaChunk(''),
      choices: [{ index: 0, delta: { tool_calls: [{ index: 0, ...toolCall }] }, finish_reason: null }],
    })
    const bodies: any[] = []
    upstream.mock.use(
      http.post(UPSTREAM_URL, async ({ request }) => {
        const body = (await request.json()) as any
        bodies.push(body)
        if (body.messages.at(-1).role === 'tool') return HttpResponse.json(completion('It is 21 °C in Paris.'))
        return eventStream(
          sseEvents([
            { ...deltaChunk(''), choices: [{ index: 0, delta: { role: 'assistant', content: null }, finish_reason: null }] },
            toolDelta({ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }),
            toolDelta({ function: { arguments: '{"city":' } }),
            toolDelta({ function: { arguments: '"Paris"}' } }),
            { ...deltaChunk(''), choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
          ]),
        )
      }),
    )
    const { key } = await server.createKey()
    const client = clientFor(key)
    const tools = [
      {
        type: 'function' as const,
        function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
      },
    ]
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'developer', content: 'Use the tools.' },
      { role: 'user', content: 'Weather in Paris?' },
    ]
    // The client's own helper joins the deltas into whole tool calls.
    const stream = client.chat.completions.stream({ model: MODEL, messages, tools, tool_choice: 'auto', parallel_tool_calls: false })
    const called = await stream.finalMessage()
    expect(called.tool_calls).toEqual([
      { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
    ])

    const answer = await client.chat.completions.create({
      model: MODEL,
      messages: [...messages, called, { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' }],
      tools,
    })
    expect(answer.choices[0]?.message.content).toBe('It is 21 °C in Paris.')
    expect(bodies[0].messages[0]).toEqual({ role: 'system', content: 'Use the tools.' })
    expect(bodies[1].messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' })
  })

  it('gets structured output through response_format json_schema', async () => {
    upstream.mock.use(http.post(UPSTREAM_URL, () => HttpResponse.json(completion('{"city":"Paris"}'))))
    const { key } = await server.createKey()
    const answer = await clientFor(key).chat.completions.create({
      model: MODEL,
      messages: question,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'place', schema: { type: 'object', properties: { city: { type: 'string' } } }, strict: true },
      },
      logprobs: true,
      top_logprobs: 2,
    })
    expect(JSON.parse(answer.choices[0]!.message.content!)).toEqual({ city: 'Paris' })
  })

  it('raises AuthenticationError (401) for an unknown key', async () => {
    const err = await rejectionOf(clientFor('ask_' + 'x'.repeat(40)).chat.completions.create({ model: MODEL, messages: question }))
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

  it("raises RateLimitError (429) once one visitor has used its share of the key's minute", async () => {
    upstream.mock.use(http.post(UPSTREAM_URL, () => HttpResponse.json(completion('once'))))
    const { key } = await server.createKey({ allowed_domains: ['example.com'], visitor_rpm: 1 })
    const client = clientFor(key, { origin: 'https://example.com' })
    await client.chat.completions.create({ model: MODEL, messages: question })
    const err = await rejectionOf(client.chat.completions.create({ model: MODEL, messages: question }))
    expect(err).toBeInstanceOf(OpenAI.RateLimitError)
    expect(err).toMatchObject({ status: 429, code: 'visitor_rate_limit_exceeded' })
    expect(Number((err as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after'))).toBeGreaterThanOrEqual(1)
  })

  it("raises BadRequestError (400) naming the message when the key does not accept the client's system messages", async () => {
    const { key } = await server.createKey({ allow_system_messages: false })
    const err = await rejectionOf(
      clientFor(key).chat.completions.create({ model: MODEL, messages: [{ role: 'developer', content: 'Be a pirate.' }, ...question] }),
    )
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect(err).toMatchObject({ status: 400, code: 'invalid_body', param: 'messages[0].role' })
  })

  it.each([
    ['key', 'daily_token_limit_reached'],
    ['account', 'account_daily_token_limit_reached'],
  ])("raises RateLimitError (429) once the %s's daily token budget is used up", async (scope, code) => {
    upstream.mock.use(http.post(UPSTREAM_URL, () => HttpResponse.json(completion('once'))))
    const { key, accountId } = await server.createKey(scope === 'key' ? { daily_token_limit: 1 } : {})
    if (scope === 'account') await server.admin('PATCH', `/admin/accounts/${accountId}`, { daily_token_limit: 1 })
    const client = clientFor(key)
    // The request that crosses the budget completes.
    expect((await client.chat.completions.create({ model: MODEL, messages: question })).choices[0]?.message.content).toBe('once')
    const err = await rejectionOf(client.chat.completions.create({ model: MODEL, messages: question }))
    expect(err).toBeInstanceOf(OpenAI.RateLimitError)
    expect(err).toMatchObject({ status: 429, type: 'rate_limit_error', code })
    const seconds = Number((err as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after'))
    expect(seconds).toBeGreaterThanOrEqual(1)
    expect(seconds).toBeLessThanOrEqual(86_400)
  })
})
