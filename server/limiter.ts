/**
 * Picks the rate limiter, the daily token budgets and the stream slots: shared in Redis when REDIS_URL
 * is set, else in this process's memory.
 */
import type { Config } from './config.ts'
import type { Logger } from './log.ts'
import type { Metrics } from './metrics.ts'
import { createMemoryRateLimiter, type RateLimiter } from './rate-limit.ts'
import { createRedisRateLimiter } from './rate-limit-redis.ts'
import { createOwnerThrottles, type OwnerThrottles } from './throttle.ts'
import { createMemoryTokenBudget, type TokenBudget, type UsageSeed } from './token-budget.ts'
import { createRedisTokenBudget } from './token-budget-redis.ts'
import { createMemoryStreamSlots, createRedisStreamSlots, type StreamSlots } from './stream-slots.ts'

export function createLimiter(config: Config, log: Logger, metrics: Metrics, windowMs?: number): RateLimiter {
  return config.redis
    ? createRedisRateLimiter({ ...config.redis, windowMs, log, onFailure: metrics.redisError })
    : createMemoryRateLimiter({ windowMs })
}

/** The dashboard's sign-in and sign-up throttles, where the rate limits are: shared through Redis when it is set. */
export function createOwnerThrottlesFor(config: Config, log: Logger, metrics: Metrics): OwnerThrottles {
  // The request limiter already reports Redis outages and recoveries; these would only repeat it.
  const quiet: Logger = { info: () => {}, warn: () => {}, error: log.error }
  return createOwnerThrottles((windowMs) => createLimiter(config, quiet, metrics, windowMs))
}

/** `seed` reads a day's recorded usage (token-budget.ts); `now` is the clock of days (tests move it). */
export function createTokenBudget(config: Config, seed: UsageSeed, log: Logger, metrics: Metrics, now?: () => number): TokenBudget {
  return config.redis
    ? createRedisTokenBudget({ ...config.redis, seed, log, now, onFailure: metrics.redisError })
    : createMemoryTokenBudget({ seed, now })
}

export function createStreamSlots(config: Config, log: Logger, metrics: Metrics): StreamSlots {
  return config.redis
    ? createRedisStreamSlots({ ...config.redis, leaseMs: config.streamLeaseMs, log, onFailure: metrics.redisError })
    : createMemoryStreamSlots()
}
