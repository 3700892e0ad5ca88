/**
 * Daily token budgets through the real server (issue 16): the 429s of a key's and an account's
 * budget with their bodies and Retry-After, the soft cap (the request that crosses the line, and
 * every stream in flight then, completes), the reset at 00:00 UTC on an injected clock, a restart
 * that starts from the store's usage, and Redis: two `npm run serve` processes sharing the counts,
 * a Redis flush, and REDIS_FAILURE_MODE=local while Redis is stopped.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { http, HttpResponse } from 'msw'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../server/store/open.ts'
import { loadConfig } from '../../server/config.ts'
import { createTestDatabase, hasPostgres, type TestDatabase } from '../support/postgres.ts'
import { usePrivateRedis, useSharedRedis } from '../support/redis.ts'
import { adminCall, createAccountKey, startServe, type ServeProcess } from '../support/serve.ts'
import { startUpstreamDouble } from '../support/upstream-double.ts'
import {
  ADMIN_TOKEN,
  MODEL,
  UPSTREAM_URL,
  completion,
  createUpstreamMock,
  deferred,
  deltaChunk,
  eventReader,
  startServer,
  usageChunk,
  type TestServer,
} from './harness.ts'

const upstream = createUpstreamMock()
beforeAll(() => upstream.listen())
afterEach(() => upstream.mock.resetHandlers())
afterAll(() => upstream.mock.close())

/** Every answer costs 12 tokens: 5 prompt, 7 completion. */
const TOKENS = 12
const answerWithUsage = () => http.post(UPSTREAM_URL, () => HttpResponse.json(completion('Hi')))

/** 2026-03-01 at 23:00 UTC, an hour before the reset. */
const LATE_EVENING = Date.UTC(2026, 2, 1, 23)
const clock = () => {
  const state = { at: LATE_EVENING, now: () => state.at }
  return state
}

const setKeyLimit = (server: TestServer, keyId: string, limit: number | null) =>
  server.admin('PATCH', `/admin/keys/${keyId}`, { daily_token_limit: limit })
const setAccountLimit = (server: TestServer, accountId: string, limit: number | null) =>
  server.admin('PATCH', `/admin/accounts/${accountId}`, { daily_token_limit: limit })

async function expectSpent(response: Response, code: string, retryAfterS: number) {
  expect(response.status).toBe(429)
  expect(response.headers.get('retry-after')).toBe(String(retryAfterS))
  expect(response.headers.get('retry-after-ms')).toBe(String(retryAfterS * 1000))
  const { error } = await response.json()
  expect(error).toMatchObject({ type: 'rate_limit_error', code })
  expect(error.message).toMatch(/daily token limit/i)
  expect(error.message).toContain('00:00 UTC')
  return error.message as string
}

describe('daily token budgets on one server', () => {
  const time = clock()
  let server: TestServer

  beforeAll(async () => {
    server = await startServer({}, { now: time.now, usageFlushMs: 50 })
  })
  afterAll(() => server.close())
  afterEach(() => {
    time.at = LATE_EVENING
  })

  it("answers 429 daily_token_limit_reached once a key's tokens today reach its budget, after the crossing request completed", async () => {
    upstream.mock.use(answerWithUsage())
    const { key } = await server.createKey({ daily_token_limit: 20 })
    expect((await server.chat(key)).status).toBe(200) // 12 used
    // 12 < 20: admitted, and it completes though it ends at 24 (a soft cap).
    const crossing = await server.chat(key)
    expect(crossing.status).toBe(200)
    expect((await crossing.json()).choices[0].message.content).toBe('Hi')
    const message = await expectSpent(await server.chat(key), 'daily_token_limit_reached', 3600)
    expect(message).toContain("this key's budget of 20 tokens")
  })

  it("answers 429 account_daily_token_limit_reached for every key of an account over the account's budget, new keys too", async () => {
    upstream.mock.use(answerWithUsage())
    const first = await server.createKey()
    expect((await setAccountLimit(server, first.accountId, 2 * TOKENS)).status).toBe(200)
    const second = await server.createKey({}, first.accountId)
    expect((await server.chat(first.key)).status).toBe(200)
    expect((await server.chat(second.key)).status).toBe(200)
    for (const key of [first.key, second.key, (await server.createKey({}, first.accountId)).key]) {
      const message = await expectSpent(await server.chat(key), 'account_daily_token_limit_reached', 3600)
      expect(message).toContain("account's budget of 24 tokens")
    }
    // Another account is not touched.
    expect((await server.chat((await server.createKey()).key)).status).toBe(200)
  })

  it('lets every stream in flight when the budget is crossed complete, and refuses the next request', async () => {
    const release = deferred()
    upstream.mock.use(
      http.post(UPSTREAM_URL, () => {
        const body = new ReadableStream<Uint8Array>({
          async start(controller) {
            const send = (data: unknown) => controller.enqueue(new TextEncoder().encode(`data: ${JSON.stringify(data)}\n\n`))
            send(deltaChunk('Hel'))
            await release.promise
            send(deltaChunk('lo'))
            send(usageChunk(5, 7))
            controller.enqueue(new TextEncoder().encode('data: [DONE]\n\n'))
            controller.close()
          },
        })
        return new HttpResponse(body, { headers: { 'content-type': 'text/event-stream' } })
      }),
    )
    const { key } = await server.createKey({ daily_token_limit: 10 })
    const body = { model: MODEL, stream: true, messages: [{ role: 'user', content: 'Hi' }] }
    const streams = await Promise.all(Array.from({ length: 4 }, () => server.chat(key, body)))
    expect(streams.map((response) => response.status)).toEqual([200, 200, 200, 200])
    const readers = streams.map(eventReader)
    // Each has begun before any ended: all four were admitted at 0 tokens.
    for (const reader of readers) expect(await reader.next()).toContain('Hel')
    release.resolve()
    for (const reader of readers) expect((await reader.rest()).at(-1)).toBe('data: [DONE]')
    // 48 tokens against a budget of 10: the overshoot is what was in flight, and no more.
    await expectSpent(await server.chat(key, body), 'daily_token_limit_reached', 3600)
  })

  it('starts afresh at 00:00 UTC', async () => {
    upstream.mock.use(answerWithUsage())
    const { key, accountId } = await server.createKey({ daily_token_limit: TOKENS })
    expect((await server.chat(key)).status).toBe(200)
    time.at = Date.UTC(2026, 2, 1, 23, 59, 59)
    await expectSpent(await server.chat(key), 'daily_token_limit_reached', 1)
    time.at = Date.UTC(2026, 2, 2)
    expect((await server.chat(key)).status).toBe(200)
    await expectSpent(await server.chat(key), 'daily_token_limit_reached', 86_400)
    // Each day's tokens are recorded on that day, as the budgets counted them.
    const usage = (await server.admin('GET', `/admin/accounts/${accountId}/usage`)).body.data
    expect(usage.map((row: { day: string; prompt_tokens: number }) => [row.day, row.prompt_tokens])).toEqual([
      ['2026-03-01', 5],
      ['2026-03-02', 5],
    ])
  })

  it("never uses up the key's rate-limit window with requests refused for the budget", async () => {
    upstream.mock.use(answerWithUsage())
    const { key, id } = await server.createKey({ daily_token_limit: 1, rate_limit_rpm: 2 })
    expect((await server.chat(key)).status).toBe(200)
    for (let i = 0; i < 5; i++) expect((await server.chat(key)).status).toBe(429)
    // The owner raises the budget: the key still has one request of its minute left.
    expect((await setKeyLimit(server, id, 1_000)).status).toBe(200)
    const admitted = await server.chat(key)
    expect(admitted.status).toBe(200)
    expect(admitted.headers.get('x-ratelimit-remaining-requests')).toBe('0')
  })

  it('holds only chat to the budget: the models list and the key check still answer', async () => {
    upstream.mock.use(answerWithUsage())
    const { key } = await server.createKey({ daily_token_limit: 1 })
    expect((await server.chat(key)).status).toBe(200)
    expect((await server.chat(key)).status).toBe(429)
    const headers = { authorization: `Bearer ${key}` }
    expect((await fetch(`${server.url}/v1/models`, { headers })).status).toBe(200)
    expect((await fetch(`${server.url}/v1/key`, { headers })).status).toBe(200)
  })

  it('applies a budget set, raised or removed on the next request', async () => {
    upstream.mock.use(answerWithUsage())
    const { key, id, accountId } = await server.createKey()
    expect((await server.chat(key)).status).toBe(200)
    // Set after the fact: the tokens already used today count.
    expect((await setKeyLimit(server, id, TOKENS)).status).toBe(200)
    expect((await server.chat(key)).status).toBe(429)
    expect((await setKeyLimit(server, id, null)).status).toBe(200)
    expect((await server.chat(key)).status).toBe(200)
    expect((await setAccountLimit(server, accountId, 2 * TOKENS)).status).toBe(200)
    expect((await server.chat(key)).status).toBe(429)
    expect((await setAccountLimit(server, accountId, null)).status).toBe(200)
    expect((await server.chat(key)).status).toBe(200)
  })
})

/** A fresh database on each engine here (PostgreSQL when it answers), whatever the project's TEST_STORE. */
const engines: [string, (dir: string) => Promise<{ url: string; drop(): Promise<void> }>][] = [
  ['SQLite', async (dir) => ({ url: `sqlite:${join(dir, 'budget.db')}`, drop: async () => {} })],
  ...(hasPostgres ? [['PostgreSQL', () => createTestDatabase()] as (typeof engines)[number]] : []),
]

describe.each(engines)('what the store keeps, on %s', (_engine, freshDatabase) => {
  it('records each refusal for the dashboard, and starts from the recorded usage after a restart', async () => {
    upstream.mock.use(answerWithUsage())
    const time = clock()
    const dir = mkdtempSync(join(tmpdir(), 'assisters-budget-'))
    const database = await freshDatabase(dir)
    try {
      const first = await startServer({ DATABASE_URL: database.url }, { now: time.now })
      const { key, accountId } = await first.createKey({ daily_token_limit: 2 * TOKENS })
      expect((await first.chat(key)).status).toBe(200)
      expect((await first.chat(key)).status).toBe(200)
      expect((await first.chat(key)).status).toBe(429)
      await first.close() // writes the usage and refusals it holds

      const second = await startServer({ DATABASE_URL: database.url }, { now: time.now })
      try {
        // A new process, no counter: it starts from the 24 tokens the store recorded today.
        await expectSpent(await second.chat(key), 'daily_token_limit_reached', 3600)
      } finally {
        await second.close()
      }
      const store = await openStore(loadConfig({ DATABASE_URL: database.url }).database)
      try {
        const { refusals } = await store.activity(accountId)
        expect(refusals).toEqual([expect.objectContaining({ reason: 'daily_token_limit', count: 2 })])
        expect(await store.usage(accountId)).toEqual([
          expect.objectContaining({ day: '2026-03-01', requests: 2, prompt_tokens: 10, completion_tokens: 14 }),
        ])
      } finally {
        await store.close()
      }
    } finally {
      await database.drop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

const redis = await useSharedRedis()
const privateRedis = await usePrivateRedis()

describe.skipIf(!redis || !hasPostgres)('daily token budgets across two processes sharing Redis', () => {
  let postgres: TestDatabase
  let double: Awaited<ReturnType<typeof startUpstreamDouble>>
  const servers: ServeProcess[] = []
  const env = () => ({
    DATABASE_URL: postgres.url,
    REDIS_URL: redis!.url,
    REDIS_PREFIX: redis!.prefix,
    ADMIN_TOKEN,
    UPSTREAM_BASE_URL: double.baseUrl,
    UPSTREAM_MODEL: 'upstream-model',
  })
  const chat = (url: string, key: string) =>
    fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] }),
    })

  beforeAll(async () => {
    postgres = await createTestDatabase()
    double = await startUpstreamDouble((req, res) => {
      req.resume()
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(completion('Hi'))))
    })
    servers.push(await startServe(env()), await startServe(env()))
  }, 60_000)
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()))
    await double.close()
    await postgres.drop()
  })

  it('refuses on one process the key whose budget answers on the other used up, and after a Redis flush and restart', async () => {
    const [a, b] = servers as [ServeProcess, ServeProcess]
    const { key, id, accountId } = await createAccountKey(a.url, ADMIN_TOKEN, { daily_token_limit: 2 * TOKENS })
    expect((await chat(a.url, key)).status).toBe(200)
    expect((await chat(a.url, key)).status).toBe(200)
    // The counter is in Redis, added as each answer ended: B knows at once.
    await expect.poll(async () => (await chat(b.url, key)).status, { timeout: 2_000, interval: 20 }).toBe(429)
    const refused = await chat(b.url, key)
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(86_400)
    expect((await refused.json()).error.code).toBe('daily_token_limit_reached')

    // The account's budget is shared the same way.
    const other = await adminCall(a.url, ADMIN_TOKEN, 'POST', `/admin/accounts/${accountId}/keys`, { name: 'second' })
    expect((await adminCall(a.url, ADMIN_TOKEN, 'PATCH', `/admin/accounts/${accountId}`, { daily_token_limit: 2 * TOKENS })).status).toBe(
      200,
    )
    // B reads the account again within a second (it keeps account records that long).
    await expect
      .poll(async () => (await (await chat(b.url, other.body.key)).json()).error?.code, { timeout: 2_000, interval: 50 })
      .toBe('account_daily_token_limit_reached')

    // Everything stops (usage written), Redis loses the counters: a new process starts from the store.
    for (const server of servers.splice(0)) expect(await server.stop()).toBe(0)
    const counters = (await redis!.keys()).filter((name) => name.includes(':tokens:'))
    expect(counters.length).toBeGreaterThan(0)
    await redis!.client.del(...counters)
    servers.push(await startServe(env()))
    // Both budgets are spent again; the account's is named first.
    expect((await (await chat(servers[0]!.url, key)).json()).error.code).toBe('account_daily_token_limit_reached')
    // Seeded from what the store recorded today: the key's two answers, and every answer of the account
    // (the second key's too, answered while B still held the account's old budget).
    const day = new Date().toISOString().slice(0, 10)
    const usage = (await adminCall(servers[0]!.url, ADMIN_TOKEN, 'GET', `/admin/accounts/${accountId}/usage`)).body.data as {
      day: string
      prompt_tokens: number
      completion_tokens: number
    }[]
    const recorded = usage.filter((row) => row.day === day).reduce((sum, row) => sum + row.prompt_tokens + row.completion_tokens, 0)
    expect(
      await redis!.client.mget(`${redis!.prefix}tokens:key:${id}:${day}`, `${redis!.prefix}tokens:account:${accountId}:${day}`),
    ).toEqual([String(2 * TOKENS), String(recorded)])
  }, 60_000)
})

describe.skipIf(!privateRedis)('daily token budgets when Redis stops', () => {
  it('with REDIS_FAILURE_MODE=local, still holds a key to its budget from this process and the store', async () => {
    upstream.mock.use(answerWithUsage())
    const server = await startServer({ REDIS_URL: privateRedis!.url, REDIS_FAILURE_MODE: 'local', REDIS_TIMEOUT_MS: '300' })
    try {
      const { key } = await server.createKey({ daily_token_limit: 2 * TOKENS })
      expect((await server.chat(key)).status).toBe(200)
      await privateRedis!.stop()
      expect((await server.chat(key)).status).toBe(200)
      const refused = await server.chat(key)
      expect(refused.status).toBe(429)
      expect((await refused.json()).error.code).toBe('daily_token_limit_reached')
      expect(server.logs.filter((line) => line.includes('token budget: Redis is unavailable'))).toHaveLength(1)
    } finally {
      await privateRedis!.start()
      await server.close()
    }
  })

  it('with REDIS_FAILURE_MODE=closed, answers 503 rate_limiter_unavailable', async () => {
    upstream.mock.use(answerWithUsage())
    const server = await startServer({ REDIS_URL: privateRedis!.url, REDIS_TIMEOUT_MS: '300' })
    try {
      const { key } = await server.createKey({ daily_token_limit: 2 * TOKENS })
      expect((await server.chat(key)).status).toBe(200)
      await privateRedis!.stop()
      const refused = await server.chat(key)
      expect(refused.status).toBe(503)
      expect(refused.headers.get('retry-after')).toBe('2')
      expect((await refused.json()).error.code).toBe('rate_limiter_unavailable')
    } finally {
      await privateRedis!.start()
      await server.close()
    }
  })
})
