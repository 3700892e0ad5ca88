/**
 * The stream slots on their own: the caps and their release in memory and in real Redis alike, then
 * what only Redis has to show (both slots or neither, leases that run out or are renewed, the slots
 * shared by two clients, a Redis that stops, under each REDIS_FAILURE_MODE).
 */
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { HttpError } from '../../server/errors.ts'
import { createLogger } from '../../server/log.ts'
import {
  createMemoryStreamSlots,
  createRedisStreamSlots,
  type RedisStreamSlotsOptions,
  type StreamSlot,
  type StreamSlots,
} from '../../server/stream-slots.ts'
import { usePrivateRedis, useSharedRedis } from '../support/redis.ts'
import { sleep } from '../support/sleep.ts'

const redis = await useSharedRedis()
const privateRedis = await usePrivateRedis()

const opened: StreamSlots[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((slots) => slots.close()))
})

let prefixes = 0
/** Slots in the shared Redis under a prefix of their own (or `prefix`, to share them), and what they log. */
function redisSlots(options: Partial<RedisStreamSlotsOptions> = {}) {
  const lines: Record<string, unknown>[] = []
  const log = createLogger({ write: (line) => lines.push(JSON.parse(line)) })
  const prefix = options.prefix ?? `${redis!.prefix}${++prefixes}:`
  const slots = createRedisStreamSlots({
    url: redis!.url,
    prefix,
    timeoutMs: 5_000,
    failureMode: 'closed',
    leaseMs: 30_000,
    log,
    ...options,
  })
  opened.push(slots)
  return { slots, prefix, lines }
}

const CAPS = { key: 3, visitor: 2 }
const taken = (slot: StreamSlot) => ('release' in slot ? slot : expect.fail(`refused: ${JSON.stringify(slot)}`))

const kinds: Array<[string, () => StreamSlots]> = [['memory', () => createMemoryStreamSlots()]]
if (redis) kinds.push(['Redis', () => redisSlots().slots])

describe.each(kinds)('stream slots in %s', (_kind, create) => {
  it("takes up to the key's cap and refuses the next, naming the key, until one is given back", async () => {
    const slots = create()
    const held = [taken(await slots.acquire('k', undefined, CAPS)), taken(await slots.acquire('k', undefined, CAPS))]
    held.push(taken(await slots.acquire('k', undefined, CAPS)))
    expect(await slots.acquire('k', undefined, CAPS)).toEqual({ full: 'key' })
    // Other keys have caps of their own.
    taken(await slots.acquire('other', undefined, CAPS))
    held[1]!.release()
    taken(await slots.acquire('k', undefined, CAPS))
    expect(await slots.acquire('k', undefined, CAPS)).toEqual({ full: 'key' })
  })

  it("refuses a visitor at their cap, naming the visitor, while others still get the key's slots", async () => {
    const slots = create()
    const first = taken(await slots.acquire('k', 'a', CAPS))
    taken(await slots.acquire('k', 'a', CAPS))
    expect(await slots.acquire('k', 'a', CAPS)).toEqual({ full: 'visitor' })
    taken(await slots.acquire('k', 'b', CAPS))
    // The key is full now; the visitor at their own cap hears of theirs.
    expect(await slots.acquire('k', 'c', CAPS)).toEqual({ full: 'key' })
    expect(await slots.acquire('k', 'a', CAPS)).toEqual({ full: 'visitor' })
    first.release()
    taken(await slots.acquire('k', 'a', CAPS))
  })

  it("counts a visitor's answers per key", async () => {
    const slots = create()
    taken(await slots.acquire('k1', 'a', { key: 5, visitor: 1 }))
    taken(await slots.acquire('k2', 'a', { key: 5, visitor: 1 }))
    expect(await slots.acquire('k1', 'a', { key: 5, visitor: 1 })).toEqual({ full: 'visitor' })
  })

  it('gives a slot back once, however often release is called', async () => {
    const slots = create()
    const first = taken(await slots.acquire('k', 'a', CAPS))
    taken(await slots.acquire('k', 'b', CAPS))
    taken(await slots.acquire('k', 'b', CAPS))
    first.release()
    first.release()
    first.release()
    taken(await slots.acquire('k', 'c', CAPS))
    expect(await slots.acquire('k', 'c', CAPS)).toEqual({ full: 'key' })
  })

  it('takes exactly the cap when many ask at once, and all of it again once every slot is given back', async () => {
    const slots = create()
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => slots.acquire('k', `v${i % 4}`, { key: 10, visitor: 3 })))
      const held = answers.filter((slot) => 'release' in slot)
      expect(held).toHaveLength(10)
      for (const slot of held) slot.release()
    }
  })
})

describe.skipIf(!redis)('stream slots in Redis', () => {
  const members = (key: string) => redis!.client.zrange(key, '0', '-1')

  it('holds each answer as a lease in a set for the key and one for the visitor, and leaves nothing once given back', async () => {
    const { slots, prefix } = redisSlots({ leaseMs: 20_000 })
    const slot = taken(await slots.acquire('k', '203.0.113.9', CAPS))
    const [member, expiry] = await redis!.client.zrange(`${prefix}streams:k`, '0', '-1', 'WITHSCORES')
    expect(await members(`${prefix}streams:k:visitor:203.0.113.9`)).toEqual([member])
    const [seconds] = await redis!.client.time()
    // Scored by its expiry on Redis's clock, 20 s on.
    expect(Number(expiry) - Number(seconds) * 1000).toBeGreaterThan(18_000)
    expect(Number(expiry) - Number(seconds) * 1000).toBeLessThanOrEqual(21_000)
    expect(await redis!.client.pttl(`${prefix}streams:k`)).toBeGreaterThan(18_000)
    slot.release()
    await expect.poll(() => redis!.keys().then((keys) => keys.filter((key) => key.startsWith(prefix)))).toEqual([])
  })

  it('takes both slots or neither', async () => {
    const { slots, prefix } = redisSlots()
    for (let i = 0; i < 3; i++) taken(await slots.acquire('k', `other-${i}`, CAPS))
    expect(await slots.acquire('k', 'a', CAPS)).toEqual({ full: 'key' })
    expect(await redis!.client.exists(`${prefix}streams:k:visitor:a`)).toBe(0)
  })

  it('shares the caps between two clients on one prefix', async () => {
    const one = redisSlots()
    const other = redisSlots({ prefix: one.prefix })
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? one.slots : other.slots).acquire('k', `v${i % 3}`, { key: 7, visitor: 100 })),
    )
    expect(answers.filter((slot) => 'release' in slot)).toHaveLength(7)
  })

  it("drops a lease its holder stopped renewing once it has run out, on Redis's clock", async () => {
    const { slots, prefix } = redisSlots()
    // What a process that died leaves: one lease run out, one still running.
    const [seconds] = await redis!.client.time()
    const now = Number(seconds) * 1000
    await redis!.client.zadd(`${prefix}streams:k`, String(now - 1), 'dead:1', String(now + 60_000), 'alive:1')
    taken(await slots.acquire('k', undefined, { key: 2, visitor: 1 }))
    expect(await slots.acquire('k', undefined, { key: 2, visitor: 1 })).toEqual({ full: 'key' })
    expect(await members(`${prefix}streams:k`)).not.toContain('dead:1')
  })

  it('renews the leases of open answers, putting back one that Redis lost', async () => {
    const { slots, prefix } = redisSlots({ leaseMs: 1_000 })
    taken(await slots.acquire('k', 'a', { key: 1, visitor: 1 }))
    const [held] = await members(`${prefix}streams:k`)
    const expiryOf = async () => Number(await redis!.client.zscore(`${prefix}streams:k`, held!))
    const first = await expiryOf()
    await expect.poll(expiryOf, { timeout: 5_000, interval: 50 }).toBeGreaterThan(first)
    // As after a Redis restart: the sets are gone while the answer is still open.
    await redis!.client.del(`${prefix}streams:k`, `${prefix}streams:k:visitor:a`)
    await expect.poll(() => members(`${prefix}streams:k`), { timeout: 5_000, interval: 50 }).toEqual([held])
    expect(await members(`${prefix}streams:k:visitor:a`)).toEqual([held])
    // Past several leases, the answer still holds its slot.
    await sleep(2_500)
    expect(await slots.acquire('k', 'b', { key: 1, visitor: 1 })).toEqual({ full: 'key' })
  })

  it('gives back every lease it holds when closed', async () => {
    const { slots, prefix } = redisSlots()
    for (let i = 0; i < 3; i++) taken(await slots.acquire('k', `v${i}`, CAPS))
    expect(await redis!.client.zcard(`${prefix}streams:k`)).toBe(3)
    await slots.close()
    expect(await redis!.keys().then((keys) => keys.filter((key) => key.startsWith(prefix)))).toEqual([])
  })
})

describe.skipIf(!privateRedis)('stream slots when Redis stops', () => {
  const onPrivate = (failureMode: 'closed' | 'local') => {
    const lines: Record<string, unknown>[] = []
    const log = createLogger({ write: (line) => lines.push(JSON.parse(line)) })
    const slots = createRedisStreamSlots({
      url: privateRedis!.url,
      prefix: 'assisters-test:slots:',
      timeoutMs: 300,
      failureMode,
      leaseMs: 30_000,
      log,
    })
    opened.push(slots)
    return { slots, warnings: () => lines.filter((line) => line.level === 'warn') }
  }
  /** Polls until the slots answer from Redis (they reconnect by themselves). */
  const untilAnswering = async (slots: StreamSlots) => {
    for (let tries = 0; ; tries++) {
      try {
        return taken(await slots.acquire('probe', undefined, { key: 1_000, visitor: 1 })).release()
      } catch (err) {
        if (tries > 150) throw err
        await sleep(100)
      }
    }
  }

  it('refuses with 503 rate_limiter_unavailable (closed), warns once, and takes slots again once Redis is back', async () => {
    const { slots, warnings } = onPrivate('closed')
    await untilAnswering(slots)
    await privateRedis!.stop()
    try {
      for (let i = 0; i < 3; i++) {
        const error = await slots.acquire('k', 'a', CAPS).catch((err: unknown) => err)
        expect(error).toBeInstanceOf(HttpError)
        expect(error).toMatchObject({ status: 503, code: 'rate_limiter_unavailable', headers: { 'retry-after': '2' } })
      }
      expect(warnings()).toHaveLength(1)
      expect(warnings()[0]).toMatchObject({ msg: 'stream slots: Redis is unavailable', failureMode: 'closed' })
    } finally {
      await privateRedis!.start()
    }
    await untilAnswering(slots)
    taken(await slots.acquire('k', 'a', CAPS))
  })

  it('gives back a slot that a hung Redis takes after the deadline', async () => {
    const { slots } = onPrivate('closed')
    await untilAnswering(slots)
    privateRedis!.pause()
    try {
      expect(await slots.acquire('late', 'a', CAPS).catch((err: unknown) => err)).toMatchObject({ code: 'rate_limiter_unavailable' })
    } finally {
      privateRedis!.resume()
    }
    // Redis runs what it held in order: the late acquire, then the ZREMs sent behind it, then this.
    await untilAnswering(slots)
    const look = new Redis(privateRedis!.url)
    try {
      expect(await look.exists('assisters-test:slots:streams:late', 'assisters-test:slots:streams:late:visitor:a')).toBe(0)
    } finally {
      look.disconnect()
    }
  })

  it('caps answers in this process (local) while Redis is stopped, and gives those slots back there', async () => {
    const { slots, warnings } = onPrivate('local')
    await untilAnswering(slots)
    await privateRedis!.stop()
    try {
      const first = taken(await slots.acquire('k', 'a', CAPS))
      taken(await slots.acquire('k', 'a', CAPS))
      expect(await slots.acquire('k', 'a', CAPS)).toEqual({ full: 'visitor' })
      taken(await slots.acquire('k', 'b', CAPS))
      expect(await slots.acquire('k', 'c', CAPS)).toEqual({ full: 'key' })
      first.release()
      taken(await slots.acquire('k', 'c', CAPS))
      expect(warnings()).toHaveLength(1)
      expect(warnings()[0]).toMatchObject({ failureMode: 'local' })
    } finally {
      await privateRedis!.start()
    }
  })
})
