/**
 * Daily token budgets shared by every process (issue 16): each key's and account's counter for a
 * UTC day lives in Redis as `<prefix>tokens:key:<id>:<day>` / `<prefix>tokens:account:<id>:<day>`,
 * expiring two days later. A check reads the counters of the budgets it is held to in one MGET; an
 * answer's tokens are added by a script that increments only counters that exist, so a counter is
 * created only by seeding it from the store (token-budget.ts), never by a partial day's increments.
 *
 * Outages, as the rate limiter's (rate-limit-redis.ts): every call has a deadline; `closed` refuses
 * the check with a 503, `local` falls back to counters in this process's memory (seeded from the
 * store too, so a key gets at most its budget per process). One warning per outage, one line when
 * Redis answers again. Tokens added while Redis is down are not in its counters: an outage can let
 * a budget run over by what was answered meanwhile (the store still records all of it).
 */
import type { Redis } from 'ioredis'
import type { RedisConfig } from './config.ts'
import { rateLimiterUnavailable } from './errors.ts'
import type { Logger } from './log.ts'
import { connectRedis, RECONNECT_MAX_MS } from './redis-connection.ts'
import {
  accountCounter,
  type DayUsage,
  createMemoryTokenBudget,
  keyCounter,
  spentBudget,
  utcDay,
  type TokenBudget,
  type UsageSeed,
} from './token-budget.ts'

/** Adds ARGV[1] to each counter in KEYS that exists (keeping its expiry); a missing one stays missing. */
const ADD_SCRIPT = `
for _, counter in ipairs(KEYS) do
  if redis.call('EXISTS', counter) == 1 then redis.call('INCRBY', counter, ARGV[1]) end
end
`

/**
 * Seeds each counter in KEYS with its ARGV value unless it exists (another process seeded it first, or
 * answers have added to it since), expiring after ARGV[#KEYS + 1] s; returns every counter's value.
 */
const SEED_SCRIPT = `
local ttl = ARGV[#KEYS + 1]
local values = {}
for i, counter in ipairs(KEYS) do
  redis.call('SET', counter, ARGV[i], 'NX', 'EX', ttl)
  values[i] = redis.call('GET', counter)
end
return values
`

/** Long enough to outlive its day in every time zone's view of it, short enough to clean up by itself. */
const COUNTER_TTL_S = 2 * 86_400

interface BudgetRedis extends Redis {
  budgetAdd(key: string, account: string, tokens: number): Promise<null>
  /** The number of counters, the counters, their seeds, then the expiry in seconds. */
  budgetSeed(count: number, ...countersSeedsTtl: (string | number)[]): Promise<string[]>
}

export interface RedisTokenBudgetOptions extends RedisConfig {
  seed: UsageSeed
  log: Logger
  now?: () => number
  /** Called for every call that Redis failed to answer (the metrics count them). */
  onFailure?: () => void
}

/** Budgets in Redis: shared across processes, with a deadline on every call. */
export function createRedisTokenBudget(options: RedisTokenBudgetOptions): TokenBudget {
  const { prefix, timeoutMs, failureMode, log } = options
  const now = options.now ?? Date.now
  // Reads of Redis started so far, and for each account its latest seed with the count of reads
  // started before it: a read among those that found no counter shares that seed (the first checks
  // of a day all do, however their answers interleave) rather than reading the store again; a read
  // started later (after a Redis flush, say) seeds afresh.
  let reads = 0
  const seeds = new Map<string, { day: string; afterReads: number; usage: Promise<DayUsage> }>()
  const seedFor = (accountId: string, day: string, read: number) => {
    const recent = seeds.get(accountId)
    if (recent?.day === day && recent.afterReads >= read) return recent.usage
    const usage = options.seed(accountId, day)
    seeds.set(accountId, { day, afterReads: reads, usage })
    return usage
  }
  const fallback = failureMode === 'local' ? createMemoryTokenBudget({ seed: options.seed, now }) : undefined
  const connection = connectRedis<BudgetRedis>({
    url: options.url,
    timeoutMs,
    scripts: {
      budgetAdd: { lua: ADD_SCRIPT, numberOfKeys: 2 },
      // One counter or two: the number of keys comes first in each call.
      budgetSeed: { lua: SEED_SCRIPT },
    },
    log,
    name: 'token budget',
    failureMode,
    meaning:
      failureMode === 'closed'
        ? 'chat requests of keys with a daily token limit are refused with 503'
        : 'each process counts budgets by itself',
    watchConnection: true,
    onFailure: options.onFailure,
  })
  const { redis, withDeadline, failed, answered } = connection

  const names = (keyId: string, accountId: string, day: string) =>
    [`${prefix}tokens:${keyCounter(keyId)}:${day}`, `${prefix}tokens:${accountCounter(accountId)}:${day}`] as const

  return {
    async check(limits) {
      if (limits.keyLimit === null && limits.accountLimit === null) return undefined
      const at = now()
      const day = utcDay(at)
      // Only the counters of budgets that are set: one seeded for an unset budget would miss the answers
      // of requests held to no budget (never added), and be short if that budget were set later that day.
      const [key, account] = names(limits.keyId, limits.accountId, day)
      const wanted: string[] = [...(limits.keyLimit !== null ? [key] : []), ...(limits.accountLimit !== null ? [account] : [])]
      let values: (string | null)[]
      const read = ++reads
      try {
        values = await withDeadline(() => redis.mget(...wanted))
        answered()
      } catch (err) {
        return unavailable(err, () => fallback!.check(limits))
      }
      if (values.includes(null)) {
        // The store's errors are the store's (a 503 store_unavailable), not a Redis outage.
        const seeded = await seedFor(limits.accountId, day, read)
        const tokens = wanted.map((name) => (name === key ? (seeded.byKey.get(limits.keyId) ?? 0) : seeded.account))
        try {
          values = await withDeadline(() => redis.budgetSeed(wanted.length, ...wanted, ...tokens, COUNTER_TTL_S))
        } catch (err) {
          return unavailable(err, () => fallback!.check(limits))
        }
      }
      const used = (name: string) => Number(values[wanted.indexOf(name)] ?? 0)
      return spentBudget(limits, { key: used(key), account: used(account) }, at)
    },
    add(limits, tokens) {
      fallback?.add(limits, tokens)
      // Only for a request held to a budget: a round trip after every answer of every key would charge
      // all deployments for the few budgeted keys. The price: a budget unset and set again on one day
      // misses what was answered in between (its counter stayed, not added to) until 00:00 UTC.
      if (limits.keyLimit === null && limits.accountLimit === null) return
      const [key, account] = names(limits.keyId, limits.accountId, utcDay(now()))
      // After the answer, off every request's path: nobody waits for it.
      withDeadline(() => redis.budgetAdd(key, account, tokens)).then(answered, failed)
    },
    async close() {
      await fallback?.close()
      await connection.close()
    },
  }

  function unavailable<T>(err: unknown, local: () => Promise<T>): Promise<T> {
    failed(err)
    if (fallback) return local()
    // Retry-After: by then the client has tried to reconnect at least once more.
    throw rateLimiterUnavailable(Math.ceil(RECONNECT_MAX_MS / 1000))
  }
}
