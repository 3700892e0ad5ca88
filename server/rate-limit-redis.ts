/**
 * The rate limiter shared by every process: each key's admissions live in Redis, in a sorted set
 * scored by Redis's own clock, and one Lua script decides each request atomically, so N processes
 * admit exactly what one would (contract section 6).
 *
 * Outages: every check has a deadline. When Redis cannot answer in time, `closed` (the default)
 * refuses the request with a 503; `local` falls back to a limiter in this process's memory, so a
 * key gets at most its limit per process, never no limit. One warning per outage, one line when
 * Redis answers again; the client reconnects by itself. A check that missed its deadline may still
 * be counted when a slow Redis gets to it: an outage can only make the limit stricter, never looser.
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { RedisConfig } from './config.ts'
import { rateLimiterUnavailable } from './errors.ts'
import type { Logger } from './log.ts'
import { createMemoryRateLimiter, type RateDecision, type RateLimiter } from './rate-limit.ts'
import { connectRedis, RECONNECT_MAX_MS } from './redis-connection.ts'

/**
 * One request's verdict, atomically (Redis runs one script at a time).
 * KEYS[1]: the key's log, a sorted set of its admissions scored by Redis time in microseconds.
 * ARGV: the limit, the window in microseconds, a member unique to this request.
 * Returns {allowed (1 or 0), admissions held, µs until the window is empty, µs until the oldest leaves}.
 */
const HIT_SCRIPT = `
local log, limit, window = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local time = redis.call('TIME')
local clock = tonumber(time[1]) * 1000000 + tonumber(time[2])
-- A Redis clock that steps back must not put admissions out of order (as the memory limiter does).
local newest = tonumber(redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')[2] or clock)
local now = math.max(clock, newest)
redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
local count = redis.call('ZCARD', log)
-- A lowered limit keeps the newest admissions that fit: the older ones would leave first anyway.
if count > limit then
  redis.call('ZREMRANGEBYRANK', log, 0, count - limit - 1)
  count = limit
end
local allowed = 0
if count < limit then
  allowed = 1
  count = count + 1
  newest = now
  redis.call('ZADD', log, now, ARGV[3])
  -- The log is empty once its newest admission leaves the window: let Redis drop it then.
  redis.call('PEXPIRE', log, math.ceil((window + now - clock) / 1000))
end
-- Held admissions (at least one here) are in time order; trimming and expiry only ever drop the oldest.
local oldest = tonumber(redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')[2])
return {allowed, count, window - (now - newest), window - (now - oldest)}
`

const MINUTE_MS = 60_000

type HitReply = [allowed: number, count: number, resetUs: number, oldestLeavesUs: number]

interface LimiterRedis extends Redis {
  rateLimitHit(log: string, limit: number, windowUs: number, member: string): Promise<HitReply>
}

export interface RedisRateLimiterOptions extends RedisConfig {
  log: Logger
  /** The rolling window; 60 s in production, shorter in tests (Redis's clock cannot be injected). */
  windowMs?: number
  /** Called for every check or ping that Redis failed to answer (the metrics count them). */
  onFailure?: () => void
}

/** A limiter in Redis: exact across processes, with a deadline on every check. */
export function createRedisRateLimiter(options: RedisRateLimiterOptions): RateLimiter {
  const { prefix, timeoutMs, failureMode, log } = options
  const windowUs = (options.windowMs ?? MINUTE_MS) * 1000
  const fallback = failureMode === 'local' ? createMemoryRateLimiter({ windowMs: options.windowMs }) : undefined
  const connection = connectRedis<LimiterRedis>({
    url: options.url,
    timeoutMs,
    // Loads the script once per connection (EVAL), then sends EVALSHA.
    scripts: { rateLimitHit: { lua: HIT_SCRIPT, numberOfKeys: 1 } },
    log,
    name: 'rate limiter',
    failureMode,
    meaning: failureMode === 'closed' ? 'chat requests are refused with 503' : 'each process limits keys by itself',
    watchConnection: true,
    onFailure: options.onFailure,
  })
  const { redis, withDeadline, failed, answered } = connection

  const instance = randomBytes(6).toString('base64url')
  let sequence = 0

  const hitRedis = async (id: string, limit: number): Promise<RateDecision> => {
    const member = `${instance}:${(sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER)}`
    const [allowed, count, resetUs, oldestLeavesUs] = await withDeadline(() =>
      redis.rateLimitHit(`${prefix}rate:${id}`, limit, windowUs, member),
    )
    return {
      allowed: allowed === 1,
      limit,
      remaining: limit - count,
      // Rounded up, as in memory, so that a client waiting exactly this long is admitted.
      resetMs: Math.ceil(resetUs / 1000),
      retryAfterMs: allowed === 1 ? 0 : Math.ceil(oldestLeavesUs / 1000),
    }
  }

  return {
    async hit(id, limit) {
      if (!Number.isInteger(limit) || limit < 1) {
        throw new RangeError(`A rate limit must be a positive integer, not ${limit}`)
      }
      try {
        const decision = await hitRedis(id, limit)
        answered()
        return decision
      } catch (err) {
        failed(err)
        if (fallback) return fallback.hit(id, limit)
        // Retry-After: by then the client has tried to reconnect at least once more.
        throw rateLimiterUnavailable(Math.ceil(RECONNECT_MAX_MS / 1000))
      }
    },
    async unhit(id) {
      try {
        await withDeadline(() => redis.zremrangebyrank(`${prefix}rate:${id}`, -1, -1))
        answered()
      } catch (err) {
        failed(err)
        // Left counted: an outage can only make the limit stricter.
        await fallback?.unhit(id)
      }
    },
    async ping() {
      try {
        await withDeadline(() => redis.ping())
        answered()
      } catch (err) {
        failed(err)
        throw new Error(`Redis did not answer: ${connection.reason(err)}`)
      }
    },
    async close() {
      await fallback?.close()
      await connection.close()
    },
  }
}
