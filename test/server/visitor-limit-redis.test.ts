/**
 * The per-visitor limit across processes: three real `npm run serve` processes sharing one SQLite
 * file and one Redis (under this run's own prefix), behind a proxy they trust on loopback. Whatever
 * process each request reaches, each visitor gets exactly VISITOR_RPM a minute; and every process
 * gives a visitor the same pseudonymous id upstream, from the secret the first one stored.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { useSharedRedis } from '../support/redis.ts'
import { createAccountKey, startServe, type ServeProcess } from '../support/serve.ts'
import { startUpstreamDouble } from '../support/upstream-double.ts'
import { ADMIN_TOKEN, MODEL } from './harness.ts'

const redis = await useSharedRedis()
const VISITOR_RPM = 5
const ORIGIN = 'https://shop.example'

describe.skipIf(!redis)('the per-visitor limit on three processes sharing Redis', () => {
  const servers: ServeProcess[] = []
  let dir: string
  let upstream: Awaited<ReturnType<typeof startUpstreamDouble>>

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'assisters-visitors-'))
    upstream = await startUpstreamDouble()
    const env = {
      DATABASE_URL: `sqlite:${join(dir, 'shared.db')}`,
      REDIS_URL: redis!.url,
      REDIS_PREFIX: redis!.prefix,
      ADMIN_TOKEN,
      UPSTREAM_BASE_URL: upstream.baseUrl,
      UPSTREAM_MODEL: 'upstream-model',
      TRUST_PROXY: '127.0.0.1',
      VISITOR_RPM: String(VISITOR_RPM),
    }
    // Started together: the first to store the visitor-id secret decides it for all.
    servers.push(...(await Promise.all([startServe(env), startServe(env), startServe(env)])))
  }, 60_000)
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()))
    await upstream?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  const VISITORS = ['198.51.100.1', '198.51.100.2', '203.0.113.3', '2001:db8:a:b::1', '2001:db8:a:c::1']

  const models = (server: ServeProcess, key: string, visitor: string) =>
    fetch(`${server.url}/v1/models`, {
      headers: { authorization: `Bearer ${key}`, origin: ORIGIN, 'x-forwarded-for': visitor, connection: 'close' },
    })

  it('admits exactly VISITOR_RPM per visitor of many requests at once, spread at random over the processes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ visitor: fc.nat(VISITORS.length - 1), server: fc.nat(2) }), { minLength: 15, maxLength: 60 }),
        async (requests) => {
          const { key } = await createAccountKey(servers[0]!.url, ADMIN_TOKEN, { allowed_domains: ['shop.example'], rate_limit_rpm: 1000 })
          const statuses = await Promise.all(
            requests.map(async ({ visitor, server }) => (await models(servers[server]!, key, VISITORS[visitor]!)).status),
          )
          for (const [index] of VISITORS.entries()) {
            const sent = statuses.filter((_, i) => requests[i]!.visitor === index)
            expect(sent.filter((status) => status === 200)).toHaveLength(Math.min(sent.length, VISITOR_RPM))
            expect(sent.filter((status) => status === 429)).toHaveLength(Math.max(0, sent.length - VISITOR_RPM))
          }
        },
      ),
      { numRuns: 8, endOnFailure: true },
    )
  }, 60_000)

  it('sends the upstream one pseudonymous id per visitor and key from every process, never the client’s user', async () => {
    const { key } = await createAccountKey(servers[0]!.url, ADMIN_TOKEN, { allowed_domains: ['shop.example'] })
    const chat = (server: ServeProcess, visitor: string) =>
      fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, origin: ORIGIN, 'content-type': 'application/json', 'x-forwarded-for': visitor },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], user: 'admin@victim.example' }),
      })
    const before = upstream.requests.length
    for (const server of servers) expect((await chat(server, '192.0.2.10')).status).toBe(200)
    expect((await chat(servers[1]!, '192.0.2.11')).status).toBe(200)
    const users = upstream.requests.slice(before).map((body) => (body as { user?: string }).user)
    expect(users[0]).toMatch(/^[\w-]{22}$/)
    expect(users.slice(0, 3)).toEqual([users[0], users[0], users[0]])
    expect(users[3]).not.toBe(users[0])
  })
})
