/**
 * What only the Redis limiter has to show, against real Redis: exact across clients, what it keeps
 * in Redis and for how long, prefixes, Redis's clock, and outages on private redis-servers that the
 * tests stop, pause and start again (a deadline on every check, one warning per outage, recovery by
 * itself, no password in any log), through to the 503 a visitor's request gets from the real server.
 * The properties it shares with the memory limiter are in rate-limit.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { HttpError } from '../../server/errors.ts'
import { createLogger } from '../../server/log.ts'
import type { RateDecision, RateLimiter } from '../../server/rate-limit.ts'
import { createRedisRateLimiter, type RedisRateLimiterOptions } from '../../server/rate-limit-redis.ts'
import { usePrivateRedis, useSharedRedis } from '../support/redis.ts'
import { startServer } from './harness.ts'

const redis = await useSharedRedis()
const privateRedis = await usePrivateRedis()
// Percent-encoded in the URL; neither form may reach a log.
const PASSWORD = 'pw@Zq8/xT2-never-log'
const guarded = await usePrivateRedis({ password: PASSWORD })

const MINUTE = 60_000
/** The deadline under test, and how much later than it an answer may come on a loaded machine. */
const TIMEOUT_MS = 300
const LATE_MS = 1_500

const limiters: RateLimiter[] = []
afterEach(async () => {
  vi.useRealTimers()
  await Promise.all(limiters.splice(0).map((limiter) => limiter.close()))
})

let prefixes = 0
/** A limiter with its own prefix and a log the test can read (parsed JSON lines). */
function limiterOn(url: string, basePrefix: string, options: Partial<RedisRateLimiterOptions> = {}) {
  const lines: Record<string, unknown>[] = []
  const text: string[] = []
  const log = createLogger({ write: (line) => (text.push(line), lines.push(JSON.parse(line))) })
  const prefix = `${basePrefix}${++prefixes}:`
  const limiter = createRedisRateLimiter({ url, prefix, timeoutMs: 10_000, failureMode: 'closed', log, ...options })
  limiters.push(limiter)
  const warnings = () => lines.filter((line) => line.level === 'warn')
  const recoveries = () => lines.filter((line) => String(line.msg).includes('available again'))
  return { limiter, prefix, lines, text, warnings, recoveries }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls until the limiter answers from Redis again (it reconnects by itself), or fails after 15 s. */
async function untilAnswering(limiter: RateLimiter, id = 'probe') {
  const deadline = Date.now() + 15_000
  for (;;) {
    try {
      return await limiter.hit(id, 1_000_000)
    } catch (err) {
      if (Date.now() > deadline) throw err
      await sleep(100)
    }
  }
}

interface Answer {
  ms: number
  decision?: RateDecision
  error?: unknown
}

/** Hits from `workers` loops until `during` has run, timing each answer. */
async function underLoad(limiter: RateLimiter, id: string, limit: number, during: () => Promise<void>, workers = 4) {
  const answers: Answer[] = []
  let running = true
  const loop = async () => {
    while (running) {
      const started = performance.now()
      const answer: Answer = { ms: 0 }
      try {
        answer.decision = await limiter.hit(id, limit)
      } catch (err) {
        answer.error = err
      }
      answer.ms = performance.now() - started
      answers.push(answer)
      // Refusals can come at once: let timers (and the test) run between hits.
      await sleep(10)
    }
  }
  const loops = Array.from({ length: workers }, loop)
  await during()
  running = false
  await Promise.all(loops)
  return answers
}

const isUnavailable = (err: unknown) =>
  err instanceof HttpError && err.status === 503 && err.code === 'rate_limiter_unavailable' && err.headers['retry-after'] === '2'

describe.skipIf(!redis)('the Redis limiter on the shared Redis', () => {
  it('admits exactly the limit when two clients hit one key at once', async () => {
    const first = limiterOn(redis!.url, redis!.prefix)
    // A second limiter (its own connection) on the same prefix: another process, as far as Redis can tell.
    const second = createRedisRateLimiter({
      url: redis!.url,
      prefix: first.prefix,
      timeoutMs: 10_000,
      failureMode: 'closed',
      log: createLogger({ write: () => {} }),
    })
    limiters.push(second)
    const hits = Array.from({ length: 300 }, (_, i) => (i % 2 ? first.limiter : second).hit('shared', 60))
    const admitted = (await Promise.all(hits)).filter((d) => d.allowed)
    expect(admitted).toHaveLength(60)
    expect(admitted.map((d) => d.remaining).sort((a, b) => a - b)).toEqual([...Array(60).keys()])
  })

  it('keeps only admissions, in one sorted set per key that expires one window after its newest admission', async () => {
    const { limiter, prefix } = limiterOn(redis!.url, redis!.prefix)
    for (let i = 0; i < 7; i++) await limiter.hit('k', 2)
    expect(await redis!.client.type(`${prefix}rate:k`)).toBe('zset')
    expect(await redis!.client.zcard(`${prefix}rate:k`)).toBe(2)
    const ttl = await redis!.client.pttl(`${prefix}rate:k`)
    expect(ttl).toBeGreaterThan(50_000)
    expect(ttl).toBeLessThanOrEqual(60_000)
  })

  it('leaves nothing behind for a key that stays idle for a window', async () => {
    const { limiter, prefix } = limiterOn(redis!.url, redis!.prefix, { windowMs: 200 })
    await limiter.hit('idle', 5)
    expect(await redis!.client.exists(`${prefix}rate:idle`)).toBe(1)
    await sleep(400)
    expect(await redis!.client.exists(`${prefix}rate:idle`)).toBe(0)
  })

  it('keeps deployments with different prefixes apart', async () => {
    const one = limiterOn(redis!.url, redis!.prefix)
    const other = limiterOn(redis!.url, redis!.prefix)
    expect((await one.limiter.hit('same-id', 1)).allowed).toBe(true)
    expect((await one.limiter.hit('same-id', 1)).allowed).toBe(false)
    expect((await other.limiter.hit('same-id', 1)).allowed).toBe(true)
    expect(await redis!.client.exists(`${one.prefix}rate:same-id`, `${other.prefix}rate:same-id`)).toBe(2)
  })

  it("decides on Redis's clock, whatever this process's clock says", async () => {
    // This process a year ahead: a limiter reading it would store (and compare) times a year off.
    vi.useFakeTimers({ toFake: ['Date', 'performance'], now: Date.now() + 365 * 24 * 3600_000 })
    const { limiter, prefix } = limiterOn(redis!.url, redis!.prefix)
    expect(await limiter.hit('k', 1)).toMatchObject({ allowed: true, resetMs: 60_000 })
    expect(await limiter.hit('k', 1)).toMatchObject({ allowed: false })
    const [seconds, micros] = await redis!.client.time()
    const redisNowUs = Number(seconds) * 1e6 + Number(micros)
    const [, score] = await redis!.client.zrange(`${prefix}rate:k`, '0', '-1', 'WITHSCORES')
    expect(Number.isInteger(Number(score))).toBe(true)
    expect(redisNowUs - Number(score)).toBeGreaterThanOrEqual(0)
    expect(redisNowUs - Number(score)).toBeLessThan(10_000_000)
  })

  it("keeps admissions in order when Redis's clock steps back", async () => {
    const { limiter, prefix } = limiterOn(redis!.url, redis!.prefix)
    const log = `${prefix}rate:k`
    // An admission 5 s ahead of Redis's clock now: what a clock stepped back by 5 s leaves behind.
    const [seconds, micros] = await redis!.client.time()
    const ahead = Number(seconds) * 1e6 + Number(micros) + 5e6
    await redis!.client.zadd(log, ahead, 'from-before-the-step')
    // Later admissions count from that instant, as the memory limiter does with a clock that steps back.
    expect(await limiter.hit('k', 3)).toMatchObject({ allowed: true, remaining: 1, resetMs: MINUTE })
    expect(await limiter.hit('k', 3)).toMatchObject({ allowed: true, remaining: 0, resetMs: MINUTE })
    expect(await limiter.hit('k', 3)).toMatchObject({ allowed: false, retryAfterMs: MINUTE, resetMs: MINUTE })
    const scores = (await redis!.client.zrange(log, '0', '-1', 'WITHSCORES')).filter((_, i) => i % 2)
    expect(scores.map(Number)).toEqual([ahead, ahead, ahead])
    // And the log outlives the window measured from that instant, not from Redis's clock.
    expect(await redis!.client.pttl(log)).toBeGreaterThan(MINUTE + 4_000)
  })

  it('answers ping while Redis does', async () => {
    await expect(limiterOn(redis!.url, redis!.prefix).limiter.ping()).resolves.toBeUndefined()
  })
})

describe.skipIf(!privateRedis)('the Redis limiter when Redis stops, hangs or was never there', () => {
  it('loads its script once per connection, then sends only EVALSHA', async () => {
    await privateRedis!.stop()
    await privateRedis!.start() // empty statistics
    const { limiter } = limiterOn(privateRedis!.url, 'assisters-test:')
    for (let i = 0; i < 10; i++) await limiter.hit('k', 100)
    const { Redis } = await import('ioredis')
    const inspector = new Redis(privateRedis!.url)
    const stats = await inspector.info('commandstats')
    inspector.disconnect()
    expect(stats).toMatch(/cmdstat_eval:calls=1,/)
    expect(stats).toMatch(/cmdstat_evalsha:calls=9,/)
  })

  it('fails closed within its deadline while Redis is stopped, warns once, and recovers by itself', async () => {
    const { limiter, warnings, recoveries, lines } = limiterOn(privateRedis!.url, 'assisters-test:', { timeoutMs: TIMEOUT_MS })
    await untilAnswering(limiter)
    const answers = await underLoad(limiter, 'load', 1_000_000, async () => {
      await sleep(200)
      await privateRedis!.stop()
      await sleep(1_500)
    })
    const failed = answers.filter((a) => a.error)
    expect(failed.length).toBeGreaterThan(10)
    for (const answer of failed) expect(isUnavailable(answer.error)).toBe(true)
    for (const answer of answers) expect(answer.ms).toBeLessThan(TIMEOUT_MS + LATE_MS)
    // Refused at once while disconnected, not queued until the deadline: a queue would hold every request the full wait.
    const times = failed.map((a) => a.ms).sort((a, b) => a - b)
    expect(times[times.length >> 1]).toBeLessThan(TIMEOUT_MS / 2)
    expect(warnings()).toHaveLength(1)
    expect(warnings()[0]).toMatchObject({ msg: 'rate limiter: Redis is unavailable', failureMode: 'closed' })

    await privateRedis!.start()
    expect((await untilAnswering(limiter)).allowed).toBe(true)
    expect(warnings()).toHaveLength(1)
    expect(recoveries()).toHaveLength(1)
    expect(lines.indexOf(recoveries()[0]!)).toBeGreaterThan(lines.indexOf(warnings()[0]!))
  })

  it('fails closed within its deadline while Redis hangs, and recovers when it answers again', async () => {
    const { limiter, warnings, recoveries } = limiterOn(privateRedis!.url, 'assisters-test:', { timeoutMs: TIMEOUT_MS })
    await untilAnswering(limiter)
    let resumed = false
    try {
      const answers = await underLoad(limiter, 'load', 1_000_000, async () => {
        privateRedis!.pause()
        await sleep(1_500)
      })
      const failed = answers.filter((a) => a.error)
      expect(failed.length).toBeGreaterThan(4)
      for (const answer of failed) expect(isUnavailable(answer.error)).toBe(true)
      for (const answer of answers) expect(answer.ms).toBeLessThan(TIMEOUT_MS + LATE_MS)
      expect(warnings()).toHaveLength(1)
      privateRedis!.resume()
      resumed = true
      await untilAnswering(limiter)
      expect(warnings()).toHaveLength(1)
      expect(recoveries()).toHaveLength(1)
    } finally {
      if (!resumed) privateRedis!.resume()
    }
  })

  it('with REDIS_FAILURE_MODE=local, still limits each key in memory while Redis is stopped', async () => {
    const { limiter, warnings, recoveries } = limiterOn(privateRedis!.url, 'assisters-test:', {
      timeoutMs: TIMEOUT_MS,
      failureMode: 'local',
    })
    await untilAnswering(limiter)
    await privateRedis!.stop()
    try {
      const answers = await underLoad(limiter, 'local', 3, () => sleep(1_000))
      expect(answers.length).toBeGreaterThan(10)
      for (const answer of answers) {
        expect(answer.error).toBeUndefined()
        expect(answer.ms).toBeLessThan(TIMEOUT_MS + LATE_MS)
      }
      expect(answers.filter((a) => a.decision!.allowed)).toHaveLength(3)
      for (const refused of answers.filter((a) => !a.decision!.allowed)) expect(refused.decision!.retryAfterMs).toBeGreaterThan(0)
      expect(warnings()).toHaveLength(1)
      expect(warnings()[0]).toMatchObject({ failureMode: 'local' })
    } finally {
      await privateRedis!.start()
    }
    await vi.waitFor(() => expect(recoveries()).toHaveLength(1), { timeout: 15_000, interval: 100 })
    // Back on Redis, empty after its restart: the key is admitted there, where memory would refuse it.
    expect(await limiter.hit('local', 3)).toMatchObject({ allowed: true, remaining: 2 })
  })

  it('answers within its deadline when Redis is not there at start-up, and connects once it is', async () => {
    await privateRedis!.stop()
    const { limiter, warnings } = limiterOn(privateRedis!.url, 'assisters-test:', { timeoutMs: TIMEOUT_MS })
    try {
      for (let i = 0; i < 3; i++) {
        const started = performance.now()
        const error = await limiter.hit('k', 5).catch((err: unknown) => err)
        expect(isUnavailable(error)).toBe(true)
        expect(performance.now() - started).toBeLessThan(TIMEOUT_MS + LATE_MS)
      }
      await expect(limiter.ping()).rejects.toThrow(/Redis did not answer/)
      expect(warnings()).toHaveLength(1)
    } finally {
      await privateRedis!.start()
    }
    expect(await untilAnswering(limiter, 'k')).toMatchObject({ allowed: true })
  })
})

describe.skipIf(!guarded)('the Redis password', () => {
  it('never reaches a log line or an error, through an outage and a wrong password', async () => {
    const right = limiterOn(guarded!.url, 'assisters-test:', { timeoutMs: TIMEOUT_MS })
    await untilAnswering(right.limiter)
    const wrongUrl = guarded!.url.replace(encodeURIComponent(PASSWORD), 'wrong%40pw-Kx7-secret')
    const wrong = limiterOn(wrongUrl, 'assisters-test:', { timeoutMs: TIMEOUT_MS })
    const refused = await wrong.limiter.hit('k', 1).catch((err: unknown) => err)
    expect(isUnavailable(refused)).toBe(true)
    const pingError = await wrong.limiter.ping().catch((err: unknown) => err as Error)
    expect(wrong.warnings()).toHaveLength(1)

    await guarded!.stop()
    try {
      expect(isUnavailable(await right.limiter.hit('k', 1).catch((err: unknown) => err))).toBe(true)
      expect(right.warnings()).toHaveLength(1)
    } finally {
      await guarded!.start()
    }
    const everything = [...right.text, ...wrong.text, JSON.stringify(refused), String(pingError)].join('\n')
    for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), 'wrong@pw-Kx7-secret', 'wrong%40pw-Kx7-secret', 'Zq8', 'Kx7']) {
      expect(everything).not.toContain(secret)
    }
  })
})

describe.skipIf(!privateRedis)('the server when Redis stops', () => {
  it('answers 503 rate_limiter_unavailable with Retry-After, then serves again once Redis is back', async () => {
    const server = await startServer({
      REDIS_URL: privateRedis!.url,
      REDIS_PREFIX: 'assisters-test:http:',
      REDIS_TIMEOUT_MS: String(TIMEOUT_MS),
    })
    try {
      const { key } = await server.createKey({ allowed_domains: ['shop.example'], rate_limit_rpm: 2 })
      const origin = { origin: 'https://shop.example' }
      // An invalid body is answered after the limiter: the limiter's verdict, without an upstream.
      const first = await server.chat(key, '{not json', origin)
      expect(first.status).toBe(400)
      expect(first.headers.get('x-ratelimit-remaining-requests')).toBe('1')

      await privateRedis!.stop()
      try {
        const started = performance.now()
        const down = await server.chat(key, '{not json', origin)
        expect(performance.now() - started).toBeLessThan(TIMEOUT_MS + LATE_MS)
        expect(down.status).toBe(503)
        expect(down.headers.get('retry-after')).toBe('2')
        expect(down.headers.get('content-type')).toMatch(/^application\/json/)
        expect(down.headers.get('access-control-allow-origin')).toBe('https://shop.example')
        expect(await down.json()).toEqual({
          error: {
            message: 'The service is briefly unavailable; please try again in a moment',
            type: 'api_error',
            code: 'rate_limiter_unavailable',
          },
        })
        expect((await server.chat(key, '{not json', origin)).status).toBe(503)
        const warnings = server.logs.filter((line) => line.includes('"level":"warn"'))
        expect(warnings).toHaveLength(1)
        expect(warnings[0]).toContain('Redis is unavailable')
        // A refusal the server chose is no server failure: no error line per request.
        expect(server.logs.filter((line) => line.includes('"level":"error"'))).toHaveLength(0)
      } finally {
        await privateRedis!.start()
      }
      // The restarted Redis is empty, so the key's window starts afresh.
      const deadline = Date.now() + 15_000
      let again = await server.chat(key, '{not json', origin)
      while (again.status === 503 && Date.now() < deadline) {
        await sleep(100)
        again = await server.chat(key, '{not json', origin)
      }
      expect(again.status).toBe(400)
      expect((await server.chat(key, '{not json', origin)).status).toBe(400)
      expect((await server.chat(key, '{not json', origin)).status).toBe(429)
    } finally {
      await server.close()
    }
  })
})
