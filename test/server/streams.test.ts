/**
 * Answers in flight at once, through the real server on a real socket, with the test's upstream
 * double holding each answer open until the test lets it finish (or fail). The caps per key and per
 * visitor, their 429 as the official client sees it, and no leak: every way an answer can end
 * gives its slot back (finished, the visitor leaving, the upstream failing or going silent, a
 * shutdown). Then in Redis: shared by two `npm run serve` processes, and freed by the lease of one
 * killed with SIGKILL.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { request } from 'node:http'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createTestDatabase, hasPostgres, type TestDatabase } from '../support/postgres.ts'
import { usePrivateRedis, useSharedRedis } from '../support/redis.ts'
import { createAccountKey, startServe, type ServeProcess } from '../support/serve.ts'
import { startUpstreamDouble } from '../support/upstream-double.ts'
import { signedInOwner } from './dashboard-client.ts'
import { ADMIN_TOKEN, MODEL, eventData, startServer, type TestServer } from './harness.ts'

const redis = await useSharedRedis()
const privateRedis = await usePrivateRedis()

/** How the upstream treats the next requests. */
type Behaviour = 'hold' | 'fail' | 'break' | 'silent'
let behaviour: Behaviour = 'hold'
/** Answers the upstream holds open, oldest first: `finish` sends the rest and [DONE]. */
const held: Array<{ finish(): void }> = []
let upstream: Awaited<ReturnType<typeof startUpstreamDouble>>

const chunk = (content: string) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`
const completion = {
  id: 'c',
  object: 'chat.completion',
  created: 1,
  model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
}

function answer(req: IncomingMessage, res: ServerResponse, stream: boolean) {
  if (behaviour === 'silent') return
  if (behaviour === 'fail') return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"down"}}')
  if (!stream) {
    return void held.push({ finish: () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(completion)) })
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' })
  res.write(chunk('Hel'))
  if (behaviour === 'break') return void setTimeout(() => req.socket.destroy(), 20)
  held.push({ finish: () => res.end(`${chunk('lo')}data: [DONE]\n\n`) })
}

beforeAll(async () => {
  upstream = await startUpstreamDouble((req, res) => {
    let raw = ''
    req.on('data', (piece) => (raw += piece))
    req.on('end', () => answer(req, res, JSON.parse(raw).stream === true))
  })
})
afterAll(() => upstream.close())
beforeEach(() => {
  behaviour = 'hold'
})

const finishAll = () => {
  for (const answer of held.splice(0)) answer.finish()
}

const QUESTION = [{ role: 'user', content: 'Hello' }]

/** A chat request from `from` (a loopback address of its own: another visitor), answered at its headers. */
function chatFrom(url: string, key: string, options: { from?: string; origin?: string; stream?: boolean; body?: string } = {}) {
  const body = options.body ?? JSON.stringify({ model: MODEL, messages: QUESTION, stream: options.stream ?? true })
  return new Promise<{ status: number; headers: IncomingMessage['headers']; response: IncomingMessage; text(): Promise<string> }>(
    (resolve, reject) => {
      const req = request(
        `${url}/v1/chat/completions`,
        {
          method: 'POST',
          localAddress: options.from ?? '127.0.0.1',
          headers: {
            authorization: `Bearer ${key}`,
            'content-type': 'application/json',
            connection: 'close',
            ...(options.origin && { origin: options.origin }),
          },
        },
        (response) =>
          resolve({
            status: response.statusCode!,
            headers: response.headers,
            response,
            async text() {
              let text = ''
              for await (const piece of response) text += piece
              return text
            },
          }),
      )
      req.on('error', reject)
      req.end(body)
    },
  )
}

type Answer = Awaited<ReturnType<typeof chatFrom>>

/** A stream the server admitted, open until `leave()` (the visitor goes) or the upstream finishes it. */
async function openStream(url: string, key: string, options: Parameters<typeof chatFrom>[2] = {}) {
  const waiting = held.length
  const answer = await chatFrom(url, key, options)
  if (answer.status !== 200) throw new Error(`not admitted: ${answer.status} ${await answer.text()}`)
  // In flight: the upstream holds it open.
  await expect.poll(() => held.length, { timeout: 5_000, interval: 5 }).toBeGreaterThan(waiting)
  return { answer, leave: () => answer.response.destroy() }
}

/** Polls until the server admits a stream again (the slots come back as answers end), within 5 s. */
async function admittedAgain(url: string, key: string, options: Parameters<typeof chatFrom>[2] = {}) {
  const deadline = Date.now() + 5_000
  for (;;) {
    const answer = await chatFrom(url, key, options)
    if (answer.status === 200) return answer
    await answer.text()
    if (Date.now() > deadline) throw new Error(`still refused: ${answer.status}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Holds `cap` streams open (the cap), then checks that one more is refused, and lets them all end. */
async function capHolds(url: string, key: string, cap: number, code = 'concurrent_streams_exceeded') {
  held.splice(0)
  const first = await admittedAgain(url, key)
  const open: Answer[] = [first]
  await expect.poll(() => held.length, { timeout: 5_000, interval: 5 }).toBe(1)
  for (let i = 1; i < cap; i++) open.push((await openStream(url, key)).answer)
  const refused = await chatFrom(url, key)
  expect(refused.status).toBe(429)
  expect(JSON.parse(await refused.text()).error.code).toBe(code)
  finishAll()
  for (const answer of open) expect(await answer.text()).toContain('data: [DONE]')
}

describe('answers in flight, in memory', () => {
  let server: TestServer

  beforeAll(async () => {
    server = await startServer({
      UPSTREAM_BASE_URL: upstream.baseUrl,
      MAX_STREAMS_PER_KEY: '3',
      // Polling for a slot spends requests: the rate limit is not under test here.
      RATE_LIMIT_RPM: '100000',
      MAX_STREAMS_PER_VISITOR: '2',
      UPSTREAM_TIMEOUT_MS: '400',
    })
  })
  afterAll(async () => {
    finishAll()
    await server.close()
  })

  it('answers 429 concurrent_streams_exceeded once a key has 3 answers in flight, and admits one again as soon as one ends', async () => {
    const { key } = await server.createKey()
    const open = [await openStream(server.url, key), await openStream(server.url, key), await openStream(server.url, key)]
    const refused = await chatFrom(server.url, key)
    expect(refused.status).toBe(429)
    expect(refused.headers['retry-after']).toBe('1')
    expect(refused.headers['retry-after-ms']).toBe('1000')
    expect(refused.headers['content-type']).toMatch(/^application\/json/)
    expect(JSON.parse(await refused.text())).toEqual({
      error: {
        message: 'Too many answers in progress at once: this key allows 3; a slot frees when one of them ends, so try again in a moment',
        type: 'rate_limit_error',
        code: 'concurrent_streams_exceeded',
      },
    })

    held.shift()!.finish()
    expect(await open[0]!.answer.text()).toMatch(/data: \[DONE\]\n\n$/)
    const again = await admittedAgain(server.url, key)
    expect((await chatFrom(server.url, key)).status).toBe(429)
    finishAll()
    for (const answer of [again, open[1]!.answer, open[2]!.answer]) expect(await answer.text()).toContain('data: [DONE]')
  })

  it('counts answers that are not streamed too: each holds an upstream request', async () => {
    const { key } = await server.createKey()
    const pending = [1, 2, 3].map(() => chatFrom(server.url, key, { stream: false }))
    await expect.poll(() => held.length, { timeout: 5_000, interval: 5 }).toBe(3)
    const refused = await chatFrom(server.url, key, { stream: false })
    expect(refused.status).toBe(429)
    finishAll()
    for (const answer of await Promise.all(pending)) expect(answer.status).toBe(200)
    await capHolds(server.url, key, 3)
  })

  it("caps each visitor of a widget's key at 2, naming the visitor, while other visitors get the key's slots", async () => {
    const { key } = await server.createKey({ allowed_domains: ['shop.example'] })
    const origin = 'https://shop.example'
    await openStream(server.url, key, { origin })
    await openStream(server.url, key, { origin })
    const refused = await chatFrom(server.url, key, { origin })
    expect(refused.status).toBe(429)
    expect(refused.headers['access-control-allow-origin']).toBe(origin)
    expect(refused.headers['retry-after']).toBe('1')
    expect(JSON.parse(await refused.text())).toEqual({
      error: {
        message:
          'Too many answers in progress at once: each visitor may have 2 per key; a slot frees when one of them ends, so try again in a moment',
        type: 'rate_limit_error',
        code: 'visitor_concurrent_streams_exceeded',
      },
    })
    // Another address is another visitor: it gets the key's third slot, and a fourth is the key's refusal.
    await openStream(server.url, key, { origin, from: '127.0.0.2' })
    const keyFull = await chatFrom(server.url, key, { origin, from: '127.0.0.3' })
    expect(JSON.parse(await keyFull.text()).error.code).toBe('concurrent_streams_exceeded')
    finishAll()
  })

  it("has no visitor cap on a server's key (no allowed domains), whose requests all come from one address", async () => {
    const { key } = await server.createKey()
    for (let i = 0; i < 3; i++) await openStream(server.url, key)
    expect(JSON.parse(await (await chatFrom(server.url, key)).text()).error.code).toBe('concurrent_streams_exceeded')
    finishAll()
  })

  it('takes no slot for a request whose body is refused', async () => {
    const { key } = await server.createKey()
    await openStream(server.url, key)
    await openStream(server.url, key)
    for (let i = 0; i < 5; i++) {
      const bad = await chatFrom(server.url, key, { body: '{not json' })
      expect(bad.status).toBe(400)
      await bad.text()
    }
    await openStream(server.url, key)
    // Full now, yet a bad body still hears about its body first.
    const bad = await chatFrom(server.url, key, { body: '{not json' })
    expect(JSON.parse(await bad.text()).error.code).toBe('invalid_json')
    finishAll()
  })

  it('gives the slot back when the visitor leaves mid-stream, round after round', async () => {
    const { key } = await server.createKey()
    for (let round = 0; round < 5; round++) {
      const open = [await openStream(server.url, key)]
      for (let i = 1; i < 3; i++) open.push(await openStream(server.url, key))
      expect((await chatFrom(server.url, key)).status).toBe(429)
      for (const stream of open) stream.leave()
      // The relay aborts the upstream requests: nothing is left to finish.
      held.splice(0)
      await admittedAgain(server.url, key).then((answer) => answer.response.destroy())
    }
    await capHolds(server.url, key, 3)
  })

  it('gives the slot back when the upstream fails before answering, part-way, or goes silent', async () => {
    const { key } = await server.createKey()
    behaviour = 'fail'
    for (let i = 0; i < 5; i++) {
      const failed = await chatFrom(server.url, key)
      expect(failed.status).toBe(502)
      await failed.text()
    }
    behaviour = 'break'
    // Three at a time (the cap), twice: the second three get the slots the first gave back.
    for (let round = 0; round < 2; round++) {
      const broken = await Promise.all([1, 2, 3].map(() => chatFrom(server.url, key)))
      for (const answer of broken) {
        expect(answer.status).toBe(200)
        const events = (await answer.text()).trim().split('\n\n')
        expect(eventData(events.at(-1)).error.code).toBe('upstream_error')
      }
    }
    behaviour = 'silent'
    const silent = await Promise.all([1, 2, 3].map(() => chatFrom(server.url, key)))
    for (const answer of silent) expect(answer.status).toBe(504)
    behaviour = 'hold'
    await capHolds(server.url, key, 3)
  })

  it('records each refusal as too_many_streams on the usage page', async () => {
    const { client, account } = await signedInOwner(server)
    const { id, key } = await server.createKey({}, account.id)
    for (let i = 0; i < 3; i++) await openStream(server.url, key)
    for (let i = 0; i < 2; i++) expect((await chatFrom(server.url, key)).status).toBe(429)
    finishAll()
    const usage = (await client.call('GET', '/usage')).body
    expect(usage.refusals).toEqual([{ key_id: id, day: new Date().toISOString().slice(0, 10), reason: 'too_many_streams', count: 2 }])
  })

  it('is a RateLimitError with its code to the official openai client', async () => {
    const { key } = await server.createKey()
    for (let i = 0; i < 3; i++) await openStream(server.url, key)
    const client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1`, maxRetries: 0, timeout: 5_000 })
    const error = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] }).catch((err) => err)
    expect(error).toBeInstanceOf(OpenAI.RateLimitError)
    expect(error).toMatchObject({ status: 429, code: 'concurrent_streams_exceeded', type: 'rate_limit_error' })
    const streamed = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], stream: true })
      .catch((err) => err)
    expect(streamed).toBeInstanceOf(OpenAI.RateLimitError)
    finishAll()
  })
})

describe.skipIf(!redis)('answers in flight, in Redis', () => {
  let server: TestServer
  const prefix = `${redis?.prefix}server:`

  beforeAll(async () => {
    server = await startServer({
      UPSTREAM_BASE_URL: upstream.baseUrl,
      REDIS_URL: redis!.url,
      REDIS_PREFIX: prefix,
      MAX_STREAMS_PER_KEY: '3',
      // Polling for a slot spends requests: the rate limit is not under test here.
      RATE_LIMIT_RPM: '100000',
      MAX_STREAMS_PER_VISITOR: '2',
    })
  })
  afterAll(async () => {
    finishAll()
    await server.close()
  })
  const leases = async () => (await redis!.keys()).filter((key) => key.startsWith(`${prefix}streams:`))

  it('caps a key and its visitors, and leaves no lease behind once answers finish or visitors leave', async () => {
    const { key } = await server.createKey({ allowed_domains: ['shop.example'] })
    const origin = 'https://shop.example'
    const first = await openStream(server.url, key, { origin })
    await openStream(server.url, key, { origin })
    expect(JSON.parse(await (await chatFrom(server.url, key, { origin })).text()).error.code).toBe('visitor_concurrent_streams_exceeded')
    const other = await openStream(server.url, key, { origin, from: '127.0.0.2' })
    expect(JSON.parse(await (await chatFrom(server.url, key, { origin, from: '127.0.0.3' })).text()).error.code).toBe(
      'concurrent_streams_exceeded',
    )
    expect(await leases()).toHaveLength(3)
    first.leave()
    other.leave()
    finishAll()
    await expect.poll(leases, { timeout: 5_000 }).toEqual([])
  })
})

describe.skipIf(!redis)('a server shutting down', () => {
  it('gives back the leases of the answers it ends', async () => {
    const prefix = `${redis!.prefix}shutdown:`
    const server = await startServer({ UPSTREAM_BASE_URL: upstream.baseUrl, REDIS_URL: redis!.url, REDIS_PREFIX: prefix }, { graceMs: 100 })
    const { key } = await server.createKey()
    const open = await openStream(server.url, key)
    expect((await redis!.keys()).filter((name) => name.startsWith(`${prefix}streams:`))).toHaveLength(1)
    await server.close()
    expect(await open.answer.text()).toContain('server_shutting_down')
    expect((await redis!.keys()).filter((name) => name.startsWith(`${prefix}streams:`))).toEqual([])
    held.splice(0)
  })
})

describe.skipIf(!privateRedis)('REDIS_FAILURE_MODE=local while Redis is stopped', () => {
  it('still caps answers in flight, in each process', async () => {
    const server = await startServer({
      UPSTREAM_BASE_URL: upstream.baseUrl,
      REDIS_URL: privateRedis!.url,
      REDIS_PREFIX: 'assisters-test:streams-local:',
      REDIS_FAILURE_MODE: 'local',
      REDIS_TIMEOUT_MS: '300',
      MAX_STREAMS_PER_KEY: '2',
      RATE_LIMIT_RPM: '100000',
    })
    try {
      const { key } = await server.createKey()
      await privateRedis!.stop()
      try {
        await openStream(server.url, key)
        await openStream(server.url, key)
        expect(JSON.parse(await (await chatFrom(server.url, key)).text()).error.code).toBe('concurrent_streams_exceeded')
        finishAll()
        await admittedAgain(server.url, key).then((answer) => answer.response.destroy())
      } finally {
        await privateRedis!.start()
      }
    } finally {
      finishAll()
      await server.close()
    }
  })
})

describe.skipIf(!redis || !hasPostgres)('two processes sharing Redis', () => {
  let postgres: TestDatabase
  const servers: ServeProcess[] = []

  beforeAll(async () => {
    postgres = await createTestDatabase()
    const env = {
      DATABASE_URL: postgres.url,
      REDIS_URL: redis!.url,
      REDIS_PREFIX: `${redis!.prefix}processes:`,
      ADMIN_TOKEN,
      UPSTREAM_BASE_URL: upstream.baseUrl,
      UPSTREAM_MODEL: 'upstream-model',
      MAX_STREAMS_PER_KEY: '2',
      STREAM_LEASE_MS: '1000',
      RATE_LIMIT_RPM: '100000',
    }
    servers.push(await startServe(env), await startServe(env))
  }, 60_000)
  afterAll(async () => {
    finishAll()
    await Promise.all(servers.map((server) => server.stop()))
    await postgres?.drop()
  })

  it("share a key's cap, and the slot of a process killed with SIGKILL frees itself when its lease runs out", async () => {
    const [a, b] = servers as [ServeProcess, ServeProcess]
    const { key } = await createAccountKey(a.url, ADMIN_TOKEN)
    await openStream(a.url, key)
    const onB = await openStream(b.url, key)
    for (const server of [a, b])
      expect(JSON.parse(await (await chatFrom(server.url, key)).text()).error.code).toBe('concurrent_streams_exceeded')
    // Past several leases the answers still hold their slots: each process renews its own.
    await new Promise((resolve) => setTimeout(resolve, 2_500))
    expect((await chatFrom(b.url, key)).status).toBe(429)

    await a.stop('SIGKILL')
    // A said nothing to Redis as it died; its lease runs out within STREAM_LEASE_MS.
    const again = await admittedAgain(b.url, key)
    expect((await chatFrom(b.url, key)).status).toBe(429)
    onB.leave()
    again.response.destroy()
  })
})
