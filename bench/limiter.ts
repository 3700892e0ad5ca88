/**
 * Section: what one rate-limit check costs, in memory against in Redis (one Lua script per check),
 * and likewise one daily token-budget check (a map lookup, or one MGET), as the server pays them: the time from calling `hit` to holding the decision, one at a time (the
 * latency a request sees) and 32 at once (how many checks a second one process gets answered).
 * Repeats alternate between the two, so drift on a shared machine hits both alike.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { createLogger } from '../server/log.ts'
import { createMemoryRateLimiter, type RateLimiter } from '../server/rate-limit.ts'
import { createRedisRateLimiter } from '../server/rate-limit-redis.ts'
import { createMemoryTokenBudget, type TokenBudget, type UsageSeed } from '../server/token-budget.ts'
import { createRedisTokenBudget } from '../server/token-budget-redis.ts'
import { median, quantile, ratio, whole, withSpread, type BenchSection } from './report.ts'

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const SHOWN_URL = REDIS_URL.replace(/\/\/[^@/]*@/, '//…@')
const IN_FLIGHT = 32
/** Keys in use, so that each check finds a log with admissions in it, as a busy server's would. */
const KEYS = 100

interface Run {
  /** Median and p99 of one check at a time, in µs. */
  p50Us: number
  p99Us: number
  /** This process's CPU time per check (not the Redis server's), in µs. */
  cpuUs: number
  /** Checks answered per second with IN_FLIGHT at once. */
  perSecond: number
}

// A limit no key reaches: every check admits and writes, the dearer path.
const rateCheck = (limiter: RateLimiter) => (i: number) => limiter.hit(`key-${i % KEYS}`, 1_000_000)

// Budgets no key reaches, on both the key and its account: every check reads both counters.
const budgetCheck = (budget: TokenBudget) => (i: number) =>
  budget.check({ keyId: `key-${i % KEYS}`, accountId: `account-${i % 10}`, keyLimit: 1e12, accountLimit: 1e12 })
/** No usage recorded: the counters are seeded (once, in the warm-up) at 0. */
const noUsage: UsageSeed = async () => ({ account: 0, byKey: new Map() })

async function measure(hit: (i: number) => Promise<unknown>, calls: number): Promise<Run> {
  for (let i = 0; i < 1000; i++) await hit(i) // warm-up: JIT, connection, script loaded

  const times = new Float64Array(calls)
  const cpuBefore = process.cpuUsage()
  for (let i = 0; i < calls; i++) {
    const started = performance.now()
    await hit(i)
    times[i] = (performance.now() - started) * 1000
  }
  const cpu = process.cpuUsage(cpuBefore)
  times.sort()

  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < calls) await hit(next++)
    }),
  )
  return {
    p50Us: quantile(times, 0.5),
    p99Us: quantile(times, 0.99),
    cpuUs: (cpu.user + cpu.system) / calls,
    perSecond: calls / ((performance.now() - started) / 1000),
  }
}

/** Runs the section; without Redis it says so instead of failing the whole bench. */
export async function benchLimiter(options: { calls: number; repeats: number }): Promise<BenchSection> {
  const title = 'One rate-limit check and one token-budget check: memory against Redis'
  const prefix = `assisters-bench:${randomBytes(6).toString('hex')}:`
  const log = createLogger({ write: () => {} })
  const probe = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
  probe.on('error', () => {})
  try {
    await probe.connect()
  } catch {
    probe.disconnect()
    return { title, method: `Skipped: Redis is not answering at ${SHOWN_URL}.`, tables: [], targets: [] }
  }

  const memory: Run[] = []
  const redis: Run[] = []
  const budgetMemory: Run[] = []
  const budgetRedis: Run[] = []
  try {
    for (let r = 0; r < options.repeats; r++) {
      const inMemory = createMemoryRateLimiter()
      memory.push(await measure(rateCheck(inMemory), options.calls))
      await inMemory.close()
      const inRedis = createRedisRateLimiter({ url: REDIS_URL, prefix: `${prefix}${r}:`, timeoutMs: 5_000, failureMode: 'closed', log })
      redis.push(await measure(rateCheck(inRedis), options.calls))
      await inRedis.close()
      const budgetInMemory = createMemoryTokenBudget({ seed: noUsage })
      budgetMemory.push(await measure(budgetCheck(budgetInMemory), options.calls))
      await budgetInMemory.close()
      const budget = { url: REDIS_URL, prefix: `${prefix}${r}:`, timeoutMs: 5_000, failureMode: 'closed' as const, log, seed: noUsage }
      const budgetInRedis = createRedisTokenBudget(budget)
      budgetRedis.push(await measure(budgetCheck(budgetInRedis), options.calls))
      await budgetInRedis.close()
    }
  } finally {
    // The bench's keys go, whatever happened.
    let cursor = '0'
    do {
      const [next, keys] = await probe.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      if (keys.length) await probe.del(...keys)
      cursor = next
    } while (cursor !== '0')
    probe.disconnect()
  }

  const us = (value: number) => `${value.toFixed(1)} µs`
  const fields: [keyof Run, (value: number) => string][] = [
    ['p50Us', us],
    ['p99Us', us],
    ['cpuUs', us],
    ['perSecond', whole],
  ]
  const row = (name: string, runs: Run[]) => [
    name,
    ...fields.map(([field, format]) =>
      withSpread(
        runs.map((r) => r[field]),
        format,
      ),
    ),
  ]
  const times = (field: keyof Run, over = redis, under = memory) =>
    ratio(median(over.map((r) => r[field])) / median(under.map((r) => r[field])))
  return {
    title,
    method:
      `${options.calls.toLocaleString('en-US')} checks over ${KEYS} keys, each admitted (a sorted-set write in Redis; ` +
      'for the budgets, a key and an account budget that are never reached: one MGET of both counters in Redis), ' +
      `${options.repeats} alternating repeats; median (min–max) of the repeats. Latency is one check at a time, from ` +
      `\`hit()\` to its decision; CPU is this process's, a mean per check (the Redis server's is not counted); throughput keeps ` +
      `${IN_FLIGHT} checks in flight on the one connection. Redis at ${SHOWN_URL}, on the same machine (loopback): ` +
      'a Redis across a network adds its round trip to every check.',
    tables: [
      [
        ['limiter', 'p50 per check', 'p99 per check', 'CPU per check', `checks per second (${IN_FLIGHT} in flight)`],
        row('memory', memory),
        row('Redis', redis),
        ['Redis ÷ memory', ...fields.map(([field]) => times(field))],
        row('budget, memory', budgetMemory),
        row('budget, Redis', budgetRedis),
        ['budget: Redis ÷ memory', ...fields.map(([field]) => times(field, budgetRedis, budgetMemory))],
      ],
    ],
    targets: [],
  }
}
