/**
 * Caps on chat answers in flight at once, per key and per visitor of a key (issue 16), so a script
 * cannot hold hundreds of long answers open, each holding an upstream request. An answer takes a
 * slot once its request is checked and gives it back when it ends, however it ends.
 *
 * In memory: plain counters, exact because each acquire decides synchronously on the one event loop.
 * In Redis (shared by every process): a lease per answer, in a sorted set per key and per visitor
 * scored by the lease's expiry on Redis's clock; one Lua script takes both slots or neither. Each
 * process renews its open answers' leases every third of a lease, so the slots of a process that
 * dies free themselves within STREAM_LEASE_MS. Redis failures follow REDIS_FAILURE_MODE, as the rate
 * limiter's do (rate-limit-redis.ts): `closed` refuses with 503, `local` counts in this process.
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { RedisConfig } from './config.ts'
import { rateLimiterUnavailable } from './errors.ts'
import type { Logger } from './log.ts'
import { connectRedis, RECONNECT_MAX_MS } from './redis-connection.ts'

/** The caps an answer must fit: answers in flight for its key, and for its visitor. */
export interface StreamCaps {
  key: number
  visitor: number
}

/** A slot taken, with the one way to give it back (a second call does nothing); or which cap was full. */
export type StreamSlot = { release: () => void } | { full: 'key' | 'visitor' }

/** The in-memory slots here, or the shared ones in Redis. */
export interface StreamSlots {
  /**
   * Takes a slot for one answer of `keyId`, counted for `visitor` too unless that is undefined (a key
   * without a visitor cap). Rejects with a 503 only when Redis cannot answer and REDIS_FAILURE_MODE is closed.
   */
  acquire(keyId: string, visitor: string | undefined, caps: StreamCaps): Promise<StreamSlot>
  /** Gives back the slots still held, stops renewing, lets go of connections. */
  close(): Promise<void>
}

/** Exact counters in this process's memory. */
export function createMemoryStreamSlots(): StreamSlots {
  /** Answers in flight per key id, and per `key id + visitor`; an entry exists only while above 0. */
  const held = new Map<string, number>()
  const count = (id: string) => held.get(id) ?? 0
  const give = (id: string) => {
    const left = count(id) - 1
    if (left > 0) held.set(id, left)
    else held.delete(id)
  }

  return {
    acquire(keyId, visitor, caps) {
      const ids = visitor === undefined ? [keyId] : [keyId, `${keyId} ${visitor}`]
      // The visitor's cap first: one visitor at theirs is told so, even when the key is full too.
      if (visitor !== undefined && count(ids[1]!) >= caps.visitor) return Promise.resolve({ full: 'visitor' })
      if (count(keyId) >= caps.key) return Promise.resolve({ full: 'key' })
      for (const id of ids) held.set(id, count(id) + 1)
      let released = false
      return Promise.resolve({
        release() {
          if (released) return
          released = true
          for (const id of ids) give(id)
        },
      })
    },
    close: () => Promise.resolve(),
  }
}

/**
 * Redis's clock in ms as `now`, and `hold(set, member, lease)`: scores the member's lease to end
 * `lease` ms from now and keeps the set (which expires when idle) at least that long.
 */
const HOLD = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local function hold(set, member, lease)
  redis.call('ZADD', set, now + lease, member)
  if redis.call('PTTL', set) < lease then redis.call('PEXPIRE', set, lease) end
end
`

/**
 * One answer's slots, atomically: both or neither.
 * KEYS[1]: the key's leases; KEYS[2], when given: the visitor's. ARGV: the key's cap, the visitor's
 * cap, the lease in ms, the answer's id. Returns TAKEN, VISITOR_FULL or KEY_FULL.
 */
const ACQUIRE_SCRIPT = `${HOLD}
for i = 1, #KEYS do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now) end
if #KEYS > 1 and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 2 end
for i = 1, #KEYS do hold(KEYS[i], ARGV[4], tonumber(ARGV[3])) end
return 0
`
const TAKEN = 0
const VISITOR_FULL = 1

/**
 * Renews leases: KEYS[i] holds the answer ARGV[i + 1]; ARGV[1] is the lease in ms. A lease that ran
 * out meanwhile (an outage, an emptied Redis) is added again: the answer is still in flight.
 */
const RENEW_SCRIPT = `${HOLD}
for i = 1, #KEYS do hold(KEYS[i], ARGV[i + 1], tonumber(ARGV[1])) end
`

/** Leases renewed per script call, so no single call holds Redis long. */
const RENEW_BATCH = 500

type Arg = string | number

interface SlotsRedis extends Redis {
  streamAcquire(numberOfKeys: number, ...args: Arg[]): Promise<number>
  streamRenew(numberOfKeys: number, ...args: Arg[]): Promise<null>
}

export interface RedisStreamSlotsOptions extends RedisConfig {
  log: Logger
  /** How long a lease lasts unless renewed (STREAM_LEASE_MS). */
  leaseMs: number
  /** Called for every command that Redis failed to answer (the metrics count them). */
  onFailure?: () => void
}

/** Slots shared by every process through Redis, with a deadline on every acquire. */
export function createRedisStreamSlots(options: RedisStreamSlotsOptions): StreamSlots {
  const { prefix, timeoutMs, failureMode, leaseMs, log } = options
  const fallback = failureMode === 'local' ? createMemoryStreamSlots() : undefined
  const connection = connectRedis<SlotsRedis>({
    url: options.url,
    timeoutMs,
    // Variable key counts (a visitor's set or not, a batch of leases): the count is the first argument.
    scripts: { streamAcquire: { lua: ACQUIRE_SCRIPT }, streamRenew: { lua: RENEW_SCRIPT } },
    log,
    name: 'stream slots',
    failureMode,
    meaning: failureMode === 'closed' ? 'chat requests are refused with 503' : 'each process caps answers in flight by itself',
    // Outages are told when a command of ours fails, not as the connection drops: the rate limiter
    // already says that, on its own connection.
    watchConnection: false,
    onFailure: options.onFailure,
  })
  const { redis, withDeadline, failed, answered } = connection
  let closed = false

  /** The answers this process holds leases for, by id: the sets each is in. */
  const open = new Map<string, string[]>()
  const instance = randomBytes(6).toString('base64url')
  let sequence = 0

  const giveBack = (member: string, sets: string[]) => Promise.all(sets.map((set) => redis.zrem(set, member)))

  const renew = async () => {
    if (open.size === 0) return
    const leases = [...open].flatMap(([member, sets]) => sets.map((set) => [set, member] as const))
    const batches = []
    for (let i = 0; i < leases.length; i += RENEW_BATCH) {
      const batch = leases.slice(i, i + RENEW_BATCH)
      batches.push(redis.streamRenew(batch.length, ...batch.map(([set]) => set), leaseMs, ...batch.map(([, member]) => member)))
    }
    // Sent together, before any answer comes back: one round trip for all.
    await Promise.all(batches).then(answered, failed)
  }
  const renewal = setInterval(() => void renew(), leaseMs / 3)
  renewal.unref()

  return {
    async acquire(keyId, visitor, caps) {
      const sets = [`${prefix}streams:${keyId}`]
      if (visitor !== undefined) sets.push(`${prefix}streams:${keyId}:visitor:${visitor}`)
      const member = `${instance}:${(sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER)}`
      let verdict: number
      try {
        verdict = await withDeadline(() => redis.streamAcquire(sets.length, ...sets, caps.key, caps.visitor, leaseMs, member))
        answered()
      } catch (err) {
        failed(err)
        // A slow Redis may still take the slot after the deadline: this ZREM, on the same connection, comes after it.
        giveBack(member, sets).catch(() => {})
        if (fallback) return fallback.acquire(keyId, visitor, caps)
        // Retry-After: by then the client has tried to reconnect at least once more.
        throw rateLimiterUnavailable(Math.ceil(RECONNECT_MAX_MS / 1000))
      }
      if (verdict !== TAKEN) return { full: verdict === VISITOR_FULL ? 'visitor' : 'key' }
      open.set(member, sets)
      return {
        release() {
          // Once only, and not after close(), which gave every lease back already.
          if (!open.delete(member) || closed) return
          // Should Redis miss it, the lease runs out by itself.
          giveBack(member, sets).catch(failed)
        },
      }
    },
    async close() {
      closed = true
      clearInterval(renewal)
      const held = [...open]
      open.clear()
      await Promise.all(held.map(([member, sets]) => giveBack(member, sets))).catch(() => {})
      await fallback?.close()
      await connection.close()
    },
  }
}
