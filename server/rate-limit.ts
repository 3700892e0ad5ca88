/**
 * Per-key request limits over an exact rolling window (contract section 6): a request at time t is
 * admitted iff fewer than `limit` admitted requests lie in (t - window, t], so no burst can straddle a
 * fixed boundary to get twice the limit through, and refused requests never count.
 */

/** The limiter's verdict for one request. */
export interface RateDecision {
  allowed: boolean
  limit: number
  /** Admissions left in the current window after this one. */
  remaining: number
  /** ms until the window is empty again (all admitted requests have left it). */
  resetMs: number
  /** ms until the oldest admitted request leaves the window (when refused; 0 when allowed). */
  retryAfterMs: number
}

/** A limiter: the in-memory one here, or the shared one in Redis (rate-limit-redis.ts). */
export interface RateLimiter {
  /** Admits or refuses one request for `id` under `limit` requests per rolling 60 s. Refused requests do not count. */
  hit(id: string, limit: number): Promise<RateDecision>
  /**
   * Takes back the newest admission of `id`: for callers that count an attempt before they know its
   * outcome (so parallel attempts all count) and only failures should stay counted. The count is
   * exact; the time given back may be another concurrent attempt's, so a window may end a moment early.
   */
  unhit(id: string): Promise<void>
  /** Resolves when the limiter can answer now (for /readyz); rejects, with a reason, when it cannot. */
  ping(): Promise<void>
  /** Stops any housekeeping timer and lets go of connections. */
  close(): Promise<void>
}

/** One id's admissions still inside the window, as a ring buffer. */
interface Window {
  /**
   * Grows with use up to the id's current limit, so at most `limit` admissions are ever held. Not the
   * limit at once: a window per visitor of a key with a large visitor_rpm would take limit × 8 bytes
   * for every address that sends one request (800 KB each at 100,000), a flood of addresses gigabytes.
   */
  times: Float64Array
  /** Index of the oldest held admission. */
  head: number
  /** Held admissions, read from `head` oldest first; nondecreasing, and at least 1 while in the map. */
  count: number
}

const MINUTE_MS = 60_000
/** A new window's room, doubled as it fills. */
const FIRST_CAPACITY = 4

/** An in-process limiter: exact, and atomic because each `hit` decides synchronously on the one event loop. */
export function createMemoryRateLimiter(options: { windowMs?: number; now?: () => number } = {}): RateLimiter {
  const windowMs = options.windowMs ?? MINUTE_MS
  // Monotonic, so a wall-clock adjustment can neither free nor block a key.
  const now = options.now ?? (() => performance.now())
  const windows = new Map<string, Window>()

  const at = (w: Window, i: number) => w.times[(w.head + i) % w.times.length]!
  const newest = (w: Window) => at(w, w.count - 1)

  const expire = (w: Window, t: number) => {
    // Admissions are held in time order, so the expired ones are always a prefix from `head`.
    while (w.count > 0 && at(w, 0) <= t - windowMs) {
      w.head = (w.head + 1) % w.times.length
      w.count--
    }
  }

  // Keeps the newest admissions that fit: when the limit drops, the older ones would leave first anyway.
  const resize = (w: Window | undefined, capacity: number): Window => {
    const times = new Float64Array(capacity)
    const count = Math.min(w?.count ?? 0, capacity)
    for (let i = 0; i < count; i++) times[i] = at(w!, w!.count - count + i)
    return { times, head: 0, count }
  }

  // Forgets ids nobody has used for a window; unref'd so that it never keeps the process alive.
  const sweep = setInterval(() => {
    const t = now()
    for (const [id, w] of windows) if (newest(w) <= t - windowMs) windows.delete(id)
  }, windowMs)
  sweep.unref()

  return {
    hit(id, limit) {
      if (!Number.isInteger(limit) || limit < 1) {
        return Promise.reject(new RangeError(`A rate limit must be a positive integer, not ${limit}`))
      }
      let w = windows.get(id)
      // An injected clock that steps back must not put admissions out of order, which `expire` relies on.
      const t = w ? Math.max(now(), newest(w)) : now()
      if (w) expire(w, t)
      if (!w || w.times.length > limit) windows.set(id, (w = resize(w, Math.min(limit, w?.times.length ?? FIRST_CAPACITY))))

      const allowed = w.count < limit
      if (allowed) {
        if (w.count === w.times.length) windows.set(id, (w = resize(w, Math.min(limit, w.count * 2))))
        w.times[(w.head + w.count) % w.times.length] = t
        w.count++
      }
      // Rounded up so that a client waiting exactly this long is admitted, even on a fractional clock.
      return Promise.resolve({
        allowed,
        limit,
        remaining: limit - w.count,
        // windowMs - (t - x), not x + windowMs - t: the sum of large floats can round up a whole ms.
        resetMs: Math.ceil(windowMs - (t - newest(w))),
        retryAfterMs: allowed ? 0 : Math.ceil(windowMs - (t - at(w, 0))),
      })
    },
    unhit(id) {
      const w = windows.get(id)
      if (w && w.count > 0) w.count--
      if (w?.count === 0) windows.delete(id)
      return Promise.resolve()
    },
    ping: () => Promise.resolve(),
    async close() {
      clearInterval(sweep)
    },
  }
}

/** The response headers for a decision: x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests (OpenAI's duration format, e.g. "120ms", "1.5s", "59.9s"), and when refused also Retry-After (whole seconds, at least 1, rounded up) and retry-after-ms. */
export function rateLimitHeaders(decision: RateDecision): Record<string, string> {
  // Lower case like every header name in this server; HTTP compares them case-insensitively.
  const headers: Record<string, string> = {
    'x-ratelimit-limit-requests': String(decision.limit),
    'x-ratelimit-remaining-requests': String(decision.remaining),
    'x-ratelimit-reset-requests': toDuration(decision.resetMs),
  }
  if (!decision.allowed) {
    // Never 0: "Retry-After: 0" invites an immediate retry that would be refused again.
    headers['retry-after'] = String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000)))
    headers['retry-after-ms'] = String(Math.max(1, Math.ceil(decision.retryAfterMs)))
  }
  return headers
}

/** Whole ms rounded up, in the Go duration format OpenAI uses: "0s", "120ms", "1.5s", "1m0s", "1h0m0s". */
function toDuration(ms: number): string {
  const total = Math.ceil(ms)
  if (total <= 0) return '0s'
  if (total < 1000) return `${total}ms`
  const hours = Math.floor(total / 3_600_000)
  const minutes = Math.floor(total / MINUTE_MS) % 60
  // Integer ms over 1000 prints with at most three decimals and no trailing zeros.
  const seconds = (total % MINUTE_MS) / 1000
  return `${hours ? `${hours}h` : ''}${hours || minutes ? `${minutes}m` : ''}${seconds}s`
}
