/** Picks the rate limiter: shared in Redis when REDIS_URL is set, else in this process's memory. */
import type { Config } from './config.ts'
import type { Logger } from './log.ts'
import type { Metrics } from './metrics.ts'
import { createMemoryRateLimiter, type RateLimiter } from './rate-limit.ts'
import { createRedisRateLimiter } from './rate-limit-redis.ts'

export function createLimiter(config: Config, log: Logger, metrics: Metrics): RateLimiter {
  return config.redis ? createRedisRateLimiter({ ...config.redis, log, onFailure: metrics.redisError }) : createMemoryRateLimiter()
}
