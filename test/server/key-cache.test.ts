/**
 * The per-process key cache on PostgreSQL (server/store/key-cache.ts), against the real database:
 * it answers from memory only while its LISTEN connection is alive, forgets a key when the keys
 * table's trigger says it changed, never caches what a lookup read across a change, and stops
 * trusting itself within a second when its connection hangs.
 */
import pg from 'pg'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { generateKey, hashKey, keyPrefix } from '../../server/keys.ts'
import { createKeyCache, KEY_CHANGES_CHANNEL, type KeyCache } from '../../server/store/key-cache.ts'
import { openPostgresStore } from '../../server/store/postgres.ts'
import type { Store } from '../../server/store/store.ts'
import { createTestDatabase, describePostgres, type TestDatabase } from '../support/postgres.ts'
import { newKey } from '../support/new-key.ts'
import { sleep } from '../support/sleep.ts'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts'

let database: TestDatabase
let client: pg.Client
const closing: Array<{ close(): Promise<void> }> = []

beforeEach(async () => {
  database = await createTestDatabase()
  client = new pg.Client({ connectionString: database.url })
  await client.connect()
})
afterEach(async () => {
  for (const thing of closing.splice(0).reverse()) await thing.close()
  await client.end()
  await database.drop()
})

function cache(url = database.url): KeyCache<{ id: string }> {
  const made = createKeyCache<{ id: string }>({ url })
  closing.push(made)
  return made
}

const KEY = { id: 'key_1' }

/** A `load` that counts its calls. */
function counted(record: { id: string } | undefined) {
  const load = Object.assign(
    async () => {
      load.calls++
      return record
    },
    { calls: 0 },
  )
  return load
}

/** Asks until the cache answers without loading (its connection is up and it trusts itself). */
async function untilCached(keys: KeyCache<{ id: string }>, load: ReturnType<typeof counted>, hash = 'h1') {
  await expect
    .poll(
      async () => {
        await keys.get(hash, load)
        const before = load.calls
        await keys.get(hash, load)
        return load.calls - before
      },
      { timeout: 5_000, interval: 50 },
    )
    .toBe(0)
}

describePostgres('the key cache', () => {
  it('answers a known key from memory once its connection listens, and never caches an unknown one', async () => {
    const keys = cache()
    const load = counted(KEY)
    await untilCached(keys, load)
    const calls = load.calls
    for (let i = 0; i < 5; i++) expect(await keys.get('h1', load)).toEqual({ id: 'key_1' })
    expect(load.calls).toBe(calls)
    const missing = counted(undefined)
    for (let i = 0; i < 3; i++) expect(await keys.get('h2', missing)).toBeUndefined()
    expect(missing.calls).toBe(3)
  })

  it('forgets a key when the channel names it, and everything on clear()', async () => {
    const keys = cache()
    const load = counted(KEY)
    await untilCached(keys, load)
    const calls = load.calls
    await client.query('SELECT pg_notify($1, $2)', [KEY_CHANGES_CHANNEL, 'h1'])
    await expect.poll(async () => (await keys.get('h1', load), load.calls), { timeout: 1_000, interval: 20 }).toBeGreaterThan(calls)
    await untilCached(keys, load)
    const again = load.calls
    keys.clear()
    await keys.get('h1', load)
    expect(load.calls).toBe(again + 1)
  })

  it('does not cache what a lookup read while a change went by', async () => {
    const keys = cache()
    await untilCached(keys, counted(KEY), 'warm')
    let release!: () => void
    const slow = Object.assign(
      async () => {
        slow.calls++
        if (slow.calls === 1) await new Promise<void>((resolve) => (release = resolve))
        return { id: 'key_1' }
      },
      { calls: 0 },
    )
    const first = keys.get('h1', slow)
    await client.query('SELECT pg_notify($1, $2)', [KEY_CHANGES_CHANNEL, 'other'])
    await sleep(200)
    release()
    await first
    await keys.get('h1', slow)
    expect(slow.calls).toBe(2)
  })

  it('stops trusting itself within a second when its connection hangs, and loads every time', async () => {
    const target = new URL(database.url)
    const proxy: TcpProxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) })
    closing.push(proxy)
    target.port = String(proxy.port)
    const keys = cache(target.href)
    const load = counted(KEY)
    await untilCached(keys, load)
    proxy.freeze()
    const frozenAt = Date.now()
    await expect
      .poll(
        async () => {
          const before = load.calls
          await keys.get('h1', load)
          return load.calls - before
        },
        { timeout: 2_000, interval: 20 },
      )
      .toBe(1)
    expect(Date.now() - frozenAt).toBeLessThan(1_500)
  })

  it('loads every time once its connection is ended, then caches again after it reconnects', async () => {
    const keys = cache()
    const load = counted(KEY)
    await untilCached(keys, load)
    await client.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'assisters-key-cache'",
      [database.name],
    )
    await expect
      .poll(
        async () => {
          const before = load.calls
          await keys.get('h1', load)
          return load.calls - before
        },
        { timeout: 1_000, interval: 10 },
      )
      .toBe(1)
    await untilCached(keys, load)
  })
})

describePostgres('the PostgreSQL store with its key cache, as several processes hold it', () => {
  let stores: Store[]
  beforeEach(async () => {
    stores = await Promise.all([0, 1].map(() => openPostgresStore({ url: database.url, poolSize: 3, statementTimeoutMs: 5000 })))
    closing.push(...stores)
  })

  it('sees a key revoked through itself at once, and through another store or plain SQL within a second', async () => {
    const [a, b] = stores as [Store, Store]
    await a.createAccount('acct_1', 'A')
    const keys = [generateKey(), generateKey(), generateKey()]
    for (const [i, key] of keys.entries())
      await a.createKey(`key_${i}`, newKey('acct_1', { hash: hashKey(key), prefix: keyPrefix(key) }), 10)
    const find = (store: Store, i: number) => store.findKeyByHash(hashKey(keys[i]!))
    // Both caches warm: their connections listen and the keys are held.
    await sleep(500)
    for (const store of stores) for (const i of [0, 1, 2]) expect((await find(store, i))?.revoked_at).toBeNull()

    await a.revokeKey('key_0')
    expect((await find(a, 0))?.revoked_at).toEqual(expect.any(String))
    await expect.poll(async () => (await find(b, 0))?.revoked_at, { timeout: 1_000, interval: 10 }).toEqual(expect.any(String))

    await client.query("UPDATE keys SET allowed_domains = '{example.com}' WHERE id = 'key_1'")
    for (const store of stores) {
      await expect.poll(async () => (await find(store, 1))?.allowed_domains, { timeout: 1_000, interval: 10 }).toEqual(['example.com'])
    }
  })

  it('is not told about usage writes, which move last_used_at all the time', async () => {
    const [a] = stores as [Store]
    await a.createAccount('acct_1', 'A')
    await a.createKey('key_1', newKey('acct_1'), 10)
    const listener = new pg.Client({ connectionString: database.url })
    await listener.connect()
    closing.push({ close: () => listener.end() })
    const heard: string[] = []
    listener.on('notification', (message) => heard.push(message.payload ?? ''))
    await listener.query(`LISTEN ${KEY_CHANGES_CHANNEL}`)
    await a.addUsage(
      [{ key_id: 'key_1', day: '2026-12-03', requests: 1, prompt_tokens: 1, completion_tokens: 1 }],
      new Map([['key_1', new Date().toISOString()]]),
    )
    await a.revokeKey('key_1')
    await expect.poll(() => heard.length, { timeout: 1_000 }).toBe(1)
    await sleep(100)
    expect(heard).toHaveLength(1)
  })
})
