/** The wrong-admin-token throttle on its own, with a clock the test moves. */
import { describe, expect, it } from 'vitest'
import { createAdminThrottle } from '../../server/admin-throttle.ts'

describe('createAdminThrottle', () => {
  const setUp = () => {
    let now = 0
    const throttle = createAdminThrottle({ limit: 3, windowMs: 60_000, now: () => now })
    return { throttle, advance: (ms: number) => (now += ms) }
  }

  it('lets an address try until it has failed `limit` times, then makes it wait for the oldest failure to age out', () => {
    const { throttle, advance } = setUp()
    for (let failure = 0; failure < 3; failure++) {
      expect(throttle.waitMs('10.0.0.1')).toBe(0)
      throttle.failed('10.0.0.1')
      advance(1000)
    }
    expect(throttle.waitMs('10.0.0.1')).toBe(57_000)
    advance(56_999)
    expect(throttle.waitMs('10.0.0.1')).toBe(1)
    advance(1)
    expect(throttle.waitMs('10.0.0.1')).toBe(0)
  })

  it('counts each address on its own', () => {
    const { throttle } = setUp()
    for (let failure = 0; failure < 3; failure++) throttle.failed('10.0.0.1')
    expect(throttle.waitMs('10.0.0.1')).toBeGreaterThan(0)
    expect(throttle.waitMs('10.0.0.2')).toBe(0)
  })
})
