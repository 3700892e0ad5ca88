/**
 * The dashboard's sign-in and sign-up attempts, counted by the rate limiter under windows of their
 * own: in memory, or in Redis and so across every process (with WORKERS or several servers, an
 * attacker gets no more guesses than with one). An attempt is counted before its outcome is known,
 * so parallel attempts cannot all pass the check; a success is given back, so only failures stay.
 */
import { createHash } from 'node:crypto'
import type { RateLimiter } from './rate-limit.ts'

export interface Throttle {
  /** Counts one attempt of `id`: 0 when counted, else the ms until it may try again (nothing counted). */
  reserve(id: string): Promise<number>
  /** Gives back one counted attempt of `id` (it succeeded). */
  refund(id: string): Promise<void>
}

/** A throttle of `limit` attempts per window of `limiter`; `name` keeps its ids apart from the limiter's others. */
export function createThrottle(limiter: RateLimiter, name: string, limit: number): Throttle {
  // Ids are emails and addresses: hashed, so none is kept in Redis in the clear.
  const idOf = (id: string) => `${name}:${createHash('sha256').update(id).digest('base64url').slice(0, 22)}`
  return {
    async reserve(id) {
      const decision = await limiter.hit(idOf(id), limit)
      return decision.allowed ? 0 : Math.max(1, decision.retryAfterMs)
    },
    refund: (id) => limiter.unhit(idOf(id)),
  }
}

const FIFTEEN_MINUTES = 15 * 60 * 1000

/**
 * The owners' throttles: 10 failed sign-ins per email and 50 per client address in a rolling 15
 * minutes, 5 sign-ups per client address in a rolling hour, on limiters made by `limiterFor` (in
 * Redis when REDIS_URL is set: limiter.ts).
 */
export function createOwnerThrottles(limiterFor: (windowMs: number) => RateLimiter) {
  const signIns = limiterFor(FIFTEEN_MINUTES)
  const signUps = limiterFor(4 * FIFTEEN_MINUTES)
  return {
    perEmail: createThrottle(signIns, 'sign-in-email', 10),
    perAddress: createThrottle(signIns, 'sign-in-address', 50),
    signUps: createThrottle(signUps, 'sign-up', 5),
    async close() {
      await Promise.all([signIns.close(), signUps.close()])
    },
  }
}

export type OwnerThrottles = ReturnType<typeof createOwnerThrottles>
