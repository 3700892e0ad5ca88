/**
 * Section: what one rate-limit check costs, in memory against in Redis (one Lua script per check),
 * as the server pays it: the time from calling `hit` to holding the decision, one at a time (the
 * latency a request sees) and 32 at once (how many checks a second one process gets answered).
 * Likewise a chat request's daily token-budget check (a map lookup, or one MGET) and its stream slot:
 * acquire, then release (in Redis one Lua script, then two ZREMs nobody waits for). Repeats alternate
 * between memory and Redis, so drift on a shared machine hits both alike.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { createLogger } from '../server/log.ts'
import { createMemoryRateLimiter, type RateLimiter } from '../server/rate-limit.ts'
import { createRedisRateLimiter } from '../server/rate-limit-redis.ts'
import { createMemoryStreamSlots, createRedisStreamSlots, type StreamSlots } from '../server/stream-slots.ts'
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
const checkOf = (limiter: RateLimiter) => (i: number) => limiter.hit(`key-${i % KEYS}`, 1_000_000)

/** A widget key's slot (the dearer path: the key's set and the visitor's), given back at once. */
const slotOf = (slots: StreamSlots) => async (i: number) => {
  const slot = await slots.acquire(`key-${i % KEYS}`, `203.0.113.${i % 7}`, { key: 1_000_000, visitor: 1_000_000 })
  if ('release' in slot) slot.release()
}

// Budgets no key reaches, on both the key and its account: every check reads both counters.
const budgetOf = (budget: TokenBudget) => (i: number) =>
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
  const title = 'One rate-limit check, one token-budget check and one stream slot: memory against Redis'
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
  const memorySlots: Run[] = []
  const redisSlots: Run[] = []
  const memoryBudgets: Run[] = []
  const redisBudgets: Run[] = []
  const inRedis = { url: REDIS_URL, timeoutMs: 5_000, failureMode: 'closed' as const, log }
  try {
    for (let r = 0; r < options.repeats; r++) {
      const limiter = createMemoryRateLimiter()
      memory.push(await measure(checkOf(limiter), options.calls))
      await limiter.close()
      const shared = createRedisRateLimiter({ ...inRedis, prefix: `${prefix}${r}:` })
      redis.push(await measure(checkOf(shared), options.calls))
      await shared.close()
      const slots = createMemoryStreamSlots()
      memorySlots.push(await measure(slotOf(slots), options.calls))
      await slots.close()
      const leases = createRedisStreamSlots({ ...inRedis, prefix: `${prefix}${r}:`, leaseMs: 30_000 })
      redisSlots.push(await measure(slotOf(leases), options.calls))
      await leases.close()
      const budgets = createMemoryTokenBudget({ seed: noUsage })
      memoryBudgets.push(await measure(budgetOf(budgets), options.calls))
      await budgets.close()
      const counters = createRedisTokenBudget({ ...inRedis, prefix: `${prefix}${r}:`, seed: noUsage })
      redisBudgets.push(await measure(budgetOf(counters), options.calls))
      await counters.close()
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
  const times = (field: keyof Run, inRedis: Run[], inMemory: Run[]) =>
    ratio(median(inRedis.map((r) => r[field])) / median(inMemory.map((r) => r[field])))
  return {
    title,
    method:
      `${options.calls.toLocaleString('en-US')} checks over ${KEYS} keys, each admitted (a sorted-set write in Redis; ` +
      'for the budgets, a key and an account budget that are never reached: one MGET of both counters in Redis), ' +
      `${options.repeats} alternating repeats; median (min–max) of the repeats. Latency is one check at a time, from ` +
      `\`hit()\` to its decision; CPU is this process's, a mean per check (the Redis server's is not counted); throughput keeps ` +
      `${IN_FLIGHT} checks in flight on the one connection. Redis at ${SHOWN_URL}, on the same machine (loopback): ` +
      'a Redis across a network adds its round trip to every check. A stream slot is what each chat request ' +
      "also pays: acquire for a widget key's visitor (the key's set and the visitor's), then release; in Redis " +
      'the release is two ZREMs that the request does not wait for, so latency is the acquire, CPU both.',
    tables: [
      [
        ['check', 'p50 per check', 'p99 per check', 'CPU per check', `checks per second (${IN_FLIGHT} in flight)`],
        row('rate limit, memory', memory),
        row('rate limit, Redis', redis),
        ['rate limit, Redis ÷ memory', ...fields.map(([field]) => times(field, redis, memory))],
        row('stream slot, memory', memorySlots),
        row('stream slot, Redis', redisSlots),
        ['stream slot, Redis ÷ memory', ...fields.map(([field]) => times(field, redisSlots, memorySlots))],
        row('token budget, memory', memoryBudgets),
        row('token budget, Redis', redisBudgets),
        ['token budget, Redis ÷ memory', ...fields.map(([field]) => times(field, redisBudgets, memoryBudgets))],
      ],
    ],
    targets: [],
  }
}
