import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createLogger } from '../../server/log.ts'
import { createMemoryRateLimiter, rateLimitHeaders, type RateDecision, type RateLimiter } from '../../server/rate-limit.ts'
import { createRedisRateLimiter } from '../../server/rate-limit-redis.ts'
import { useSharedRedis } from '../support/redis.ts'

const MINUTE = 60_000
const limiters: RateLimiter[] = []
const redis = await useSharedRedis()

/** A limiter on a clock the test moves by hand. */
function setup(options: { windowMs?: number } = {}) {
  const clock = { t: 0 }
  const limiter = createMemoryRateLimiter({ ...options, now: () => clock.t })
  limiters.push(limiter)
  const hitAt = (t: number, id: string, limit: number) => {
    clock.t = t
    return limiter.hit(id, limit)
  }
  return { limiter, hitAt }
}

afterEach(async () => {
  await Promise.all(limiters.splice(0).map((limiter) => limiter.close()))
  vi.restoreAllMocks()
})

describe('createMemoryRateLimiter on an injected clock', () => {
  it('refuses the 61st request in a minute and says when to retry', async () => {
    const { hitAt } = setup()
    expect((await hitAt(0, 'k', 60)).allowed).toBe(true)
    for (let i = 1; i < 60; i++) expect((await hitAt(1000 + i, 'k', 60)).allowed).toBe(true)

    expect(await hitAt(30_000, 'k', 60)).toEqual({
      allowed: false,
      limit: 60,
      remaining: 0,
      resetMs: 1059 + MINUTE - 30_000,
      retryAfterMs: 30_000,
    })
  })

  it('reports a reset of exactly one window right after an admission, even on a large fractional clock', async () => {
    // t + 60000 - t is 60000.00000000023 in floating point for this t: ceil would say 60001.
    const t = 2092787.622447021
    expect(Math.ceil(t + MINUTE - t)).toBe(MINUTE + 1)
    const limiter = createMemoryRateLimiter({ now: () => t })
    expect(await limiter.hit('k', 5)).toMatchObject({ resetMs: MINUTE })
    await limiter.close()
  })

  it('counts down the remaining admissions and reports a full window until reset', async () => {
    const { hitAt } = setup()
    expect(await hitAt(0, 'k', 3)).toEqual({ allowed: true, limit: 3, remaining: 2, resetMs: MINUTE, retryAfterMs: 0 })
    expect(await hitAt(10, 'k', 3)).toMatchObject({ remaining: 1, resetMs: MINUTE })
    expect(await hitAt(20, 'k', 3)).toMatchObject({ allowed: true, remaining: 0 })
  })

  it('admits again exactly when the oldest admission leaves the window', async () => {
    const { hitAt } = setup()
    await hitAt(100, 'k', 2)
    await hitAt(5000, 'k', 2)
    const refused = await hitAt(20_000, 'k', 2)
    expect(refused.retryAfterMs).toBe(100 + MINUTE - 20_000)
    expect((await hitAt(20_000 + refused.retryAfterMs - 1, 'k', 2)).allowed).toBe(false)
    expect((await hitAt(20_000 + refused.retryAfterMs, 'k', 2)).allowed).toBe(true)
  })

  it('does not count refused requests against the window', async () => {
    const { hitAt } = setup()
    await hitAt(0, 'k', 2)
    await hitAt(0, 'k', 2)
    for (let t = 1; t < MINUTE; t += 1000) expect((await hitAt(t, 'k', 2)).allowed).toBe(false)
    expect(await hitAt(MINUTE, 'k', 2)).toMatchObject({ allowed: true, remaining: 1 })
  })

  it('slides the window instead of resetting it at a fixed boundary', async () => {
    const { hitAt } = setup()
    for (let i = 0; i < 5; i++) expect((await hitAt(59_999, 'k', 5)).allowed).toBe(true)
    // A fixed one-minute window would start afresh at 60 000 and let a second burst through.
    expect(await hitAt(60_001, 'k', 5)).toMatchObject({ allowed: false, retryAfterMs: 59_998 })
    expect((await hitAt(119_999, 'k', 5)).allowed).toBe(true)
  })

  it('keeps the newer admissions when older ones expire', async () => {
    const { hitAt } = setup()
    await hitAt(0, 'k', 2)
    await hitAt(50_000, 'k', 2)
    expect((await hitAt(60_000, 'k', 2)).allowed).toBe(true)
    expect(await hitAt(60_001, 'k', 2)).toMatchObject({ allowed: false, retryAfterMs: 49_999, resetMs: 59_999 })
  })

  it('limits different ids independently', async () => {
    const { hitAt } = setup()
    expect((await hitAt(0, 'a', 1)).allowed).toBe(true)
    expect((await hitAt(0, 'a', 1)).allowed).toBe(false)
    expect((await hitAt(0, 'b', 1)).allowed).toBe(true)
  })

  it('admits more at once when the limit is raised', async () => {
    const { hitAt } = setup()
    await hitAt(0, 'k', 2)
    await hitAt(1, 'k', 2)
    expect((await hitAt(2, 'k', 2)).allowed).toBe(false)
    expect(await hitAt(3, 'k', 4)).toMatchObject({ allowed: true, limit: 4, remaining: 1 })
  })

  it('keeps the most recent admissions that fit when the limit is lowered', async () => {
    const { hitAt } = setup()
    await hitAt(0, 'k', 3)
    await hitAt(10, 'k', 3)
    await hitAt(20, 'k', 3)
    // The admission at 0 no longer fits; the one at 10 is now the oldest, so it decides the wait.
    expect(await hitAt(30, 'k', 2)).toMatchObject({ allowed: false, limit: 2, retryAfterMs: 10 + MINUTE - 30 })
    expect(await hitAt(10 + MINUTE, 'k', 2)).toMatchObject({ allowed: true, remaining: 0 })
  })

  it('takes room for the admissions it holds, not for its limit: a window per visitor of a key allowing 100,000 a minute', async () => {
    const { hitAt } = setup()
    const before = process.memoryUsage().arrayBuffers
    for (let visitor = 0; visitor < 200; visitor++) expect((await hitAt(0, `key visitor${visitor}`, 100_000)).allowed).toBe(true)
    // Room for the limit at once: 200 × 800 KB.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1_000_000)
  })

  it('grows a window to exactly its limit', async () => {
    const { hitAt } = setup()
    for (let i = 0; i < 1000; i++) expect(await hitAt(i, 'k', 1000)).toMatchObject({ allowed: true, remaining: 999 - i })
    expect(await hitAt(1000, 'k', 1000)).toMatchObject({ allowed: false, retryAfterMs: MINUTE - 1000 })
    expect((await hitAt(MINUTE, 'k', 1000)).allowed).toBe(true)
    expect((await hitAt(MINUTE, 'k', 1000)).allowed).toBe(false)
  })

  it('honours a custom window length', async () => {
    const { hitAt } = setup({ windowMs: 1000 })
    await hitAt(0, 'k', 1)
    expect(await hitAt(400, 'k', 1)).toMatchObject({ allowed: false, retryAfterMs: 600 })
    expect((await hitAt(1000, 'k', 1)).allowed).toBe(true)
  })

  it('rejects a limit that is not a positive integer', async () => {
    const { hitAt } = setup()
    for (const limit of [0, -1, 1.5, Number.NaN]) await expect(hitAt(0, 'k', limit)).rejects.toThrow(RangeError)
  })

  it('uses a monotonic clock by default and rounds waits up to whole milliseconds', async () => {
    const limiter = createMemoryRateLimiter()
    limiters.push(limiter)
    await limiter.hit('k', 1)
    const refused = await limiter.hit('k', 1)
    expect(refused.allowed).toBe(false)
    expect(Number.isInteger(refused.retryAfterMs)).toBe(true)
    expect(refused.retryAfterMs).toBeGreaterThan(MINUTE - 5000)
    expect(refused.retryAfterMs).toBeLessThanOrEqual(MINUTE)
  })

  it('never keeps the process alive with its housekeeping timer, and stops it on close', async () => {
    const setIntervalSpy = vi.spyOn(globalThis, 'setInterval')
    const clearIntervalSpy = vi.spyOn(globalThis, 'clearInterval')
    const limiter = createMemoryRateLimiter()
    const timer = setIntervalSpy.mock.results[0]?.value as NodeJS.Timeout
    expect(timer.hasRef()).toBe(false)
    await limiter.close()
    expect(clearIntervalSpy).toHaveBeenCalledWith(timer)
  })

  it('still limits correctly after its sweep has forgotten idle ids', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    try {
      const { hitAt } = setup()
      await hitAt(0, 'idle', 1)
      await hitAt(MINUTE - 1, 'busy', 1)
      vi.advanceTimersByTime(MINUTE)
      expect((await hitAt(MINUTE, 'idle', 1)).allowed).toBe(true)
      expect(await hitAt(MINUTE, 'busy', 1)).toMatchObject({ allowed: false, retryAfterMs: MINUTE - 1 })
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('createMemoryRateLimiter properties on an injected clock', () => {
  // Bursts, steady traffic and long pauses, so windows fill, slide and empty.
  const gap = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 90_000 }))

  it('never admits more than the limit in any window, and refuses only when the window is full', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 12 }), fc.array(gap, { maxLength: 300 }), async (limit, gaps) => {
        const { hitAt } = setup()
        const admitted: number[] = []
        let t = 0
        for (const dt of gaps) {
          t += dt
          const inWindow = admitted.filter((a) => a > t - MINUTE)
          const decision = await hitAt(t, 'k', limit)
          // Exact, not just safe: the verdict is precisely "fewer than `limit` in (t - window, t]".
          expect(decision.allowed).toBe(inWindow.length < limit)
          if (decision.allowed) {
            admitted.push(t)
            expect(decision.remaining).toBe(limit - inWindow.length - 1)
          } else {
            expect(decision.retryAfterMs).toBe(inWindow[0]! + MINUTE - t)
          }
        }
        for (const start of admitted) {
          expect(admitted.filter((a) => a >= start && a < start + MINUTE).length).toBeLessThanOrEqual(limit)
        }
      }),
    )
  })
})

describe('createMemoryRateLimiter against a reference model, on an injected clock (property)', () => {
  // A monotonic clock has fractions of a millisecond. These are 1/1024ths, so that sums stay exact
  // and "exactly the wait it was told" means what it says (t + wait in floating point can round
  // below the instant the oldest admission leaves, by one unit in the last place).
  const fraction = (maxMs: number) => fc.integer({ min: 0, max: maxMs * 1024 }).map((n) => n / 1024)
  // What a client does next: a request for some key after some pause, under that key's limit, which
  // its owner may change; or, right after a refusal, a retry after exactly the wait it was told.
  const step = fc.record({
    id: fc.constantFrom('a', 'b', 'c'),
    gap: fc.oneof(fc.constant(0), fraction(3000), fc.integer({ min: 0, max: 70_000 })),
    limit: fc.oneof({ weight: 4, arbitrary: fc.constant(3) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 6 }) }),
    retry: fc.boolean(),
  })

  it('keeps keys apart, decides exactly, and admits a client that waits exactly retryAfterMs', async () => {
    await fc.assert(
      fc.asyncProperty(fraction(10_000_000), fc.array(step, { maxLength: 200 }), async (start, steps) => {
        const { hitAt } = setup()
        // The model: each key's admission times, of which the limiter keeps the newest `limit`.
        const admitted: Record<string, number[]> = { a: [], b: [], c: [] }
        let t = start
        let refused: { id: string; limit: number; at: number; wait: number } | undefined
        for (const { id, gap, limit, retry } of steps) {
          const waited = retry && refused !== undefined
          const [key, cap] = waited ? [refused!.id, refused!.limit] : [id, limit]
          t = waited ? refused!.at + refused!.wait : t + gap
          const held = (admitted[key] = admitted[key]!.slice(-cap))
          const inWindow = held.filter((a) => a > t - MINUTE)
          const decision = await hitAt(t, key, cap)
          expect(decision.allowed).toBe(inWindow.length < cap)
          if (waited) expect(decision.allowed).toBe(true)
          refused = undefined
          if (decision.allowed) {
            held.push(t)
            expect(decision.remaining).toBe(cap - inWindow.length - 1)
            expect(decision.retryAfterMs).toBe(0)
          } else {
            expect(decision.remaining).toBe(0)
            // Whole ms, and the least that will do: one ms sooner the oldest admission is still inside.
            expect(Number.isInteger(decision.retryAfterMs)).toBe(true)
            expect(decision.retryAfterMs).toBeGreaterThan(0)
            expect(inWindow[0]! > t + decision.retryAfterMs - 1 - MINUTE).toBe(true)
            refused = { id: key, limit: cap, at: t, wait: decision.retryAfterMs }
          }
          expect(decision.resetMs).toBeGreaterThan(0)
          expect(decision.resetMs).toBeLessThanOrEqual(MINUTE)
        }
      }),
      { numRuns: 300 },
    )
  })
})

/**
 * The properties both limiters share, on a real clock: Redis's clock cannot be injected. Each decision
 * is timed by this process's clock, so a wait the limiter reports can be checked against the interval
 * in which the admission it depends on was decided (the limiters count from inside those intervals).
 */
interface TimedHit {
  decision: RateDecision
  sent: number
  received: number
}

let limiterCount = 0
const implementations: [string, ((windowMs?: number) => RateLimiter) | undefined][] = [
  ['memory', (windowMs) => createMemoryRateLimiter({ windowMs })],
  [
    'Redis',
    redis &&
      ((windowMs) =>
        createRedisRateLimiter({
          url: redis.url,
          // A prefix per limiter, so no test sees another's keys.
          prefix: `${redis.prefix}${++limiterCount}:`,
          // Generous: these tests are about decisions, not deadlines, on a loaded machine.
          timeoutMs: 10_000,
          failureMode: 'closed',
          log: createLogger({ write: () => {} }),
          windowMs,
        })),
  ],
]

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

for (const [name, create] of implementations) {
  describe.skipIf(!create)(`the ${name} limiter on a real clock`, () => {
    const make = (windowMs?: number) => {
      const limiter = create!(windowMs)
      limiters.push(limiter)
      const hit = async (id: string, limit: number): Promise<TimedHit> => {
        const sent = performance.now()
        const decision = await limiter.hit(id, limit)
        return { decision, sent, received: performance.now() }
      }
      return { limiter, hit }
    }
    // Clocks may differ in rate by a little (Redis's is the wall clock): a ms either way.
    const SLACK = 2
    /** A wait of `window - (now - then)`, where `then` is when `earlier` was decided and now when `later` was. */
    const expectWaitSince = (wait: number, earlier: TimedHit, later: TimedHit, windowMs = MINUTE) => {
      expect(wait).toBeGreaterThanOrEqual(Math.floor(windowMs - (later.received - earlier.sent)) - SLACK)
      expect(wait).toBeLessThanOrEqual(Math.ceil(windowMs - (later.sent - earlier.received)) + SLACK)
    }

    it('counts down the remaining admissions, then refuses and says when to retry', async () => {
      const { hit } = make()
      const admitted = [await hit('k', 3), await hit('k', 3), await hit('k', 3)]
      expect(admitted.map((h) => h.decision)).toEqual(
        [2, 1, 0].map((remaining) => ({ allowed: true, limit: 3, remaining, resetMs: MINUTE, retryAfterMs: 0 })),
      )
      const refused = await hit('k', 3)
      expect(refused.decision).toMatchObject({ allowed: false, limit: 3, remaining: 0 })
      expect(Number.isInteger(refused.decision.retryAfterMs)).toBe(true)
      expectWaitSince(refused.decision.retryAfterMs, admitted[0]!, refused)
      expectWaitSince(refused.decision.resetMs, admitted[2]!, refused)
    })

    it('admits a client that waits the retryAfterMs it was told', async () => {
      const { hit } = make(400)
      await hit('k', 2)
      await sleep(100)
      await hit('k', 2)
      const refused = (await hit('k', 2)).decision
      expect(refused.allowed).toBe(false)
      await sleep(refused.retryAfterMs)
      expect((await hit('k', 2)).decision.allowed).toBe(true)
    })

    it('does not count refused requests against the window', async () => {
      const { hit } = make(600)
      await hit('k', 2)
      const second = await hit('k', 2)
      for (let i = 0; i < 10; i++) {
        expect((await hit('k', 2)).decision.allowed).toBe(false)
        await sleep(25)
      }
      // Both admissions have left; the refusals of the last quarter second would still be inside, had they counted.
      await sleep(second.received + 600 + SLACK - performance.now())
      expect((await hit('k', 2)).decision).toMatchObject({ allowed: true, remaining: 1 })
    })

    it('limits different ids independently', async () => {
      const { hit } = make()
      expect((await hit('a', 1)).decision.allowed).toBe(true)
      expect((await hit('a', 1)).decision.allowed).toBe(false)
      expect((await hit('b', 1)).decision.allowed).toBe(true)
    })

    it('admits more at once when the limit is raised', async () => {
      const { hit } = make()
      await hit('k', 2)
      await hit('k', 2)
      expect((await hit('k', 2)).decision.allowed).toBe(false)
      expect((await hit('k', 4)).decision).toMatchObject({ allowed: true, limit: 4, remaining: 1 })
    })

    it('keeps the most recent admissions that fit when the limit is lowered', async () => {
      const { hit } = make()
      const first = await hit('k', 3)
      await sleep(200)
      const second = await hit('k', 3)
      await sleep(200)
      const third = await hit('k', 3)
      // The first admission no longer fits; the second is now the oldest, so it decides the wait.
      const refused = await hit('k', 2)
      expect(refused.decision).toMatchObject({ allowed: false, limit: 2, remaining: 0 })
      expectWaitSince(refused.decision.retryAfterMs, second, refused)
      expect(refused.decision.retryAfterMs).toBeGreaterThan(Math.ceil(MINUTE - (refused.sent - first.received)) + SLACK)
      expectWaitSince(refused.decision.resetMs, third, refused)
      // Raised again, the dropped admission stays dropped: two held, so two more fit.
      expect((await hit('k', 4)).decision).toMatchObject({ allowed: true, remaining: 1 })
    })

    it('rejects a limit that is not a positive integer', async () => {
      const { limiter } = make()
      for (const limit of [0, -1, 1.5, Number.NaN]) await expect(limiter.hit('k', limit)).rejects.toThrow(RangeError)
    })

    it('admits exactly the limit when many requests for one id arrive at once', async () => {
      const { limiter } = make()
      let run = 0
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 0, max: 200 }), async (limit, extra) => {
          const id = `k${++run}`
          const decisions = await Promise.all(Array.from({ length: limit + extra }, () => limiter.hit(id, limit)))
          const admitted = decisions.filter((d) => d.allowed)
          expect(admitted).toHaveLength(limit)
          // Each caller saw a distinct state: no two admissions were decided on the same count.
          expect(admitted.map((d) => d.remaining).sort((a, b) => a - b)).toEqual([...Array(limit).keys()])
        }),
        { numRuns: 30 },
      )
    })

    it('decides exactly, per key, under limits that change, against a reference model (property)', async () => {
      const { hit } = make()
      const step = fc.record({
        id: fc.constantFrom('a', 'b', 'c'),
        limit: fc.oneof({ weight: 4, arbitrary: fc.constant(3) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 6 }) }),
      })
      let run = 0
      await fc.assert(
        fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
          run++
          // Nothing leaves a one-minute window during a run, so the model needs no clock: each key's
          // admissions, of which the limiter keeps the newest `limit`.
          const held: Record<string, TimedHit[]> = { a: [], b: [], c: [] }
          for (const { id, limit } of steps) {
            const kept = (held[id] = held[id]!.slice(-limit))
            const now = await hit(`${run}:${id}`, limit)
            const { decision } = now
            expect(decision.allowed).toBe(kept.length < limit)
            if (decision.allowed) {
              kept.push(now)
              expect(decision).toEqual({ allowed: true, limit, remaining: limit - kept.length, resetMs: MINUTE, retryAfterMs: 0 })
            } else {
              expect(decision.remaining).toBe(0)
              expectWaitSince(decision.retryAfterMs, kept[0]!, now)
              expectWaitSince(decision.resetMs, kept.at(-1)!, now)
            }
          }
        }),
        { numRuns: 60 },
      )
    })
  })
}

describe('rateLimitHeaders', () => {
  const allowed: RateDecision = { allowed: true, limit: 60, remaining: 59, resetMs: MINUTE, retryAfterMs: 0 }
  const refused = (retryAfterMs: number): RateDecision => ({
    allowed: false,
    limit: 60,
    remaining: 0,
    resetMs: 59_900,
    retryAfterMs,
  })

  it('sends the limit, the remaining count and the reset time, and no Retry-After, when admitted', () => {
    expect(rateLimitHeaders(allowed)).toEqual({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '59',
      'x-ratelimit-reset-requests': '1m0s',
    })
  })

  it.each([
    [0, '0s'],
    [0.3, '1ms'],
    [120, '120ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [1234.5, '1.235s'],
    [59_900, '59.9s'],
    [60_000, '1m0s'],
    [90_500, '1m30.5s'],
    [3_600_000, '1h0m0s'],
  ])('writes a reset of %s ms as "%s"', (resetMs, expected) => {
    expect(rateLimitHeaders({ ...allowed, resetMs })['x-ratelimit-reset-requests']).toBe(expected)
  })

  it.each([
    [1, '1', '1'],
    [999, '1', '999'],
    [1000, '1', '1000'],
    [1001, '2', '1001'],
    [1500.2, '2', '1501'],
    [59_999, '60', '59999'],
    [0, '1', '1'],
  ])('when refused %s ms before a slot frees, sends Retry-After %s and retry-after-ms %s', (ms, seconds, millis) => {
    const headers = rateLimitHeaders(refused(ms))
    expect(headers['retry-after']).toBe(seconds)
    expect(headers['retry-after-ms']).toBe(millis)
    expect(headers['x-ratelimit-remaining-requests']).toBe('0')
    expect(headers['x-ratelimit-reset-requests']).toBe('59.9s')
  })
})
