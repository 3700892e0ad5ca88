/**
 * Many processes, one truth: three real `npm run serve` processes on one PostgreSQL database (this
 * file's own) and one Redis (under this run's own prefix), and the CLI as a fourth process. Limits
 * stay exact, a revocation reaches the process that made it at once and every other within a second
 * (each caches key records, forgetting them on PostgreSQL's NOTIFY), the 10-key limit holds under a
 * race, and usage adds up. Then PostgreSQL is cut away from a server and given back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, hasPostgres, type TestDatabase } from '../support/postgres.ts'
import { useSharedRedis } from '../support/redis.ts'
import { adminCall, createAccountKey, startServe, type ServeProcess } from '../support/serve.ts'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts'
import { startUpstreamDouble } from '../support/upstream-double.ts'
import { ADMIN_TOKEN, MODEL, completion, runCommand } from './harness.ts'

const redis = await useSharedRedis()
const ready = hasPostgres && redis !== undefined

let postgres: TestDatabase | undefined
let upstream: Awaited<ReturnType<typeof startUpstreamDouble>>

beforeAll(async () => {
  if (ready) postgres = await createTestDatabase()
  upstream = await startUpstreamDouble((req, res) => {
    req.resume()
    // Usage on every answer, so the totals can be added up exactly.
    req.on('end', () =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(completion('Hi', { prompt_tokens: 3, completion_tokens: 4 }))),
    )
  })
})
afterAll(async () => {
  await upstream.close()
  await postgres?.drop()
})

const serveEnv = (databaseUrl: string) => ({
  DATABASE_URL: databaseUrl,
  REDIS_URL: redis!.url,
  REDIS_PREFIX: redis!.prefix,
  ADMIN_TOKEN,
  UPSTREAM_BASE_URL: upstream.baseUrl,
  UPSTREAM_MODEL: 'upstream-model',
})

const chat = (url: string, key: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] }),
  })

const cli = (...args: string[]) =>
  runCommand('npm', ['run', '--silent', 'assisters', '--', ...args, '--json'], { DATABASE_URL: postgres!.url }, 30_000)

describe.skipIf(!ready)('three processes on one PostgreSQL and one Redis', () => {
  const servers: ServeProcess[] = []
  /** Every chat request answered 200 so far, by key id: what usage must add up to. */
  const admitted = new Map<string, number>()
  const count = (keyId: string, status: number) => {
    if (status === 200) admitted.set(keyId, (admitted.get(keyId) ?? 0) + 1)
    return status
  }

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) servers.push(await startServe(serveEnv(postgres!.url)))
  }, 60_000)
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()))
  })

  it('admits exactly 60 of 300 requests spread at random over the three, for a 60-a-minute key', async () => {
    const { key, id } = await createAccountKey(servers[0]!.url, ADMIN_TOKEN, { rate_limit_rpm: 60 })
    const statuses: number[] = []
    // 30 at a time, each to a process picked at random.
    for (let batch = 0; batch < 10; batch++) {
      statuses.push(
        ...(await Promise.all(
          Array.from({ length: 30 }, async () => {
            const server = servers[Math.floor(Math.random() * servers.length)]!
            return count(id, (await chat(server.url, key)).status)
          }),
        )),
      )
    }
    expect(statuses.filter((status) => status === 200)).toHaveLength(60)
    expect(statuses.filter((status) => status === 429)).toHaveLength(240)
  })

  it('refuses, on every process within a second, a key revoked through the CLI (a fourth process)', async () => {
    const { key, id } = await createAccountKey(servers[0]!.url, ADMIN_TOKEN)
    for (const server of servers) expect(count(id, (await chat(server.url, key)).status)).toBe(200)
    const revoked = await cli('keys', 'revoke', id)
    expect(revoked.code).toBe(0)
    expect(JSON.parse(revoked.stdout).revoked_at).toEqual(expect.any(String))
    // Each process forgets the key when PostgreSQL tells it of the change (LISTEN/NOTIFY), within a second.
    for (const server of servers)
      await expect.poll(async () => (await chat(server.url, key)).status, { timeout: 1_000, interval: 10 }).toBe(401)
  })

  it("refuses a key revoked through A's admin API on A's next request, and on B and C within a second", async () => {
    const [a, b, c] = servers as [ServeProcess, ServeProcess, ServeProcess]
    const { key, id } = await createAccountKey(a.url, ADMIN_TOKEN)
    expect(count(id, (await chat(b.url, key)).status)).toBe(200)
    expect(count(id, (await chat(c.url, key)).status)).toBe(200)
    expect(count(id, (await chat(a.url, key)).status)).toBe(200)
    expect((await adminCall(a.url, ADMIN_TOKEN, 'POST', `/admin/keys/${id}/revoke`)).status).toBe(200)
    expect((await chat(a.url, key)).status).toBe(401)
    for (const server of [b, c])
      await expect.poll(async () => (await chat(server.url, key)).status, { timeout: 1_000, interval: 10 }).toBe(401)
  })

  it('never lets two processes creating keys for one account at the same moment pass 10 active', async () => {
    const [a, b] = servers as [ServeProcess, ServeProcess]
    const account = (await adminCall(a.url, ADMIN_TOKEN, 'POST', '/admin/accounts', { name: 'Race' })).body
    const create = (server: ServeProcess, i: number) =>
      adminCall(server.url, ADMIN_TOKEN, 'POST', `/admin/accounts/${account.id}/keys`, { name: `k${i}` })
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => create(i % 2 ? a : b, i)))
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(10)
    expect(answers.filter((answer) => answer.status === 409).map((answer) => answer.body.error.code)).toEqual(
      Array(14).fill('key_limit_reached'),
    )
    const listed = (await adminCall(b.url, ADMIN_TOKEN, 'GET', `/admin/accounts/${account.id}/keys`)).body.data
    expect(listed).toHaveLength(10)
    expect(listed.filter((key: { is_primary: boolean }) => key.is_primary)).toHaveLength(1)
  })

  it('adds up the usage of all three exactly once they have stopped', async () => {
    const { key, id, accountId } = await createAccountKey(servers[1]!.url, ADMIN_TOKEN)
    for (let i = 0; i < 9; i++) count(id, (await chat(servers[i % 3]!.url, key)).status)
    // Each process buffers usage in memory and writes it on shutdown (SIGTERM).
    for (const server of servers) expect(await server.stop()).toBe(0)
    const usage = JSON.parse((await cli('usage', '--account', accountId)).stdout).data
    expect(usage).toEqual([expect.objectContaining({ key_id: id, requests: 9, prompt_tokens: 27, completion_tokens: 36 })])
    expect(admitted.get(id)).toBe(9)
  })
})

describe.skipIf(!ready)('PostgreSQL cut away from a running server, then given back', () => {
  let proxy: TcpProxy
  let server: ServeProcess

  beforeAll(async () => {
    const target = new URL(postgres!.url)
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) })
    target.port = String(proxy.port)
    server = await startServe({ ...serveEnv(target.href), DATABASE_STATEMENT_TIMEOUT_MS: '1000' })
  }, 30_000)
  afterAll(async () => {
    await server.stop()
    await proxy.close()
  })

  it('answers 503 store_unavailable within its deadline while the database is gone, and recovers by itself', async () => {
    const { key } = await createAccountKey(server.url, ADMIN_TOKEN)
    expect((await chat(server.url, key)).status).toBe(200)
    proxy.cut()
    for (let i = 0; i < 3; i++) {
      const started = Date.now()
      const answer = await chat(server.url, key)
      expect(answer.status).toBe(503)
      expect(answer.headers.get('retry-after')).toMatch(/^\d+$/)
      expect((await answer.json()).error.code).toBe('store_unavailable')
      // The deadline is a few seconds (the pool's connection timeout), never a hang.
      expect(Date.now() - started).toBeLessThan(10_000)
    }
    const ready = await fetch(`${server.url}/readyz`)
    expect([ready.status, (await ready.json()).checks.database]).toEqual([503, 'unavailable'])
    proxy.restore()
    await expect.poll(async () => (await chat(server.url, key)).status, { timeout: 15_000, interval: 250 }).toBe(200)
    expect(server.child.exitCode).toBeNull()
    // The URL's password, if any, and the database's own error text stay in the log, not the answer.
    expect(server.stderr()).toBe('')
  })
})
