/**
 * Daily token budgets on their own: the in-memory budget with an injected clock, and the Redis one on
 * real Redis (its own prefix), what it keeps there and for how long, and outages on a private
 * redis-server that the tests stop. The HTTP side (429 bodies, Retry-After, soft cap, processes) is
 * in token-budget-api.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { HttpError } from '../../server/errors.ts'
import { createLogger } from '../../server/log.ts'
import {
  createMemoryTokenBudget,
  untilNextUtcDay,
  utcDay,
  type BudgetLimits,
  type DayUsage,
  type TokenBudget,
  type UsageSeed,
} from '../../server/token-budget.ts'
import { createRedisTokenBudget, type RedisTokenBudgetOptions } from '../../server/token-budget-redis.ts'
import { usePrivateRedis, useSharedRedis } from '../support/redis.ts'

const redis = await useSharedRedis()
const privateRedis = await usePrivateRedis()

const HOUR = 3_600_000
/** 2026-03-01 at 23:00 UTC. */
const LATE_EVENING = Date.UTC(2026, 2, 1, 23)

/** A moving clock: `at` is the time it reads; tests set it. */
const clock = (at = LATE_EVENING) => {
  const state = { at, now: () => state.at }
  return state
}

/** Usage as the store would have it, by day then key, with the seeds asked for logged. */
function recordedUsage(rows: Record<string, Record<string, number>> = {}) {
  const asked: string[] = []
  const seed: UsageSeed = async (accountId, day) => {
    asked.push(`${accountId} ${day}`)
    const byKey = new Map(Object.entries(rows[day] ?? {}))
    return { account: [...byKey.values()].reduce((a, b) => a + b, 0), byKey } satisfies DayUsage
  }
  return { seed, asked, rows }
}

const limits = (fields: Partial<BudgetLimits> = {}): BudgetLimits => ({
  keyId: 'k1',
  accountId: 'a1',
  keyLimit: null,
  accountLimit: null,
  ...fields,
})

/** A request's limits when it is held to some budget (the Redis budget adds only for those). */
const budgeted = (keyId: string, accountId: string) => limits({ keyId, accountId, accountLimit: 1_000_000 })

describe('the UTC day', () => {
  it.each([
    [Date.UTC(2026, 2, 1, 23), HOUR, '2026-03-01'],
    [Date.UTC(2026, 2, 1, 0, 0, 0, 0), 24 * HOUR, '2026-03-01'],
    [Date.UTC(2026, 2, 1, 23, 59, 59, 999), 1, '2026-03-01'],
    [Date.UTC(2026, 11, 31, 12), 12 * HOUR, '2026-12-31'],
  ])('at %i: %i ms until the next 00:00 UTC, on day %s', (at, until, day) => {
    expect(untilNextUtcDay(at)).toBe(until)
    expect(utcDay(at)).toBe(day)
  })
})

describe('the in-memory budget', () => {
  it('asks nothing of the store for a key and account without budgets', async () => {
    const usage = recordedUsage()
    const budget = createMemoryTokenBudget({ seed: usage.seed, now: clock().now })
    expect(await budget.check(limits())).toBeUndefined()
    expect(usage.asked).toEqual([])
  })

  it('admits below the key budget and refuses once used reaches it, until 00:00 UTC', async () => {
    const time = clock()
    const budget = createMemoryTokenBudget({ seed: recordedUsage().seed, now: time.now })
    const mine = limits({ keyLimit: 100 })
    expect(await budget.check(mine)).toBeUndefined()
    budget.add(budgeted('k1', 'a1'), 99)
    expect(await budget.check(mine)).toBeUndefined()
    budget.add(budgeted('k1', 'a1'), 1)
    expect(await budget.check(mine)).toEqual({ scope: 'key', limit: 100, retryAfterMs: HOUR })
    time.at += 30 * 60_000
    expect((await budget.check(mine))?.retryAfterMs).toBe(HOUR / 2)
  })

  it("counts every key of the account against the account's budget", async () => {
    const budget = createMemoryTokenBudget({ seed: recordedUsage().seed, now: clock().now })
    const first = limits({ keyId: 'k1', accountLimit: 50 })
    const second = limits({ keyId: 'k2', accountLimit: 50 })
    expect(await budget.check(first)).toBeUndefined()
    expect(await budget.check(second)).toBeUndefined()
    budget.add(budgeted('k1', 'a1'), 30)
    budget.add(budgeted('k2', 'a1'), 20)
    expect(await budget.check(limits({ keyId: 'k3', accountLimit: 50 }))).toMatchObject({ scope: 'account', limit: 50 })
    // Another account is apart.
    expect(await budget.check(limits({ keyId: 'k9', accountId: 'a2', accountLimit: 50 }))).toBeUndefined()
  })

  it("names the account's budget when both are spent", async () => {
    const budget = createMemoryTokenBudget({ seed: recordedUsage().seed, now: clock().now })
    expect(await budget.check(limits({ keyLimit: 10, accountLimit: 10 }))).toBeUndefined()
    budget.add(budgeted('k1', 'a1'), 10)
    expect(await budget.check(limits({ keyLimit: 10, accountLimit: 10 }))).toMatchObject({ scope: 'account' })
  })

  it('starts from the usage the store recorded today, and not from earlier days', async () => {
    const usage = recordedUsage({ '2026-02-28': { k1: 1_000 }, '2026-03-01': { k1: 60, k2: 30 } })
    const budget = createMemoryTokenBudget({ seed: usage.seed, now: clock().now })
    expect(await budget.check(limits({ keyLimit: 61 }))).toBeUndefined()
    expect(await budget.check(limits({ keyLimit: 60 }))).toMatchObject({ scope: 'key' })
    expect(await budget.check(limits({ keyId: 'k2', accountLimit: 90 }))).toMatchObject({ scope: 'account' })
    expect(usage.asked).toEqual(['a1 2026-03-01', 'a1 2026-03-01'])
  })

  it('reads the store once for many first requests at the same moment', async () => {
    const usage = recordedUsage()
    const budget = createMemoryTokenBudget({ seed: usage.seed, now: clock().now })
    await Promise.all(Array.from({ length: 20 }, () => budget.check(limits({ keyLimit: 5 }))))
    expect(usage.asked).toEqual(['a1 2026-03-01'])
  })

  it('adds nothing to a counter not yet seeded: the seed, from the store, already holds those tokens', async () => {
    const usage = recordedUsage({ '2026-03-01': { k1: 40 } })
    const budget = createMemoryTokenBudget({ seed: usage.seed, now: clock().now })
    budget.add(budgeted('k1', 'a1'), 40)
    expect(await budget.check(limits({ keyLimit: 41 }))).toBeUndefined()
  })

  it('adds to a counter it keeps even while no budget applies, so a budget set again later that day finds it exact', async () => {
    const budget = createMemoryTokenBudget({ seed: recordedUsage().seed, now: clock().now })
    expect(await budget.check(limits({ keyLimit: 10 }))).toBeUndefined()
    budget.add(limits(), 10)
    expect(await budget.check(limits({ keyLimit: 10 }))).toMatchObject({ scope: 'key' })
  })

  it('starts afresh at 00:00 UTC', async () => {
    const time = clock()
    const usage = recordedUsage()
    const budget = createMemoryTokenBudget({ seed: usage.seed, now: time.now })
    await budget.check(limits({ keyLimit: 10, accountLimit: 20 }))
    budget.add(budgeted('k1', 'a1'), 25)
    time.at = Date.UTC(2026, 2, 1, 23, 59, 59, 999)
    expect(await budget.check(limits({ keyLimit: 10, accountLimit: 20 }))).toEqual({ scope: 'account', limit: 20, retryAfterMs: 1 })
    time.at += 1
    expect(await budget.check(limits({ keyLimit: 10, accountLimit: 20 }))).toBeUndefined()
    expect(usage.asked).toEqual(['a1 2026-03-01', 'a1 2026-03-02'])
  })

  it('refuses the check when the store cannot be read, and reads it again next time', async () => {
    let fail = true
    const budget = createMemoryTokenBudget({
      seed: async () => {
        if (fail) throw new Error('store down')
        return { account: 0, byKey: new Map() }
      },
      now: clock().now,
    })
    await expect(budget.check(limits({ keyLimit: 5 }))).rejects.toThrow('store down')
    fail = false
    expect(await budget.check(limits({ keyLimit: 5 }))).toBeUndefined()
  })
})

const budgets: TokenBudget[] = []
afterEach(async () => {
  await Promise.all(budgets.splice(0).map((budget) => budget.close()))
})

let prefixes = 0
function redisBudget(url: string, basePrefix: string, options: Partial<RedisTokenBudgetOptions> = {}) {
  const lines: Record<string, unknown>[] = []
  const log = createLogger({ write: (line) => lines.push(JSON.parse(line)) })
  const prefix = `${basePrefix}${++prefixes}:`
  const usage = recordedUsage()
  const budget = createRedisTokenBudget({ url, prefix, timeoutMs: 5_000, failureMode: 'closed', log, seed: usage.seed, ...options })
  budgets.push(budget)
  return { budget, prefix, lines, usage }
}

/** Polls until `read` resolves to `want` (an add is sent without waiting for it). */
async function until<T>(read: () => Promise<T>, want: T) {
  await expect.poll(read, { timeout: 2_000, interval: 10 }).toEqual(want)
}

describe.skipIf(!redis)('the Redis budget on the shared Redis', () => {
  it('keeps one counter per key and per account and day, expiring two days on', async () => {
    const time = clock()
    const { budget, prefix } = redisBudget(redis!.url, redis!.prefix, { now: time.now })
    expect(await budget.check(limits({ keyLimit: 100, accountLimit: 100 }))).toBeUndefined()
    budget.add(budgeted('k1', 'a1'), 7)
    const key = `${prefix}tokens:key:k1:2026-03-01`
    const account = `${prefix}tokens:account:a1:2026-03-01`
    await until(() => redis!.client.mget(key, account), ['7', '7'])
    expect(await redis!.client.ttl(key)).toBeGreaterThan(2 * 86_400 - 60)
    expect(await redis!.client.ttl(account)).toBeGreaterThan(2 * 86_400 - 60)
    expect((await redis!.keys()).filter((name) => name.startsWith(prefix)).sort()).toEqual([account, key])
  })

  it("shares the counts between two processes' budgets", async () => {
    const one = redisBudget(redis!.url, redis!.prefix, { now: clock().now })
    const other = createRedisTokenBudget({
      url: redis!.url,
      prefix: one.prefix,
      timeoutMs: 5_000,
      failureMode: 'closed',
      log: createLogger({ write: () => {} }),
      seed: recordedUsage().seed,
      now: clock().now,
    })
    budgets.push(other)
    expect(await one.budget.check(limits({ accountLimit: 10 }))).toBeUndefined()
    other.add(budgeted('k2', 'a1'), 10)
    await until(async () => (await one.budget.check(limits({ accountLimit: 10 })))?.scope, 'account')
  })

  it('seeds a missing counter from the store, never over one that exists, and adds only to existing ones', async () => {
    const { budget, prefix, usage } = redisBudget(redis!.url, redis!.prefix, { now: clock().now })
    usage.rows['2026-03-01'] = { k1: 40, k2: 5 }
    budget.add(budgeted('k1', 'a1'), 1_000)
    const key = `${prefix}tokens:key:k1:2026-03-01`
    // The add came first and found no counter: it created none.
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(await redis!.client.exists(key)).toBe(0)
    expect(await budget.check(limits({ keyLimit: 41, accountLimit: 46 }))).toBeUndefined()
    expect(await redis!.client.mget(key, `${prefix}tokens:account:a1:2026-03-01`)).toEqual(['40', '45'])
    // A counter lost (a Redis flush) is seeded again; a present one is kept.
    usage.rows['2026-03-01'] = { k1: 41, k2: 5 }
    await redis!.client.del(key)
    expect(await budget.check(limits({ keyLimit: 41 }))).toMatchObject({ scope: 'key' })
    expect(await redis!.client.get(`${prefix}tokens:account:a1:2026-03-01`)).toBe('45')
  })

  it('reads the store once for many first requests at the same moment', async () => {
    const { budget, usage } = redisBudget(redis!.url, redis!.prefix, { now: clock().now })
    await Promise.all(Array.from({ length: 20 }, () => budget.check(limits({ accountLimit: 5 }))))
    expect(usage.asked).toEqual(['a1 2026-03-01'])
  })

  it('keeps counters only for budgets that are set, so one set later that day starts from the store', async () => {
    const { budget, prefix, usage } = redisBudget(redis!.url, redis!.prefix, { now: clock().now })
    const account = `${prefix}tokens:account:a1:2026-03-01`
    expect(await budget.check(limits({ keyLimit: 100 }))).toBeUndefined()
    budget.add(limits({ keyLimit: 100 }), 30)
    await until(() => redis!.client.get(`${prefix}tokens:key:k1:2026-03-01`), '30')
    expect(await redis!.client.exists(account)).toBe(0)
    // Meanwhile another key, held to no budget, answered 40 tokens, which the store recorded.
    usage.rows['2026-03-01'] = { k1: 30, k2: 40 }
    expect(await budget.check(limits({ keyLimit: 100, accountLimit: 70 }))).toMatchObject({ scope: 'account' })
    expect(await redis!.client.get(account)).toBe('70')
  })

  it('sends nothing to Redis after an answer held to no budget', async () => {
    const { budget, prefix } = redisBudget(redis!.url, redis!.prefix, { now: clock().now })
    expect(await budget.check(limits({ keyLimit: 100 }))).toBeUndefined()
    budget.add(limits(), 50)
    budget.add(budgeted('k1', 'a1'), 7)
    await until(() => redis!.client.get(`${prefix}tokens:key:k1:2026-03-01`), '7')
  })

  it('starts afresh at 00:00 UTC', async () => {
    const time = clock()
    const { budget } = redisBudget(redis!.url, redis!.prefix, { now: time.now })
    expect(await budget.check(limits({ keyLimit: 10 }))).toBeUndefined()
    budget.add(budgeted('k1', 'a1'), 10)
    await until(async () => (await budget.check(limits({ keyLimit: 10 })))?.retryAfterMs, HOUR)
    time.at = Date.UTC(2026, 2, 2)
    expect(await budget.check(limits({ keyLimit: 10 }))).toBeUndefined()
  })
})

describe.skipIf(!privateRedis)('the Redis budget when Redis stops', () => {
  it('refuses with 503 rate_limiter_unavailable (closed), warns once, and counts again once Redis is back', async () => {
    const { budget, lines } = redisBudget(privateRedis!.url, 'closed:', { timeoutMs: 300 })
    expect(await budget.check(limits({ keyLimit: 10 }))).toBeUndefined()
    await privateRedis!.stop()
    for (let i = 0; i < 3; i++) {
      const error = await budget.check(limits({ keyLimit: 10 })).catch((err: unknown) => err)
      expect(error).toBeInstanceOf(HttpError)
      expect(error).toMatchObject({ status: 503, code: 'rate_limiter_unavailable' })
    }
    expect(lines.filter((line) => line.level === 'warn')).toHaveLength(1)
    expect(lines[0]).toMatchObject({ msg: 'token budget: Redis is unavailable', failureMode: 'closed' })
    await privateRedis!.start()
    // Redis came back empty: the counter is seeded again from the store.
    await expect.poll(() => budget.check(limits({ keyLimit: 10 })).catch(() => 'down'), { timeout: 15_000, interval: 100 }).toBeUndefined()
    expect(lines.at(-1)).toMatchObject({ msg: 'token budget: Redis is available again' })
  })

  it('with REDIS_FAILURE_MODE=local, counts in memory while Redis is stopped', async () => {
    await privateRedis!.start()
    const usage = recordedUsage({ '2026-03-01': { k1: 8 } })
    const { budget, lines } = redisBudget(privateRedis!.url, 'local:', {
      timeoutMs: 300,
      failureMode: 'local',
      now: clock().now,
      seed: usage.seed,
    })
    const mine = limits({ keyLimit: 10 })
    expect(await budget.check(mine)).toBeUndefined()
    await privateRedis!.stop()
    // Seeded from the store too, so the day's earlier usage still counts.
    expect(await budget.check(mine)).toBeUndefined()
    budget.add(budgeted('k1', 'a1'), 2)
    expect(await budget.check(mine)).toMatchObject({ scope: 'key', limit: 10 })
    expect(lines.filter((line) => line.level === 'warn')).toEqual([expect.objectContaining({ failureMode: 'local' })])
    await privateRedis!.start()
  })
})
