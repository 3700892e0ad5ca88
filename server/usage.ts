/**
 * Usage accounting without a database write per request: counts are added up in memory and written
 * in one transaction every `flushMs` (and on shutdown, and before usage is read). last_used_at rides
 * along in the same write, and moves at most once a minute per key: it is accurate to the minute.
 */
import type { Logger } from './log.ts'
import { StoreUnavailable, type Store, type UsageRow } from './store/store.ts'

export interface UsageRecorder {
  /** Counts one relayed request. */
  request(keyId: string): void
  /** Adds the tokens the upstream reported for one answer. */
  tokens(keyId: string, prompt: number, completion: number): void
  /** Writes everything buffered so far. */
  flush(): Promise<void>
  /** Stops the timer and writes the rest. */
  close(): Promise<void>
}

const LAST_USED_RESOLUTION_MS = 60_000

export function createUsageRecorder(
  store: Store,
  log: Logger,
  // `now` decides the day usage counts for, as the token budgets' clock does (tests move it).
  options: { flushMs?: number; now?: () => number } = {},
): UsageRecorder {
  const clock = options.now ?? Date.now
  // Pending deltas by `${keyId} ${day}`; drained on every flush.
  let pending = new Map<string, UsageRow>()
  let lastUsed = new Map<string, string>()
  // When each key's last_used_at was last queued for writing (ms since the epoch).
  const touched = new Map<string, number>()
  // Writes run one after another; each takes everything buffered when it starts.
  let writes = Promise.resolve()

  const rowFor = (keyId: string) => {
    const day = utcDay(clock())
    const id = `${keyId} ${day}`
    let row = pending.get(id)
    if (!row) {
      row = { key_id: keyId, day, requests: 0, prompt_tokens: 0, completion_tokens: 0 }
      pending.set(id, row)
    }
    return row
  }

  const write = async () => {
    if (pending.size === 0 && lastUsed.size === 0) return
    const rows = pending
    const used = lastUsed
    pending = new Map()
    lastUsed = new Map()
    try {
      await store.addUsage([...rows.values()], used)
    } catch (err) {
      // An outage is logged once by the store itself, not once a flush here.
      if (!(err instanceof StoreUnavailable)) log.error('usage write failed; kept for the next flush', { err, rows: rows.size })
      // Put the counts back, so a passing database hiccup loses nothing.
      for (const [id, row] of rows) {
        const later = pending.get(id)
        pending.set(id, later ? addRows(row, later) : row)
      }
      for (const [id, at] of used) if (!lastUsed.has(id)) lastUsed.set(id, at)
    }
  }

  const flush = () => (writes = writes.then(write))

  const timer = setInterval(flush, options.flushMs ?? 10_000)
  timer.unref()

  return {
    request(keyId) {
      rowFor(keyId).requests++
      const now = Date.now()
      if (now - (touched.get(keyId) ?? -Infinity) >= LAST_USED_RESOLUTION_MS) {
        touched.set(keyId, now)
        lastUsed.set(keyId, new Date(now).toISOString())
      }
    },
    tokens(keyId, prompt, completion) {
      const row = rowFor(keyId)
      row.prompt_tokens += prompt
      row.completion_tokens += completion
    },
    flush,
    async close() {
      clearInterval(timer)
      await flush()
      // The last chance has gone (the database is out of reach): say what is lost, once.
      if (pending.size > 0) log.error('usage lost at shutdown: the database could not take it', { rows: pending.size })
    },
  }
}

const DAY_MS = 86_400_000
let dayCache = { number: Number.NaN, text: '' }

/** The UTC day of a time as YYYY-MM-DD, formatted once a day rather than once a request. */
function utcDay(ms: number): string {
  const number = Math.floor(ms / DAY_MS)
  if (number !== dayCache.number) dayCache = { number, text: new Date(number * DAY_MS).toISOString().slice(0, 10) }
  return dayCache.text
}

const addRows = (a: UsageRow, b: UsageRow): UsageRow => ({
  ...a,
  requests: a.requests + b.requests,
  prompt_tokens: a.prompt_tokens + b.prompt_tokens,
  completion_tokens: a.completion_tokens + b.completion_tokens,
})
