/**
 * Refusals and origins per key, counted in memory and written every `flushMs` in one transaction
 * (and on shutdown, and before the dashboard reads them), as usage is (usage.ts): the request path
 * only adds to a map. What a flush holds is bounded too: at most MAX_ORIGINS_PER_KEY origins of one
 * key (a new one replaces its least recently seen, as the store does), so one key's flood of made-up
 * Origins cannot crowd out the others'; past MAX_PENDING distinct entries in all, new ones are
 * dropped until the next flush (known ones still add up).
 */
import type { Logger } from './log.ts'
import type { OriginRow, RefusalReason, RefusalRow, Store } from './store/store.ts'

export interface ActivityRecorder {
  /** One request with the key from this Origin header (undefined: none), allowed or refused by the key's domains. */
  origin(keyId: string, origin: readonly string[] | undefined, allowed: boolean): void
  refused(keyId: string, reason: RefusalReason): void
  flush(): Promise<void>
  close(): Promise<void>
}

/** The most origins a key keeps: the most recently seen ones. */
export const MAX_ORIGINS_PER_KEY = 50
const MAX_PENDING = 10_000
const MAX_ORIGIN_CHARS = 200

export function createActivityRecorder(store: Store, log: Logger, options: { flushMs?: number } = {}): ActivityRecorder {
  let refusals = new Map<string, RefusalRow>()
  let origins = new Map<string, OriginRow>()
  /** The ids in `origins` of each key. */
  let originsOfKey = new Map<string, Set<string>>()
  let writes = Promise.resolve()

  const write = async () => {
    if (refusals.size === 0 && origins.size === 0) return
    const [r, o] = [refusals, origins]
    refusals = new Map()
    origins = new Map()
    originsOfKey = new Map()
    try {
      await store.addActivity([...r.values()], [...o.values()], MAX_ORIGINS_PER_KEY)
    } catch (err) {
      // Unlike usage, not worth keeping through an outage: the next requests count again.
      log.error('refusal and origin counts not written', { err, rows: r.size + o.size })
    }
  }
  const flush = () => (writes = writes.then(write))
  const timer = setInterval(flush, options.flushMs ?? 10_000)
  timer.unref()

  return {
    origin(keyId, header, allowed) {
      // As the browser sent it: none, one, or several (never a valid request; shown as such).
      const origin = header === undefined ? '' : header.length === 1 ? header[0]!.slice(0, MAX_ORIGIN_CHARS) : '(several)'
      const id = `${keyId} ${allowed} ${origin}`
      const known = origins.get(id)
      const at = new Date().toISOString()
      if (known) {
        known.requests++
        known.last_seen_at = at
        return
      }
      const ofKey = originsOfKey.get(keyId) ?? new Set<string>()
      if (ofKey.size >= MAX_ORIGINS_PER_KEY) {
        let oldest: string | undefined
        for (const other of ofKey) if (!oldest || origins.get(other)!.last_seen_at < origins.get(oldest)!.last_seen_at) oldest = other
        ofKey.delete(oldest!)
        origins.delete(oldest!)
      }
      if (origins.size >= MAX_PENDING) return
      origins.set(id, { key_id: keyId, origin, allowed, requests: 1, last_seen_at: at })
      originsOfKey.set(keyId, ofKey.add(id))
    },
    refused(keyId, reason) {
      const day = new Date().toISOString().slice(0, 10)
      const id = `${keyId} ${day} ${reason}`
      const known = refusals.get(id)
      if (known) known.count++
      else if (refusals.size < MAX_PENDING) refusals.set(id, { key_id: keyId, day, reason, count: 1 })
    },
    flush,
    close() {
      clearInterval(timer)
      return flush()
    },
  }
}
