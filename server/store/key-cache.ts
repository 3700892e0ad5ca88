/**
 * Key records cached in this process, so a request on PostgreSQL costs no round trip to find its
 * key, without giving up prompt revocation:
 * - a write through this process empties the cache at once (the same process sees it next request);
 * - a write through any other process (server, CLI, plain SQL) fires a trigger whose NOTIFY reaches
 *   this process's LISTEN connection within milliseconds, and evicts the key;
 * - the cache is trusted only while that connection has answered a heartbeat in the last second,
 *   so a connection that died silently can delay a revocation by at most a second, never more.
 * While the connection is down, every lookup goes to the database, as without a cache; and no record
 * is kept longer than a minute, a backstop for a change that no trigger reports.
 */
import pg from 'pg'

/** The channel the keys table's trigger notifies on (postgres-migrations.ts), with the key's hash. */
export const KEY_CHANGES_CHANNEL = 'assisters_key_changes'

// The longest a revocation elsewhere may take to reach this process (issue 11's bound).
const TRUSTED_FOR_MS = 1_000
const HEARTBEAT_MS = 250
const RECONNECT_MAX_MS = 5_000
// end() waits for the server to say goodbye, which a silent network never does.
const CLOSE_DEADLINE_MS = 1_000
// A backstop for a change no trigger reports (a table rewritten by hand with triggers off).
const MAX_AGE_MS = 60_000
// Enough for every live key of a large deployment; past it the oldest entries go first.
const MAX_ENTRIES = 10_000

export interface KeyCache<R> {
  /** The record for `hash`: from the cache when it can be trusted, else from `load` (then cached). */
  get(hash: string, load: () => Promise<R | undefined>): Promise<R | undefined>
  /** Forgets every record: called after this process changed keys. */
  clear(): void
  close(): Promise<void>
}

export function createKeyCache<R>(options: { url: string; now?: () => number }): KeyCache<R> {
  const now = options.now ?? (() => performance.now())
  const records = new Map<string, { record: R; at: number }>()
  // Bumped by every invalidation: a lookup that started before one must not cache what it read.
  let generation = 0
  let aliveAt = -Infinity
  let client: pg.Client | undefined
  let started = false
  let closed = false
  let failures = 0
  let heartbeat: NodeJS.Timeout | undefined
  let reconnect: NodeJS.Timeout | undefined

  const clear = () => {
    records.clear()
    generation++
  }
  const trusted = () => now() - aliveAt < TRUSTED_FOR_MS

  const lost = (dead: pg.Client) => {
    if (dead !== client) return
    client = undefined
    aliveAt = -Infinity
    clear()
    clearInterval(heartbeat)
    void endWithin(dead, CLOSE_DEADLINE_MS)
    if (closed) return
    const delay = Math.min(2 ** failures++ * 100, RECONNECT_MAX_MS)
    reconnect = setTimeout(listen, delay)
    reconnect.unref()
  }

  async function listen() {
    const listener = new pg.Client({
      connectionString: options.url,
      connectionTimeoutMillis: 3_000,
      // A heartbeat unanswered this long means a dead connection: drop it and connect afresh.
      query_timeout: 2_000,
      keepAlive: true,
      application_name: 'assisters-key-cache',
    })
    client = listener
    listener.on('error', () => lost(listener))
    listener.on('end', () => lost(listener))
    listener.on('notification', (message) => {
      if (message.channel !== KEY_CHANGES_CHANNEL) return
      if (message.payload) records.delete(message.payload)
      generation++
    })
    try {
      await listener.connect()
      await listener.query(`LISTEN ${KEY_CHANGES_CHANNEL}`)
    } catch {
      return lost(listener)
    }
    if (listener !== client) return
    // Anything cached before this connection listened may have missed a change.
    clear()
    failures = 0
    aliveAt = now()
    let asking = false
    heartbeat = setInterval(() => {
      if (asking) return
      asking = true
      const asked = now()
      // Answered in order after any notification sent before it: then nothing committed before
      // `asked` can still be on its way.
      listener.query('SELECT 1').then(
        () => {
          asking = false
          if (listener === client) aliveAt = Math.max(aliveAt, asked)
        },
        () => lost(listener),
      )
    }, HEARTBEAT_MS)
    heartbeat.unref()
  }

  return {
    async get(hash, load) {
      if (!started && !closed) {
        started = true
        void listen()
      }
      if (!trusted()) return load()
      const cached = records.get(hash)
      if (cached !== undefined && now() - cached.at < MAX_AGE_MS) return cached.record
      const before = generation
      const record = await load()
      // Unknown keys are not cached: a key created later must be found at once.
      if (record !== undefined && generation === before && trusted()) {
        if (records.size >= MAX_ENTRIES) records.delete(records.keys().next().value!)
        records.delete(hash)
        records.set(hash, { record, at: now() })
      }
      return record
    },
    clear,
    async close() {
      closed = true
      clearTimeout(reconnect)
      clearInterval(heartbeat)
      const listener = client
      client = undefined
      clear()
      await endWithin(listener, CLOSE_DEADLINE_MS)
    },
  }
}

/** Ends the connection politely, or, when the other side does not answer in time, drops it. */
async function endWithin(client: pg.Client | undefined, ms: number) {
  if (!client) return
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))
  await Promise.race([client.end().catch(() => {}), late])
  clearTimeout(timer)
  // pg keeps its socket as `connection.stream`; destroying it is what end() would have done.
  ;(client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy()
}
