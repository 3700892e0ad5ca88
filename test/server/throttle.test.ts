/**
 * The dashboard's sign-in and sign-up throttles on the rate limiter: failures counted before the
 * outcome and successes given back (memory and Redis), shared by every process through Redis, with
 * two owners' auths on one store standing for two server processes; emails never kept in the clear.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { HttpError } from '../../server/errors.ts'
import { createLogger } from '../../server/log.ts'
import { createOwnerAuth } from '../../server/owner-auth.ts'
import { hashPassword } from '../../server/passwords.ts'
import { createMemoryRateLimiter, type RateLimiter } from '../../server/rate-limit.ts'
import { createRedisRateLimiter } from '../../server/rate-limit-redis.ts'
import { openSqliteStore } from '../../server/store/sqlite.ts'
import { createOwnerThrottles, createThrottle } from '../../server/throttle.ts'
import { useSharedRedis } from '../support/redis.ts'

const redis = await useSharedRedis()
const opened: RateLimiter[] = []
afterEach(async () => {
  for (const limiter of opened.splice(0)) await limiter.close()
})

const quiet = createLogger({ write: () => {} })
const memory = (windowMs = 60_000, now?: () => number) => {
  const limiter = createMemoryRateLimiter({ windowMs, now })
  opened.push(limiter)
  return limiter
}
/** A limiter in the shared Redis under this run's prefix plus `scope`: one per "process". */
const inRedis = (scope: string, windowMs = 60_000) => {
  const limiter = createRedisRateLimiter({
    url: redis!.url,
    prefix: `${redis!.prefix}${scope}:`,
    timeoutMs: 2000,
    failureMode: 'closed',
    log: quiet,
    windowMs,
  })
  opened.push(limiter)
  return limiter
}

describe.each([
  ['memory', () => memory()],
  ['Redis', () => inRedis(`single-${Math.random()}`)],
])('a throttle in %s', (engine, limiterFor) => {
  it.skipIf(engine === 'Redis' && !redis)(
    'counts attempts to the limit, then answers the wait; a refund gives one place back',
    async () => {
      const throttle = createThrottle(limiterFor(), 'test', 3)
      expect([await throttle.reserve('a'), await throttle.reserve('a'), await throttle.reserve('a')]).toEqual([0, 0, 0])
      const wait = await throttle.reserve('a')
      expect(wait).toBeGreaterThan(55_000)
      expect(wait).toBeLessThanOrEqual(60_000)
      // Another id has its own count.
      expect(await throttle.reserve('b')).toBe(0)
      await throttle.refund('a')
      expect(await throttle.reserve('a')).toBe(0)
      expect(await throttle.reserve('a')).toBeGreaterThan(0)
    },
  )
})

describe('a throttle in memory, on its clock', () => {
  it('lets the id try again once its oldest attempt is a window old', async () => {
    let now = 1_000_000
    const throttle = createThrottle(
      memory(60_000, () => now),
      'test',
      2,
    )
    await throttle.reserve('a')
    now += 10_000
    await throttle.reserve('a')
    expect(await throttle.reserve('a')).toBe(50_000)
    now += 50_000
    expect(await throttle.reserve('a')).toBe(0)
  })
})

describe.skipIf(!redis)('throttles shared through Redis', () => {
  it('hold one limit across processes: 10 failures split between two, then the 11th is refused on either', async () => {
    const [first, second] = ['p1', 'p2'].map(() => createThrottle(inRedis('shared'), 'sign-in-email', 10))
    const answers = await Promise.all(Array.from({ length: 14 }, (_, i) => (i % 2 ? first! : second!).reserve('ana@example.com')))
    expect(answers.filter((wait) => wait === 0)).toHaveLength(10)
    expect(await first!.reserve('ana@example.com')).toBeGreaterThan(0)
    expect(await second!.reserve('ana@example.com')).toBeGreaterThan(0)
    // A success on one process frees a place for the other.
    await first!.refund('ana@example.com')
    expect(await second!.reserve('ana@example.com')).toBe(0)
  })

  it('keeps no email or address in Redis in the clear', async () => {
    const throttle = createThrottle(inRedis('clear'), 'sign-in-email', 10)
    await throttle.reserve('someone@example.com')
    const keys = (await redis!.keys()).join(' ')
    expect(keys).toContain('sign-in-email:')
    expect(keys).not.toContain('someone')
  })

  it("refuses the 11th wrong password for an email even when two servers' sign-ins share the work", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'assisters-throttle-'))
    const store = openSqliteStore(join(dir, 'test.db'))
    try {
      await store.createAccount('acct_1', 'A')
      await store.createOwner('owner_1', 'acct_1', 'ana@example.com')
      await store.setOwnerPassword('owner_1', await hashPassword('the right password'))
      const servers = ['s1', 's2'].map(() =>
        createOwnerAuth(store, { throttles: createOwnerThrottles((windowMs) => inRedis('owners', windowMs)) }),
      )
      for (let i = 0; i < 10; i++) {
        const wrong = servers[i % 2]!.signIn({ email: 'ana@example.com', password: `wrong password ${i}` }, `198.51.100.${i}`)
        await expect(wrong).rejects.toMatchObject({ status: 401 })
      }
      for (const server of servers) {
        const refused = await server.signIn({ email: 'ana@example.com', password: 'the right password' }, '203.0.113.9').catch((err) => err)
        expect(refused).toBeInstanceOf(HttpError)
        expect(refused).toMatchObject({ status: 429, code: 'too_many_sign_ins' })
      }
    } finally {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
