/**
 * Daily token budgets (issue 16): a key's and its account's prompt + completion tokens per UTC day,
 * from the usage the upstream reports, reset at 00:00 UTC. A soft cap: tokens are known only once an
 * answer ends, so a request is checked against what is counted when it starts, and the answers in
 * flight when the line is crossed still complete.
 *
 * A counter exists only once it has been seeded for its day from the store's recorded usage (on the
 * first check of a budgeted key or account that day, after a restart, after a Redis flush); answers
 * add to counters that exist and never create one, so a counter is never a partial day. This file
 * holds the in-memory budget (one process); token-budget-redis.ts the shared one.
 */
import type { Store } from './store/store.ts'
import type { UsageRecorder } from './usage.ts'

/** The budgets a request is held to: tokens per UTC day, null for none. */
export interface BudgetLimits {
  keyId: string
  accountId: string
  keyLimit: number | null
  accountLimit: number | null
}

/** A spent budget: which one, its size, and the ms until it resets at the next 00:00 UTC. */
export interface BudgetSpent {
  scope: 'key' | 'account'
  limit: number
  retryAfterMs: number
}

export interface TokenBudget {
  /** Undefined while today's tokens are below both budgets; else the one that is spent (the account's first). */
  check(limits: BudgetLimits): Promise<BudgetSpent | undefined>
  /** Adds one answer's tokens to today's counters of the key and of its account (the request's `limits`). */
  add(limits: BudgetLimits, tokens: number): void
  close(): Promise<void>
}

/** An account's tokens on one UTC day, in all and by key. */
export interface DayUsage {
  account: number
  byKey: ReadonlyMap<string, number>
}

/** Reads an account's usage on a day (YYYY-MM-DD) from where it is recorded. */
export type UsageSeed = (accountId: string, day: string) => Promise<DayUsage>

const DAY_MS = 86_400_000

/** The UTC day of a time, as YYYY-MM-DD (the usage rows' format). */
export const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10)

/** ms from `ms` until the next 00:00 UTC. */
export const untilNextUtcDay = (ms: number) => DAY_MS - (((ms % DAY_MS) + DAY_MS) % DAY_MS)

/**
 * Seeds from the store. This process's buffered usage is written first, so it is included; other
 * processes' buffered usage is not: at most their flush interval's worth (10 s) can be missed, and
 * so can an answer that ends while the seed is read (it is in neither the store nor the counter).
 */
export function seedFromStore(store: Store, usage: UsageRecorder): UsageSeed {
  return async (accountId, day) => {
    await usage.flush()
    const byKey = new Map<string, number>()
    let account = 0
    for (const row of await store.usage(accountId)) {
      if (row.day !== day) continue
      const tokens = row.prompt_tokens + row.completion_tokens
      byKey.set(row.key_id, tokens)
      account += tokens
    }
    return { account, byKey }
  }
}

/** The same seed, read once for any number of requests asking for it at the same moment (the first of a day). */
export function seedingOnce(seed: UsageSeed): UsageSeed {
  const reading = new Map<string, Promise<DayUsage>>()
  return (accountId, day) => {
    const id = `${accountId} ${day}`
    let pending = reading.get(id)
    if (!pending) {
      pending = seed(accountId, day).finally(() => reading.delete(id))
      reading.set(id, pending)
    }
    return pending
  }
}

/** Which budget today's counts have spent, if any: the account's first (raising the key's would not help). */
export function spentBudget(limits: BudgetLimits, used: { key: number; account: number }, now: number): BudgetSpent | undefined {
  const scope =
    limits.accountLimit !== null && used.account >= limits.accountLimit
      ? 'account'
      : limits.keyLimit !== null && used.key >= limits.keyLimit
        ? 'key'
        : undefined
  if (!scope) return undefined
  return { scope, limit: (scope === 'account' ? limits.accountLimit : limits.keyLimit)!, retryAfterMs: untilNextUtcDay(now) }
}

export const keyCounter = (keyId: string) => `key:${keyId}`
export const accountCounter = (accountId: string) => `account:${accountId}`

/** Budgets counted in this process's memory: exact for one process (WORKERS > 1 needs Redis). */
export function createMemoryTokenBudget(options: { seed: UsageSeed; now?: () => number }): TokenBudget {
  const now = options.now ?? Date.now
  const seed = seedingOnce(options.seed)
  // Tokens by counter name, valid on `day` only; a counter of an earlier day counts as missing.
  const counters = new Map<string, { day: string; tokens: number }>()

  const current = (name: string, day: string) => {
    const counter = counters.get(name)
    return counter?.day === day ? counter : undefined
  }

  return {
    async check(limits) {
      if (limits.keyLimit === null && limits.accountLimit === null) return undefined
      const at = now()
      const day = utcDay(at)
      const keyName = keyCounter(limits.keyId)
      const accountName = accountCounter(limits.accountId)
      if (!current(keyName, day) || !current(accountName, day)) {
        const seeded = await seed(limits.accountId, day)
        // Another request may have seeded meanwhile, and answers added to it since: keep that one.
        if (!current(keyName, day)) counters.set(keyName, { day, tokens: seeded.byKey.get(limits.keyId) ?? 0 })
        if (!current(accountName, day)) counters.set(accountName, { day, tokens: seeded.account })
      }
      return spentBudget(limits, { key: counters.get(keyName)!.tokens, account: counters.get(accountName)!.tokens }, at)
    },
    // Whatever the limits: a counter kept here stays exact even while its budget is unset for a while.
    add({ keyId, accountId }, tokens) {
      const day = utcDay(now())
      for (const name of [keyCounter(keyId), accountCounter(accountId)]) {
        const counter = current(name, day)
        if (counter) counter.tokens += tokens
      }
    },
    async close() {},
  }
}
