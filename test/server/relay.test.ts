/**
 * The relay over a real socket: streams pass through event by event, usage is counted, silence is
 * pinged, upstream failures become our own errors (mid-stream too), a visitor who leaves aborts the
 * upstream, and the offline demo responder answers when no upstream is configured.
 */
import { gzipSync } from 'node:zlib'
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { delay, http, HttpResponse } from 'msw'
import {
  MODEL,
  UPSTREAM_KEY,
  UPSTREAM_URL,
  completion,
  createUpstreamMock,
  deferred,
  deltaChunk,
  eventData,
  eventReader,
  sseEvents,
  startServer,
  usageChunk,
  within,
  type TestServer,
} from './harness.ts'
import { startUpstreamDouble } from '../support/upstream-double.ts'
import { sleep } from '../support/sleep.ts'

const upstream = createUpstreamMock()
const encoder = new TextEncoder()
// Every server this file starts, so the last test can read all their logs.
const started: TestServer[] = []
let server: TestServer
let key: string

async function start(...args: Parameters<typeof startServer>) {
  const each = await startServer(...args)
  started.push(each)
  return each
}

beforeAll(async () => {
  upstream.listen()
  server = await start()
  key = (await server.createKey()).key
})
afterEach(() => upstream.mock.resetHandlers())
afterAll(async () => {
  await Promise.all(started.map((each) => each.close()))
  upstream.mock.close()
})

/** One upstream `data:` event as bytes. */
const frame = (chunk: unknown) => encoder.encode(`data: ${typeof chunk === 'string' ? chunk : JSON.stringify(chunk)}\n\n`)
const DONE = encoder.encode('data: [DONE]\n\n')

/** An upstream event-stream answer. */
const eventStream = (body: BodyInit, headers: Record<string, string> = {}) =>
  new HttpResponse(body, { headers: { 'content-type': 'text/event-stream', ...headers } })

/**
 * An upstream body driven by `script`, which may wait on the test. (Its cancel() is never observable:
 * msw tees mocked bodies, so the relay's abort is seen on the request's signal instead.)
 */
function scriptedStream(script: (controller: ReadableStreamDefaultController<Uint8Array>) => Promise<void>) {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      // Not awaited: start() must return so the first events can be read while the script waits.
      script(controller).catch(() => {})
    },
  })
}

/**
 * A real upstream on a loopback socket that sends one event, then falls silent; `aborted` resolves
 * when the relay drops the connection. (msw cannot show an abort: it keeps its mocked answer going.)
 */
async function silentSocketUpstream(firstContent: string) {
  const aborted = deferred()
  const double = await startUpstreamDouble((request, response) => {
    request.resume()
    response.writeHead(200, { 'content-type': 'text/event-stream' })
    response.write(sseEvents([deltaChunk(firstContent)], { done: false }))
    response.on('close', () => aborted.resolve())
  })
  onTestFinished(() => double.close())
  return { baseUrl: double.baseUrl, aborted: aborted.promise }
}

const streamRequest = (extra: Record<string, unknown> = {}) => ({
  model: MODEL,
  stream: true,
  messages: [{ role: 'user', content: 'Hello' }],
  ...extra,
})

const contentOf = (event: string | undefined) => eventData(event).choices[0].delta.content

describe('streaming pass-through', () => {
  it('forwards the first event before the upstream has finished, then the rest in order, then [DONE]', async () => {
    const release = deferred()
    const body = scriptedStream(async (controller) => {
      controller.enqueue(frame(deltaChunk('first')))
      await release.promise
      controller.enqueue(frame(deltaChunk('second')))
      controller.enqueue(frame(deltaChunk('third')))
      controller.enqueue(DONE)
      controller.close()
    })
    upstream.mock.use(http.post(UPSTREAM_URL, () => eventStream(body)))

    const response = await server.chat(key, streamRequest())
    expect(response.status).toBe(200)
    const events = eventReader(response)
    // The upstream is still waiting on `release`: this event can only have come through unbuffered.
    expect(contentOf(await within(events.next(), 3000, 'the first event while the upstream waits'))).toBe('first')
    release.resolve()
    const rest = await events.rest()
    expect(rest.slice(0, -1).map(contentOf)).toEqual(['second', 'third'])
    expect(rest.at(-1)).toBe('data: [DONE]')
  })

  it('answers text/event-stream with X-Accel-Buffering: no and never copies the upstream content-encoding or content-length', async () => {
    const plain = sseEvents([deltaChunk('zipped')])
    const zipped = gzipSync(plain)
    upstream.mock.use(
      http.post(UPSTREAM_URL, () => eventStream(zipped, { 'content-encoding': 'gzip', 'content-length': String(zipped.byteLength) })),
    )
    const response = await server.chat(key, streamRequest())
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(response.headers.get('x-accel-buffering')).toBe('no')
    expect(response.headers.get('content-encoding')).toBeNull()
    expect(response.headers.get('content-length')).toBeNull()
    // Byte for byte, but for the model: answers name the public one.
    expect(await response.text()).toBe(plain.replace('"model":"upstream-model"', `"model":"${MODEL}"`))
  })

  it('relays an upstream that ends its lines with CR alone, through to [DONE]', async () => {
    upstream.mock.use(http.post(UPSTREAM_URL, () => eventStream(sseEvents([deltaChunk('cr')]).replaceAll('\n', '\r'))))
    const events = await eventReader(await server.chat(key, streamRequest())).rest()
    expect(events.map((event) => (event === 'data: [DONE]' ? event : contentOf(event)))).toEqual(['cr', 'data: [DONE]'])
  })

  it('sends the upstream its own model, key and a usage request, never the browser model', async () => {
    let seen: { authorization: string | null; body: any } | undefined
    upstream.mock.use(
      http.post(UPSTREAM_URL, async ({ request }) => {
        seen = { authorization: request.headers.get('authorization'), body: await request.json() }
        return eventStream(sseEvents([deltaChunk('ok')]))
      }),
    )
    await (await server.chat(key, streamRequest())).text()
    expect(seen?.authorization).toBe(`Bearer ${UPSTREAM_KEY}`)
    expect(seen?.body).toMatchObject({ model: 'upstream-model', stream: true, stream_options: { include_usage: true } })
  })
})

describe('usage', () => {
  it('drops the usage chunk a client did not ask for, forwards it to one that did, and records usage both times', async () => {
    const { key: usageKey, id, accountId } = await server.createKey()
    upstream.mock.use(http.post(UPSTREAM_URL, () => eventStream(sseEvents([deltaChunk('a'), usageChunk(3, 4)]))))

    const without = await (await server.chat(usageKey, streamRequest())).text()
    expect(without).toContain('"content":"a"')
    expect(without).not.toContain('"usage"')
    expect(without.endsWith('data: [DONE]\n\n')).toBe(true)

    const withUsage = await (await server.chat(usageKey, streamRequest({ stream_options: { include_usage: true } }))).text()
    expect(withUsage).toContain('"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}')
    expect(withUsage.endsWith('data: [DONE]\n\n')).toBe(true)

    const usage = await server.admin('GET', `/admin/accounts/${accountId}/usage`)
    expect(usage.status).toBe(200)
    expect(usage.body.data).toEqual([
      { key_id: id, day: expect.stringMatching(/^\d{4}-\d\d-\d\d$/), requests: 2, prompt_tokens: 6, completion_tokens: 8 },
    ])
  })

  it('records the last usage an upstream reports, not the sum of its running totals', async () => {
    const { key: usageKey, id, accountId } = await server.createKey()
    const running = [1, 2, 3].map((n) => ({
      ...deltaChunk(`t${n}`),
      usage: { prompt_tokens: 10, completion_tokens: n, total_tokens: 10 + n },
    }))
    upstream.mock.use(http.post(UPSTREAM_URL, () => eventStream(sseEvents(running))))
    const text = await (await server.chat(usageKey, streamRequest())).text()
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true)
    const usage = await server.admin('GET', `/admin/accounts/${accountId}/usage`)
    expect(usage.body.data).toEqual([expect.objectContaining({ key_id: id, requests: 1, prompt_tokens: 10, completion_tokens: 3 })])
  })

  it('records the usage of a non-streamed answer', async () => {
    const { key: usageKey, id, accountId } = await server.createKey()
    upstream.mock.use(http.post(UPSTREAM_URL, () => HttpResponse.json(completion('Hi', { prompt_tokens: 11, completion_tokens: 13 }))))
    expect((await server.chat(usageKey)).status).toBe(200)
    const usage = await server.admin('GET', `/admin/accounts/${accountId}/usage`)
    expect(usage.body.data).toMatchObject([{ key_id: id, requests: 1, prompt_tokens: 11, completion_tokens: 13 }])
  })
})

describe('keep-alive pings', () => {
  it('sends : ping comments while the upstream is silent mid-stream, then the rest', async () => {
    const pinging = await start({}, { pingMs: 50 })
    const pingKey = (await pinging.createKey()).key
    const body = scriptedStream(async (controller) => {
      controller.enqueue(frame(deltaChunk('before')))
      await sleep(250)
      controller.enqueue(frame(deltaChunk('after')))
      controller.enqueue(DONE)
      controller.close()
    })
    upstream.mock.use(http.post(UPSTREAM_URL, () => eventStream(body)))

    const events = await eventReader(await pinging.chat(pingKey, streamRequest())).rest()
    expect(contentOf(events[0])).toBe('before')
    const silence = events.slice(1, -2)
    expect(silence.length).toBeGreaterThanOrEqual(2)
    expect(silence.every((event) => event === ': ping')).toBe(true)
    expect(contentOf(events.at(-2))).toBe('after')
    expect(events.at(-1)).toBe('data: [DONE]')
  })
})

describe('mid-stream failure', () => {
  const upstreamSecret = `internal shard 7 exploded; key ${UPSTREAM_KEY}`

  it.each([
    [
      'the upstream stream breaks',
      () =>
        scriptedStream(async (controller) => {
          controller.enqueue(frame(deltaChunk('partial')))
          await sleep(20)
          controller.error(new Error(upstreamSecret))
        }),
    ],
    ['the upstream stream ends without [DONE]', () => sseEvents([deltaChunk('partial')], { done: false })],
    [
      'the upstream sends an error event',
      () => sseEvents([deltaChunk('partial'), { error: { message: upstreamSecret, type: 'server_error', code: null } }]),
    ],
    [
      'the upstream sends an error event with spaces in its JSON',
      () => sseEvents([deltaChunk('partial'), `{ "error" : { "message": "${upstreamSecret}" } }`]),
    ],
    [
      'the upstream sends an event of type error',
      () => sseEvents([deltaChunk('partial')], { done: false }) + `event: error\ndata: "${upstreamSecret}"\n\ndata: [DONE]\n\n`,
    ],
    [
      'the upstream sends an event of type error whose data line has no colon',
      () => sseEvents([deltaChunk('partial')], { done: false }) + 'event: error\ndata\n\ndata: [DONE]\n\n',
    ],
    [
      'the upstream sends an event that never ends (over 1 MiB)',
      () => sseEvents([deltaChunk('partial')], { done: false }) + 'data: ' + 'x'.repeat(1_100_000),
    ],
  ])('sends an upstream_error event and no [DONE] when %s', async (_case, body) => {
    upstream.mock.use(http.post(UPSTREAM_URL, () => eventStream(body())))
    const response = await server.chat(key, streamRequest())
    expect(response.status).toBe(200)
    const events = await eventReader(response).rest()
    expect(events).toHaveLength(2)
    expect(contentOf(events[0])).toBe('partial')
    expect(eventData(events[1])).toEqual({
      error: { message: expect.any(String), type: 'api_error', code: 'upstream_error' },
    })
    expect(events[1]).not.toContain('shard 7')
    expect(events[1]).not.toContain(UPSTREAM_KEY)
  })

  it('cuts off an upstream event that grows past 1 MiB without ending, instead of buffering it', async () => {
    upstream.mock.use(http.post(UPSTREAM_URL, () => eventStream('data: ' + 'x'.repeat(1_100_000))))
    const response = await server.chat(key, streamRequest())
    const events = await eventReader(response).rest()
    expect(eventData(events.at(-1))).toMatchObject({ error: { code: 'upstream_error' } })
    expect(server.logs.some((line) => line.includes('upstream event too large'))).toBe(true)
  })

  it('sends an upstream_timeout event when the upstream goes silent for longer than UPSTREAM_TIMEOUT_MS', async () => {
    const silent = await silentSocketUpstream('partial')
    const impatient = await start({ UPSTREAM_TIMEOUT_MS: '300', UPSTREAM_BASE_URL: silent.baseUrl })
    const impatientKey = (await impatient.createKey()).key

    const response = await impatient.chat(impatientKey, streamRequest())
    const events = await within(eventReader(response).rest(), 5000, 'the stream to end after the idle timeout')
    expect(events).toHaveLength(2)
    expect(contentOf(events[0])).toBe('partial')
    expect(eventData(events[1]).error).toMatchObject({ type: 'api_error', code: 'upstream_timeout' })
    await within(silent.aborted, 2000, 'the silent upstream request to be aborted')
  })
})

describe('visitor disconnect', () => {
  it('aborts the upstream when the visitor leaves mid-stream, and keeps serving', async () => {
    const left = await silentSocketUpstream('first')
    const relayServer = await start({ UPSTREAM_BASE_URL: left.baseUrl })
    const relayKey = (await relayServer.createKey()).key
    const visitor = new AbortController()
    const response = await fetch(relayServer.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${relayKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(streamRequest()),
      signal: visitor.signal,
    })
    expect(contentOf(await eventReader(response).next())).toBe('first')
    visitor.abort()

    await within(left.aborted, 2000, 'the upstream request to be aborted')

    expect((await fetch(relayServer.url + '/healthz')).status).toBe(200)
  })
})

describe('non-streamed answers', () => {
  it('passes the upstream JSON through, naming the public model instead of the upstream one', async () => {
    const answer = { ...completion('Hi there! I am "model": "gpt-x"'), model: 'upstream-model-2026-01-01' }
    upstream.mock.use(http.post(UPSTREAM_URL, () => HttpResponse.json(answer)))
    const response = await server.chat(key)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await response.json()).toEqual({ ...answer, model: MODEL })
  })

  it('waits UPSTREAM_TIMEOUT_MS for each piece of a slow answer, not for the whole of it', async () => {
    const patient = await start({ UPSTREAM_TIMEOUT_MS: '300' })
    const patientKey = (await patient.createKey()).key
    const text = JSON.stringify(completion('slow but steady'))
    upstream.mock.use(
      http.post(
        UPSTREAM_URL,
        () =>
          new HttpResponse(
            scriptedStream(async (controller) => {
              // Five pieces 150 ms apart: 600 ms in all, never 300 ms of silence.
              for (let i = 0; i < 5; i++) {
                controller.enqueue(new TextEncoder().encode(text.slice((i * text.length) / 5, ((i + 1) * text.length) / 5)))
                await sleep(150)
              }
              controller.close()
            }),
            { headers: { 'content-type': 'application/json' } },
          ),
      ),
    )
    const response = await patient.chat(patientKey)
    expect(response.status).toBe(200)
    expect((await response.json()).choices[0].message.content).toBe('slow but steady')
  })

  const leakyBody = { error: { message: `Incorrect API key provided: ${UPSTREAM_KEY}`, type: 'invalid_request_error' } }

  it.each([
    ['the upstream answers 500', () => HttpResponse.json(leakyBody, { status: 500 })],
    ['the upstream answers 429', () => HttpResponse.json(leakyBody, { status: 429, headers: { 'retry-after': '20' } })],
    ['the upstream answers 401', () => HttpResponse.json(leakyBody, { status: 401 })],
    [
      'the upstream answers something that is not JSON',
      () => new HttpResponse('<html>Bad gateway</html>', { headers: { 'content-type': 'text/html' } }),
    ],
    ['the upstream answers JSON null', () => new HttpResponse('null', { headers: { 'content-type': 'application/json' } })],
    ['the upstream cannot be reached', () => HttpResponse.error()],
  ])('answers 502 upstream_error without upstream details when %s', async (_case, answer) => {
    upstream.mock.use(http.post(UPSTREAM_URL, answer))
    const response = await server.chat(key)
    expect(response.status).toBe(502)
    // Our own limit is not the upstream's: its Retry-After must not reach the client.
    expect(response.headers.get('retry-after')).toBeNull()
    const text = await response.text()
    expect(JSON.parse(text)).toEqual({
      error: { message: expect.any(String), type: 'api_error', code: 'upstream_error' },
    })
    expect(text).not.toContain('Incorrect API key')
    expect(text).not.toContain(UPSTREAM_KEY)
    expect(text).not.toContain('Bad gateway')
  })

  it('answers a stream request whose upstream fails before streaming with a 502 JSON error', async () => {
    upstream.mock.use(http.post(UPSTREAM_URL, () => HttpResponse.json(leakyBody, { status: 503 })))
    const response = await server.chat(key, streamRequest())
    expect(response.status).toBe(502)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    expect((await response.json()).error.code).toBe('upstream_error')
  })

  it('answers 504 upstream_timeout when the upstream never answers', async () => {
    const impatient = await start({ UPSTREAM_TIMEOUT_MS: '200' })
    const impatientKey = (await impatient.createKey()).key
    upstream.mock.use(
      http.post(UPSTREAM_URL, async () => {
        await delay('infinite')
        return HttpResponse.json(completion('too late'))
      }),
    )
    const began = performance.now()
    const response = await within(impatient.chat(impatientKey), 5000, 'the 504')
    expect(response.status).toBe(504)
    expect((await response.json()).error).toMatchObject({ type: 'api_error', code: 'upstream_timeout' })
    expect(performance.now() - began).toBeLessThan(4000)
  })
})

describe('the offline demo responder', () => {
  let demo: TestServer
  let demoKey: string
  beforeAll(async () => {
    demo = await start({ UPSTREAM_BASE_URL: '' })
    demoKey = (await demo.createKey()).key
  })

  it('streams a labelled answer word by word, ending with [DONE]', async () => {
    const events = await eventReader(await demo.chat(demoKey, streamRequest())).rest()
    const contents = events
      .filter((event) => event !== 'data: [DONE]')
      .map((event) => eventData(event).choices[0]?.delta.content)
      .filter((content): content is string => Boolean(content))
    expect(contents.length).toBeGreaterThan(5)
    expect(contents.join('')).toContain('demo responder')
    expect(contents.join('')).toContain('Hello')
    expect(events.at(-1)).toBe('data: [DONE]')
  })

  it('answers a non-streamed request with JSON and usage', async () => {
    const response = await demo.chat(demoKey)
    expect(response.status).toBe(200)
    const answer = await response.json()
    expect(answer.object).toBe('chat.completion')
    expect(answer.choices[0].message.content).toContain('demo responder')
    expect(answer.usage).toEqual({
      prompt_tokens: expect.any(Number),
      completion_tokens: expect.any(Number),
      total_tokens: answer.usage.prompt_tokens + answer.usage.completion_tokens,
    })
    expect(answer.usage.completion_tokens).toBeGreaterThan(0)
  })
})

describe('logs', () => {
  // Runs last: every request above, including upstream bodies that echo the upstream key, has been logged.
  it('never contain the upstream key or any ask_ key', () => {
    const logs = started.flatMap((each) => each.logs).join('')
    // Not vacuous: the upstream's leaky error body did reach the logs, redacted.
    expect(logs).toContain('upstream answered an error')
    expect(logs).toContain('Incorrect API key provided')
    expect(logs).not.toContain(UPSTREAM_KEY)
    expect(logs).not.toMatch(/ask_[0-9A-Za-z]{4,}/)
  })
})
