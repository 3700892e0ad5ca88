/**
 * Wrong admin tokens, counted per client address over a rolling minute. Past the limit the address
 * waits until its oldest failure leaves the window, whatever token it sends, so the answer never
 * tells a guessing client whether its next guess was right.
 */

export interface AdminThrottle {
  /** ms the address must wait before its next attempt; 0 when it may try now. */
  waitMs(address: string): number
  /** Records a wrong token from the address. */
  failed(address: string): void
  /**
   * Takes back the latest record of the address: callers that must await before they know the
   * outcome record first (so parallel attempts all count) and refund the ones that succeed.
   */
  refund(address: string): void
}

export function createAdminThrottle(options: { limit?: number; windowMs?: number; now?: () => number } = {}): AdminThrottle {
  const limit = options.limit ?? 10
  const windowMs = options.windowMs ?? 60_000
  const now = options.now ?? (() => performance.now())
  /** Failure times per address, oldest first, only those inside the window, at most `limit`. */
  const failures = new Map<string, number[]>()

  const recent = (address: string, t: number) => {
    const times = failures.get(address)?.filter((time) => time > t - windowMs) ?? []
    if (times.length === 0) failures.delete(address)
    else failures.set(address, times)
    return times
  }

  return {
    waitMs(address) {
      const t = now()
      const times = recent(address, t)
      return times.length < limit ? 0 : times[0]! + windowMs - t
    },
    failed(address) {
      const t = now()
      const times = recent(address, t)
      times.push(t)
      failures.set(address, times.slice(-limit))
      // Many addresses (an IPv6 range, say) must not grow the map without end.
      if (failures.size > 10_000) for (const known of [...failures.keys()]) recent(known, t)
    },
    refund(address) {
      const times = recent(address, now())
      times.pop()
      if (times.length === 0) failures.delete(address)
    },
  }
}
