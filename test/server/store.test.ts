import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { generateKey, hashKey, keyPrefix } from '../../server/keys.ts'
import { createLogger } from '../../server/log.ts'
import { createOwnerAuth, IDLE_MS } from '../../server/owner-auth.ts'
import { migrate, SQLITE_SCHEMA_VERSION } from '../../server/store/migrations.ts'
import { migratePostgres, POSTGRES_SCHEMA_VERSION } from '../../server/store/postgres-migrations.ts'
import { openPostgresStore } from '../../server/store/postgres.ts'
import { openSqliteStore } from '../../server/store/sqlite.ts'
import { StoreConflict, StoreUnavailable, type Store, type UsageRow } from '../../server/store/store.ts'
import { hashToken, newToken } from '../../server/tokens.ts'
import { createUsageRecorder, type UsageRecorder } from '../../server/usage.ts'
import { newKey } from '../support/new-key.ts'
import { sleep } from '../support/sleep.ts'
import { createTestDatabase, hasPostgres } from '../support/postgres.ts'

/**
 * One contract, two implementations: every test below runs on SQLite and on PostgreSQL, each test on
 * a fresh database of its own. What a test reads behind the store's back goes through `query`, in SQL
 * both engines speak (`?` placeholders).
 */
interface Engine {
  /** The store on this test's database; closed after the test. */
  open(): Promise<Store>
  /** SQL run directly on this test's database; the rows. */
  query(sql: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>
  /** Runs the migrations on this test's database directly; how many ran. */
  migrate(): Promise<number>
  /** How many migrations this engine has (PostgreSQL has one more: the key-change trigger). */
  schemaVersion: number
  /** The names of this test's database's tables, sorted. */
  tables(): Promise<string[]>
  /** Closes what the test opened, then removes the database. */
  close(): Promise<void>
}

async function sqliteEngine(): Promise<Engine> {
  const dir = mkdtempSync(join(tmpdir(), 'assisters-store-'))
  const path = join(dir, 'nested', 'folder', 'test.db')
  const opened: Array<{ close(): unknown }> = []
  const raw = () => {
    mkdirSync(dirname(path), { recursive: true })
    const db = new Database(path)
    opened.push(db)
    return db
  }
  return {
    async open() {
      const store = openSqliteStore(path)
      opened.push(store)
      return store
    },
    async query(sql, params = []) {
      const statement = raw().prepare(sql)
      return statement.reader ? (statement.all(...params) as Array<Record<string, unknown>>) : (statement.run(...params), [])
    },
    async migrate() {
      return migrate(raw())
    },
    schemaVersion: SQLITE_SCHEMA_VERSION,
    async tables() {
      return raw().prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[]
    },
    async close() {
      for (const thing of opened.splice(0).reverse()) await thing.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function postgresEngine(): Promise<Engine> {
  const database = await createTestDatabase()
  const pool = new pg.Pool({ connectionString: database.url, max: 2 })
  // pool.end() resolves before its sockets close; the drop below may then end them from the server's side.
  pool.on('error', () => {})
  const opened: Store[] = []
  return {
    async open() {
      const store = await openPostgresStore({ url: database.url, poolSize: 5, statementTimeoutMs: 5000 })
      opened.push(store)
      return store
    },
    async query(sql, params = []) {
      let n = 0
      return (
        await pool.query(
          sql.replace(/\?/g, () => `$${++n}`),
          params,
        )
      ).rows
    },
    migrate: () => migratePostgres(pool),
    schemaVersion: POSTGRES_SCHEMA_VERSION,
    async tables() {
      const { rows } = await pool.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
      return rows.map((row) => row.tablename as string)
    },
    async close() {
      for (const store of opened.splice(0).reverse()) await store.close()
      await pool.end()
      await database.drop()
    },
  }
}

const ENGINES = [
  { name: 'SQLite', create: sqliteEngine, available: true },
  { name: 'PostgreSQL', create: postgresEngine, available: hasPostgres },
]

async function accountWithKeys(store: Store, count: number, id = 'acct_1') {
  await store.createAccount(id, 'Account')
  const keys = []
  for (let i = 0; i < count; i++) keys.push(await store.createKey(`key_${id}_${i}`, newKey(id), 10))
  return keys
}

const today = () => new Date().toISOString().slice(0, 10)

/** A key's last_used_at, read the way the API reads it: through its account's listing. */
const lastUsedAt = async (store: Store, keyId: string, accountId = 'acct_1') =>
  (await store.listKeys(accountId)).find((key) => key.id === keyId)?.last_used_at

describe.each(ENGINES)('the $name store', ({ name, create, available }) => {
  let engine: Engine | undefined
  const recorders: UsageRecorder[] = []
  beforeEach(async (context) => {
    if (!available) return context.skip()
    engine = await create()
  })
  afterEach(async () => {
    // Recorders first: closing one writes to its store.
    for (const recorder of recorders.splice(0)) await recorder.close()
    await engine?.close()
    engine = undefined
  })
  const open = () => engine!.open()
  const query = (sql: string, params?: unknown[]) => engine!.query(sql, params)

  describe('migrations', () => {
    it('creates the folders and the file, and runs each migration once across reopening', async () => {
      const first = await open()
      await first.createAccount('acct_1', 'Kept')
      await first.createKey('key_1', newKey('acct_1', { name: 'kept key', allowedDomains: ['example.com'] }), 10)
      await first.close()

      const second = await open()
      expect(await second.getAccount('acct_1')).toMatchObject({ id: 'acct_1', name: 'Kept' })
      expect(await second.listKeys('acct_1')).toEqual([
        expect.objectContaining({ id: 'key_1', name: 'kept key', allowed_domains: ['example.com'], is_primary: true }),
      ])
      await second.close()
      await open()

      const versions = Array.from({ length: engine!.schemaVersion }, (_, i) => ({ version: i + 1 }))
      expect(await query('SELECT version FROM schema_migrations ORDER BY version')).toEqual(versions)
      expect(await engine!.migrate()).toBe(0)
    })

    it('migrates a fresh database and reports how many migrations ran', async () => {
      expect(await engine!.migrate()).toBe(engine!.schemaVersion)
      expect(await engine!.migrate()).toBe(0)
      expect(await engine!.tables()).toEqual([
        'accounts',
        'key_origins',
        'keys',
        'owners',
        'password_links',
        'refusals',
        'schema_migrations',
        'server_secrets',
        'sessions',
        'usage',
      ])
    })

    it('keeps the first secret stored under a name: every store on the database, and every reopening, gets that one', async () => {
      const [a, b] = [await open(), await open()]
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).serverSecret('visitor_id', `candidate-${i}`)))
      expect(new Set(answers).size).toBe(1)
      expect(answers[0]).toMatch(/^candidate-\d$/)
      await a.close()
      expect(await (await open()).serverSecret('visitor_id', 'later')).toBe(answers[0])
      expect(await b.serverSecret('another', 'its own')).toBe('its own')
      expect(await query('SELECT name, value FROM server_secrets ORDER BY name')).toEqual([
        { name: 'another', value: 'its own' },
        { name: 'visitor_id', value: answers[0] },
      ])
    })

    it('never stores or returns a full key, only its hash and prefix', async () => {
      const store = await open()
      await store.createAccount('acct_1', 'A')
      const full = generateKey()
      const record = await store.createKey('key_1', newKey('acct_1', { hash: hashKey(full), prefix: keyPrefix(full) }), 10)
      expect(record).not.toHaveProperty('hash')
      expect(JSON.stringify(record)).not.toContain(full)
      expect(await store.findKeyByHash(hashKey(full))).toEqual(record)
      const [stored] = await query('SELECT * FROM keys')
      expect(stored!.hash).toBe(hashKey(full))
      expect(Object.values(stored!)).not.toContain(full)
    })
  })

  describe('accounts, key changes, owners, links and sessions (the dashboard)', () => {
    it('lists every account, oldest first', async () => {
      const store = await open()
      expect(await store.listAccounts()).toEqual([])
      await store.createAccount('acct_b', 'First')
      await sleep(2)
      await store.createAccount('acct_a', 'Second')
      expect((await store.listAccounts()).map((account) => account.name)).toEqual(['First', 'Second'])
    })

    it("answers an account's daily token budget, null for none and for an unknown account", async () => {
      const store = await open()
      await store.createAccount('acct_1', 'A')
      expect(await store.accountTokenLimit('acct_1')).toBeNull()
      await store.updateAccount('acct_1', { dailyTokenLimit: 5_000 })
      expect(await store.accountTokenLimit('acct_1')).toBe(5_000)
      await store.updateAccount('acct_1', { dailyTokenLimit: null })
      expect(await store.accountTokenLimit('acct_1')).toBeNull()
      expect(await store.accountTokenLimit('acct_none')).toBeNull()
    })

    it('changes only the fields given, clears with null, and refuses a revoked key', async () => {
      const store = await open()
      const [key, other] = await accountWithKeys(store, 2)
      await store.updateKey(key!.id, { rateLimitRpm: 5, instructions: 'Be brief' })
      const changed = await store.updateKey(key!.id, { name: 'Renamed', allowedDomains: ['example.com'] })
      expect(changed).toMatchObject({ name: 'Renamed', allowed_domains: ['example.com'], rate_limit_rpm: 5, instructions: 'Be brief' })
      expect(await store.updateKey(key!.id, { rateLimitRpm: null, instructions: null })).toMatchObject({
        name: 'Renamed',
        rate_limit_rpm: null,
        instructions: null,
      })
      expect(await store.getKey(key!.id)).toEqual(await store.updateKey(key!.id, {}))
      expect(await store.getKey(other!.id)).toEqual(other)
      expect(await store.updateKey('key_unknown', { name: 'x' })).toBeUndefined()
      await store.revokeKey(other!.id)
      await expect(store.updateKey(other!.id, { name: 'x' })).rejects.toMatchObject({ reason: 'key_revoked' })
      expect((await store.getKey(other!.id))!.name).toBe(other!.name)
    })

    it('refuses a second owner with the same email, in any account', async () => {
      const store = await open()
      await store.createAccount('acct_1', 'A')
      await store.createAccount('acct_2', 'B')
      const owner = await store.createOwner('owner_1', 'acct_1', 'a@example.com')
      expect(owner).toMatchObject({ id: 'owner_1', account_id: 'acct_1', email: 'a@example.com', password_hash: null })
      await expect(store.createOwner('owner_2', 'acct_2', 'a@example.com')).rejects.toMatchObject({ reason: 'email_taken' })
      expect(await store.findOwnerByEmail('a@example.com')).toEqual(owner)
      expect(await store.getOwner('owner_1')).toEqual(owner)
      expect(await store.listOwners('acct_2')).toEqual([])
      await store.setOwnerPassword('owner_1', 'scrypt$hash')
      expect(await store.listOwners('acct_1')).toEqual([{ ...owner, password_hash: 'scrypt$hash' }])
    })

    it('uses a set-password link once, and never after it expires, even when raced', async () => {
      const store = await open()
      await store.createAccount('acct_1', 'A')
      await store.createOwner('owner_1', 'acct_1', 'a@example.com')
      await store.createPasswordLink('hash_live', 'owner_1', '2030-01-01T00:00:00.000Z')
      await store.createPasswordLink('hash_old', 'owner_1', '2020-01-01T00:00:00.000Z')
      const now = '2026-01-01T00:00:00.000Z'
      const tries = await Promise.all(Array.from({ length: 5 }, () => store.usePasswordLink('hash_live', now)))
      expect(tries.filter((owner) => owner === 'owner_1')).toHaveLength(1)
      expect(await store.usePasswordLink('hash_old', now)).toBeUndefined()
      expect(await store.usePasswordLink('hash_unknown', now)).toBeUndefined()
    })

    it("ends every unused link of an owner, and no other owner's; a link used by the owner's own auth ends the others", async () => {
      const store = await open()
      await store.createAccount('acct_1', 'A')
      await store.createOwner('owner_1', 'acct_1', 'a@example.com')
      await store.createOwner('owner_2', 'acct_1', 'b@example.com')
      const until = '2030-01-01T00:00:00.000Z'
      const now = '2026-01-01T00:00:00.000Z'
      await store.createPasswordLink('hash_a', 'owner_1', until)
      await store.createPasswordLink('hash_b', 'owner_1', until)
      await store.createPasswordLink('hash_other', 'owner_2', until)
      await store.endPasswordLinks('owner_1', now)
      expect(await store.usePasswordLink('hash_a', now)).toBeUndefined()
      expect(await store.usePasswordLink('hash_b', now)).toBeUndefined()
      expect(await store.usePasswordLink('hash_other', now)).toBe('owner_2')

      // Two links La and Lb of one owner: setting the password with La ends Lb.
      const auth = createOwnerAuth(store)
      const [la, lb] = [newToken(), newToken()]
      await store.createPasswordLink(hashToken(la), 'owner_1', until)
      await store.createPasswordLink(hashToken(lb), 'owner_1', until)
      await auth.setPasswordWithLink({ token: la, password: 'a long enough password' })
      await expect(auth.setPasswordWithLink({ token: lb, password: 'the attacker password' })).rejects.toMatchObject({
        status: 400,
        param: 'token',
      })
    })

    it('keeps sessions by hash, moves last_seen_at only forward, and ends one or all but one', async () => {
      const store = await open()
      await store.createAccount('acct_1', 'A')
      await store.createOwner('owner_1', 'acct_1', 'a@example.com')
      await store.createOwner('owner_2', 'acct_1', 'b@example.com')
      const t0 = '2026-01-01T00:00:00.000Z'
      for (const hash of ['s1', 's2', 's3']) await store.createSession(hash, 'owner_1', t0)
      await store.createSession('s4', 'owner_2', t0)
      expect(await store.findSession('s1')).toEqual({ owner_id: 'owner_1', created_at: t0, last_seen_at: t0 })
      await store.touchSession('s1', '2026-01-01T01:00:00.000Z')
      await store.touchSession('s1', '2026-01-01T00:30:00.000Z')
      expect(await store.findSession('s1')).toMatchObject({ last_seen_at: '2026-01-01T01:00:00.000Z' })
      await store.endSession('s2')
      expect(await store.findSession('s2')).toBeUndefined()
      await store.endOwnerSessions('owner_1', 's1')
      expect([await store.findSession('s1'), await store.findSession('s3')]).toEqual([expect.anything(), undefined])
      await store.endOwnerSessions('owner_1')
      expect(await store.findSession('s1')).toBeUndefined()
      expect(await store.findSession('s4')).toBeDefined()
    })

    it('purges sessions idle or signed in too long ago and links used or expired, and nothing live', async () => {
      const store = await open()
      await store.createAccount('acct_1', 'A')
      await store.createOwner('owner_1', 'acct_1', 'a@example.com')
      await store.createSession('idle', 'owner_1', '2026-01-01T00:00:00.000Z')
      await store.createSession('old', 'owner_1', '2026-01-01T00:00:00.000Z')
      await store.touchSession('old', '2026-01-09T00:00:00.000Z')
      await store.createSession('live', 'owner_1', '2026-01-08T00:00:00.000Z')
      await store.touchSession('live', '2026-01-09T00:00:00.000Z')
      await store.createPasswordLink('used', 'owner_1', '2026-01-10T00:00:00.000Z')
      await store.usePasswordLink('used', '2026-01-08T00:00:00.000Z')
      await store.createPasswordLink('expired', 'owner_1', '2026-01-09T00:00:00.000Z')
      await store.createPasswordLink('open', 'owner_1', '2026-01-09T12:00:00.000Z')

      // At 2026-01-09 01:00: idle since before 2026-01-08 13:00, or signed in before 2026-01-02 01:00.
      const purged = await store.purgeExpired('2026-01-09T01:00:00.000Z', '2026-01-08T13:00:00.000Z', '2026-01-02T01:00:00.000Z')
      expect(purged).toEqual({ sessions: 2, links: 2 })
      expect([await store.findSession('idle'), await store.findSession('old'), await store.findSession('live')]).toEqual([
        undefined,
        undefined,
        expect.objectContaining({ owner_id: 'owner_1' }),
      ])
      expect((await query('SELECT token_hash FROM password_links')).map((row) => row.token_hash)).toEqual(['open'])
      expect(await store.usePasswordLink('open', '2026-01-09T02:00:00.000Z')).toBe('owner_1')
    })

    it("purges through the owners' auth at its idle and absolute limits, on its clock", async () => {
      const store = await open()
      await store.createAccount('acct_1', 'A')
      await store.createOwner('owner_1', 'acct_1', 'a@example.com')
      let clock = Date.parse('2026-03-01T00:00:00.000Z')
      const auth = createOwnerAuth(store, { now: () => clock })
      await store.createSession('s', 'owner_1', new Date(clock).toISOString())
      clock += IDLE_MS
      expect(await auth.purgeExpired()).toEqual({ sessions: 0, links: 0 })
      clock += 1
      expect(await auth.purgeExpired()).toEqual({ sessions: 1, links: 0 })
    })

    it('removes an owner with their sessions and links, and no one else', async () => {
      const store = await open()
      await store.createAccount('acct_1', 'A')
      await store.createOwner('owner_1', 'acct_1', 'a@example.com')
      await store.createOwner('owner_2', 'acct_1', 'b@example.com')
      await store.createSession('s1', 'owner_1', '2026-01-01T00:00:00.000Z')
      await store.createSession('s2', 'owner_2', '2026-01-01T00:00:00.000Z')
      await store.createPasswordLink('l1', 'owner_1', '2026-01-02T00:00:00.000Z')
      await store.createPasswordLink('l2', 'owner_2', '2026-01-02T00:00:00.000Z')

      expect(await store.removeOwner('owner_1')).toMatchObject({ id: 'owner_1', email: 'a@example.com' })
      expect(await store.getOwner('owner_1')).toBeUndefined()
      expect(await store.findSession('s1')).toBeUndefined()
      expect(await store.usePasswordLink('l1', '2026-01-01T00:00:00.000Z')).toBeUndefined()
      expect(await store.findSession('s2')).toBeDefined()
      expect(await store.usePasswordLink('l2', '2026-01-01T00:00:00.000Z')).toBe('owner_2')
      expect(await store.removeOwner('owner_1')).toBeUndefined()
      // The email is free again.
      await store.createOwner('owner_3', 'acct_1', 'a@example.com')
    })

    it('adds up refusals and origins, keeps the most recently seen origins up to the bound per key, and shows each account its own', async () => {
      const store = await open()
      const [key, other] = await accountWithKeys(store, 2)
      const [foreign] = await accountWithKeys(store, 1, 'acct_2')
      const at = (minute: number) => `2026-01-01T00:0${minute}:00.000Z`
      const sighting = (keyId: string, origin: string, allowed: boolean, minute: number, requests = 1) => ({
        key_id: keyId,
        origin,
        allowed,
        requests,
        last_seen_at: at(minute),
      })
      await store.addActivity(
        [{ key_id: key!.id, day: '2026-01-01', reason: 'origin_not_allowed', count: 2 }],
        [sighting(key!.id, 'https://a.example', true, 1), sighting(key!.id, 'https://evil.example', false, 2)],
        3,
      )
      await store.addActivity(
        [
          { key_id: key!.id, day: '2026-01-01', reason: 'origin_not_allowed', count: 3 },
          { key_id: other!.id, day: '2026-01-02', reason: 'too_many_streams', count: 4 },
          { key_id: other!.id, day: '2026-01-02', reason: 'rate_limited', count: 1 },
          { key_id: foreign!.id, day: '2026-01-01', reason: 'key_revoked', count: 9 },
        ],
        [
          sighting(key!.id, 'https://a.example', true, 5, 4),
          // An earlier sighting never moves last_seen_at back.
          sighting(key!.id, 'https://evil.example', false, 0),
          sighting(key!.id, '', true, 3),
          // The key's fourth origin is over the bound of 3: it replaces the least recently seen. Another key has its own bound.
          sighting(key!.id, 'https://fourth.example', true, 6),
          sighting(other!.id, 'https://b.example', true, 4),
        ],
        3,
      )
      const { refusals, origins } = await store.activity('acct_1')
      expect(refusals).toEqual([
        { key_id: key!.id, day: '2026-01-01', reason: 'origin_not_allowed', count: 5 },
        { key_id: other!.id, day: '2026-01-02', reason: 'rate_limited', count: 1 },
        { key_id: other!.id, day: '2026-01-02', reason: 'too_many_streams', count: 4 },
      ])
      expect(origins).toEqual([
        sighting(key!.id, 'https://fourth.example', true, 6),
        sighting(key!.id, 'https://a.example', true, 5, 5),
        sighting(other!.id, 'https://b.example', true, 4),
        sighting(key!.id, '', true, 3),
      ])
      // Made-up origins seen later push out the oldest, and a real one seen again comes back.
      await store.addActivity(
        [],
        [sighting(key!.id, 'https://made-up-1.example', false, 7), sighting(key!.id, 'https://made-up-2.example', false, 8)],
        3,
      )
      await store.addActivity([], [sighting(key!.id, 'https://a.example', true, 9)], 3)
      expect((await store.activity('acct_1')).origins.filter((row) => row.key_id === key!.id).map((row) => row.origin)).toEqual([
        'https://a.example',
        'https://made-up-2.example',
        'https://made-up-1.example',
      ])
      expect(await store.activity('acct_2')).toEqual({
        refusals: [{ key_id: foreign!.id, day: '2026-01-01', reason: 'key_revoked', count: 9 }],
        origins: [],
      })
    })
  })

  describe('the active-key limit', () => {
    it('lets exactly 10 of 15 concurrent createKey calls succeed', async () => {
      const store = await open()
      await store.createAccount('acct_1', 'A')
      const results = await Promise.allSettled(Array.from({ length: 15 }, (_, i) => store.createKey(`key_${i}`, newKey('acct_1'), 10)))
      const refused = results.filter((result) => result.status === 'rejected')
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(10)
      expect(refused).toHaveLength(5)
      for (const result of refused) {
        expect(result.reason).toBeInstanceOf(StoreConflict)
        expect(result.reason.reason).toBe('key_limit_reached')
      }
      expect(await store.listKeys('acct_1')).toHaveLength(10)
    })

    it('holds the limit when two connections to one file create keys at once', async () => {
      const [a, b] = [await open(), await open()]
      await a.createAccount('acct_1', 'A')
      const results = await Promise.allSettled(
        Array.from({ length: 15 }, (_, i) => (i % 2 ? a : b).createKey(`key_${i}`, newKey('acct_1'), 10)),
      )
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(10)
      expect(await query('SELECT CAST(count(*) AS integer) AS n FROM keys')).toEqual([{ n: 10 }])
    })

    it('counts only active keys, and each account separately', async () => {
      const store = await open()
      const keys = await accountWithKeys(store, 10)
      await accountWithKeys(store, 10, 'acct_2')
      await expect(store.createKey('key_x', newKey('acct_1'), 10)).rejects.toThrow(StoreConflict)

      await store.revokeKey(keys[3]!.id)
      expect(await store.createKey('key_y', newKey('acct_1'), 10)).toMatchObject({ id: 'key_y', revoked_at: null })
      await expect(store.createKey('key_z', newKey('acct_1'), 10)).rejects.toThrow(StoreConflict)
      expect(await store.listKeys('acct_1')).toHaveLength(11)
    })

    it('refuses a key for an account that does not exist', async () => {
      await expect((await open()).createKey('key_1', newKey('acct_missing'), 10)).rejects.toThrow(/foreign key/i)
    })
  })

  describe('the primary key', () => {
    const primaries = async (accountId = 'acct_1') =>
      (await query('SELECT id FROM keys WHERE account_id = ? AND is_primary', [accountId])).map((row) => row.id)

    it('makes the first key primary and no other', async () => {
      const keys = await accountWithKeys(await open(), 3)
      expect(keys.map((key) => key.is_primary)).toEqual([true, false, false])
    })

    it('keeps at most one primary per account while setPrimaryKey calls race on two connections', async () => {
      const [a, b] = [await open(), await open()]
      const keys = await accountWithKeys(a, 5)
      await accountWithKeys(a, 2, 'acct_2')
      const calls = Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).setPrimaryKey(keys[(i * 3) % 5]!.id))
      const results = await Promise.all(calls)
      expect(results.every((key) => key?.is_primary)).toBe(true)
      // Which call lands last is up to the engine (SQLite runs them in turn, PostgreSQL in parallel): one primary, either way.
      const [winner, ...others] = await primaries()
      expect(others).toEqual([])
      expect(keys.map((key) => key.id)).toContain(winner)
      expect(await primaries('acct_2')).toHaveLength(1)
      await a.setPrimaryKey(keys[2]!.id)
      expect(await primaries()).toEqual([keys[2]!.id])
    })

    it('has the database itself refuse a second primary for one account', async () => {
      await accountWithKeys(await open(), 2)
      await expect(query("UPDATE keys SET is_primary = TRUE WHERE account_id = 'acct_1'")).rejects.toThrow(/unique/i)
    })

    it('leaves no primary after revoking it, until another is set or a new key is created', async () => {
      const store = await open()
      const [first, second] = await accountWithKeys(store, 2)
      expect(await store.revokeKey(first!.id)).toMatchObject({ is_primary: false })
      expect(await primaries()).toEqual([])
      expect(await store.createKey('key_new', newKey('acct_1'), 10)).toMatchObject({ is_primary: true })
      expect(await store.setPrimaryKey(second!.id)).toMatchObject({ id: second!.id, is_primary: true })
      expect(await primaries()).toEqual([second!.id])
    })

    it('refuses to make a revoked key primary, and answers undefined for an unknown id', async () => {
      const store = await open()
      const [first, second] = await accountWithKeys(store, 2)
      await store.revokeKey(second!.id)
      await expect(store.setPrimaryKey(second!.id)).rejects.toMatchObject({ reason: 'key_revoked' })
      expect(await primaries()).toEqual([first!.id])
      expect(await store.setPrimaryKey('key_missing')).toBeUndefined()
    })
  })

  describe('revocation and lookup', () => {
    it('revokes idempotently: a second call keeps the first revoked_at', async () => {
      const store = await open()
      const [key] = await accountWithKeys(store, 1)
      const revoked = await store.revokeKey(key!.id)
      expect(revoked?.revoked_at).toMatch(/^\d{4}-\d\d-\d\dT/)
      await sleep(5)
      expect(await store.revokeKey(key!.id)).toEqual(revoked)
    })

    it('answers undefined when revoking an unknown id', async () => {
      expect(await (await open()).revokeKey('key_missing')).toBeUndefined()
    })

    it('finds a key by hash, revoked or not, and nothing for an unknown hash', async () => {
      const store = await open()
      await store.createAccount('acct_1', 'A')
      const input = newKey('acct_1', { allowedDomains: ['*.example.com'], rateLimitRpm: 5, instructions: 'Be brief.' })
      await store.createKey('key_1', input, 10)
      expect(await store.findKeyByHash(input.hash)).toMatchObject({
        id: 'key_1',
        account_id: 'acct_1',
        allowed_domains: ['*.example.com'],
        rate_limit_rpm: 5,
        instructions: 'Be brief.',
        last_used_at: null,
        revoked_at: null,
      })
      await store.revokeKey('key_1')
      expect(await store.findKeyByHash(input.hash)).toMatchObject({ id: 'key_1', revoked_at: expect.any(String) })
      expect(await store.findKeyByHash(hashKey(generateKey()))).toBeUndefined()
    })

    it('sees, on the very next lookup, a key or an account budget changed through another connection to the same database', async () => {
      const [one, other] = [await open(), await open()]
      await one.createAccount('acct_1', 'A')
      const input = newKey('acct_1', { allowedDomains: ['example.com'] })
      await one.createKey('key_1', input, 10)
      // Read twice first, so whatever the store keeps in memory holds them.
      for (let i = 0; i < 2; i++) {
        expect(await one.findKeyByHash(input.hash)).toMatchObject({ revoked_at: null, allowed_domains: ['example.com'] })
        expect(await one.accountTokenLimit('acct_1')).toBeNull()
      }
      // Another process (the CLI, another worker): PostgreSQL's store hears of it within a second, SQLite's at once.
      await other.updateKey('key_1', { allowedDomains: ['example.org'] })
      await other.updateAccount('acct_1', { dailyTokenLimit: 500 })
      const seen = async () => [(await one.findKeyByHash(input.hash))?.allowed_domains, await one.accountTokenLimit('acct_1')]
      if (name === 'SQLite') expect(await seen()).toEqual([['example.org'], 500])
      await expect.poll(seen, { timeout: 2_000, interval: 50 }).toEqual([['example.org'], 500])
      await other.revokeKey('key_1')
      const revoked = async () => (await one.findKeyByHash(input.hash))?.revoked_at
      if (name === 'SQLite') expect(await revoked()).toEqual(expect.any(String))
      await expect.poll(revoked, { timeout: 2_000, interval: 50 }).toEqual(expect.any(String))
    })

    it('sees its own changes, and a row written behind its back, on the very next lookup', async () => {
      const store = await open()
      await store.createAccount('acct_1', 'A')
      const input = newKey('acct_1')
      await store.createKey('key_1', input, 10)
      expect(await store.findKeyByHash(input.hash)).toMatchObject({ name: input.name })
      await store.updateKey('key_1', { name: 'renamed' })
      expect(await store.findKeyByHash(input.hash)).toMatchObject({ name: 'renamed' })
      await query('UPDATE keys SET name = ? WHERE id = ?', ['by hand', 'key_1'])
      await expect.poll(async () => (await store.findKeyByHash(input.hash))?.name, { timeout: 2_000, interval: 50 }).toBe('by hand')
      // An unknown key, once looked up, is found as soon as it exists.
      const later = newKey('acct_1')
      expect(await store.findKeyByHash(later.hash)).toBeUndefined()
      await store.createKey('key_2', later, 10)
      expect(await store.findKeyByHash(later.hash)).toMatchObject({ id: 'key_2' })
    })

    it('refuses two keys with the same hash', async () => {
      const store = await open()
      await store.createAccount('acct_1', 'A')
      const input = newKey('acct_1')
      await store.createKey('key_1', input, 10)
      await expect(store.createKey('key_2', { ...input, name: 'again' }, 10)).rejects.toThrow(/unique/i)
    })

    it('lists keys in creation order', async () => {
      const store = await open()
      const keys = await accountWithKeys(store, 4)
      expect((await store.listKeys('acct_1')).map((key) => key.id)).toEqual(keys.map((key) => key.id))
      expect(await store.listKeys('acct_missing')).toEqual([])
    })
  })

  describe('usage', () => {
    const row = (key_id: string, day: string, requests: number, prompt_tokens = 0, completion_tokens = 0): UsageRow => ({
      key_id,
      day,
      requests,
      prompt_tokens,
      completion_tokens,
    })

    it('adds usage up across calls, per key per day', async () => {
      const store = await open()
      const [a, b] = await accountWithKeys(store, 2)
      await store.addUsage([row(a!.id, '2026-01-01', 2, 10, 20), row(b!.id, '2026-01-01', 1, 1, 1)], new Map())
      await store.addUsage([row(a!.id, '2026-01-01', 3, 5, 6), row(a!.id, '2026-01-02', 1, 0, 2)], new Map())
      expect(await store.usage('acct_1')).toEqual([
        row(a!.id, '2026-01-01', 5, 15, 26),
        row(b!.id, '2026-01-01', 1, 1, 1),
        row(a!.id, '2026-01-02', 1, 0, 2),
      ])
    })

    it('shows only the account’s own usage', async () => {
      const store = await open()
      const [mine] = await accountWithKeys(store, 1)
      const [theirs] = await accountWithKeys(store, 1, 'acct_2')
      await store.addUsage([row(mine!.id, '2026-01-01', 1), row(theirs!.id, '2026-01-01', 7)], new Map())
      expect(await store.usage('acct_2')).toEqual([row(theirs!.id, '2026-01-01', 7)])
    })

    it('only moves last_used_at forward', async () => {
      const store = await open()
      const [key] = await accountWithKeys(store, 1)
      const lastUsed = async (at: string) => {
        await store.addUsage([], new Map([[key!.id, at]]))
        return await lastUsedAt(store, key!.id)
      }
      expect(await lastUsed('2026-03-01T10:00:00.000Z')).toBe('2026-03-01T10:00:00.000Z')
      expect(await lastUsed('2026-03-01T09:59:59.999Z')).toBe('2026-03-01T10:00:00.000Z')
      expect(await lastUsed('2026-03-02T00:00:00.000Z')).toBe('2026-03-02T00:00:00.000Z')
    })

    it('writes nothing from a batch that fails part-way', async () => {
      const store = await open()
      const [key] = await accountWithKeys(store, 1)
      await expect(
        store.addUsage(
          [row(key!.id, '2026-01-01', 1), row('key_missing', '2026-01-01', 1)],
          new Map([[key!.id, '2026-01-01T00:00:00.000Z']]),
        ),
      ).rejects.toThrow(/foreign key/i)
      expect(await store.usage('acct_1')).toEqual([])
      expect(await lastUsedAt(store, key!.id)).toBeNull()
    })
  })

  describe('createUsageRecorder', () => {
    /** The real store, with each addUsage call recorded (and failing while `fail` is set). */
    async function setup(options: { flushMs?: number } = {}) {
      const store = await open()
      const writes: Array<{ rows: UsageRow[]; lastUsed: Map<string, string> }> = []
      const state: { fail: false | Error } = { fail: false }
      const watched: Store = {
        ...store,
        async addUsage(rows, lastUsed) {
          writes.push({ rows: structuredClone(rows), lastUsed: new Map(lastUsed) })
          if (state.fail) throw state.fail
          return store.addUsage(rows, lastUsed)
        },
      }
      const logs: string[] = []
      const recorder = createUsageRecorder(watched, createLogger({ write: (line) => logs.push(line) }), { flushMs: 60_000, ...options })
      recorders.push(recorder)
      return { store, recorder, writes, logs, state }
    }

    it('moves last_used_at at most once a minute per key, however busy the key is', async () => {
      const { store, recorder, writes } = await setup()
      const [key] = await accountWithKeys(store, 1)
      const start = Date.parse('2026-11-26T12:00:00Z')
      vi.useFakeTimers({ toFake: ['Date'], now: start })
      try {
        recorder.request(key!.id)
        await recorder.flush()
        vi.setSystemTime(start + 59_000)
        recorder.request(key!.id)
        await recorder.flush()
        vi.setSystemTime(start + 60_000)
        recorder.request(key!.id)
        await recorder.flush()
      } finally {
        vi.useRealTimers()
      }
      expect(writes.map((write) => [...write.lastUsed.values()])).toEqual([['2026-11-26T12:00:00.000Z'], [], ['2026-11-26T12:01:00.000Z']])
      expect(writes.map((write) => write.rows[0]!.requests)).toEqual([1, 1, 1])
    })

    it('writes nothing until flush, then everything in one write', async () => {
      const { store, recorder, writes } = await setup()
      const [a, b] = await accountWithKeys(store, 2)
      for (let i = 0; i < 100; i++) recorder.request(a!.id)
      for (let i = 0; i < 30; i++) recorder.tokens(a!.id, 2, 3)
      recorder.request(b!.id)
      recorder.tokens(b!.id, 7, 11)
      await sleep(10)
      expect(writes).toHaveLength(0)
      expect(await store.usage('acct_1')).toEqual([])

      await recorder.flush()
      expect(writes).toHaveLength(1)
      expect(writes[0]!.rows).toHaveLength(2)
      expect([...writes[0]!.lastUsed.keys()].sort()).toEqual([a!.id, b!.id].sort())
      expect(await store.usage('acct_1')).toEqual([
        { key_id: a!.id, day: today(), requests: 100, prompt_tokens: 60, completion_tokens: 90 },
        { key_id: b!.id, day: today(), requests: 1, prompt_tokens: 7, completion_tokens: 11 },
      ])
      expect(await lastUsedAt(store, a!.id)).toMatch(new RegExp(`^${today()}T`))
    })

    it('skips the write when nothing happened since the last flush', async () => {
      const { store, recorder, writes } = await setup()
      const [key] = await accountWithKeys(store, 1)
      await recorder.flush()
      recorder.request(key!.id)
      await recorder.flush()
      await recorder.flush()
      expect(writes).toHaveLength(1)
    })

    it('counts each request once when flushes overlap', async () => {
      const { store, recorder } = await setup()
      const [key] = await accountWithKeys(store, 1)
      recorder.request(key!.id)
      const first = recorder.flush()
      recorder.request(key!.id)
      await Promise.all([first, recorder.flush(), recorder.flush()])
      expect(await store.usage('acct_1')).toMatchObject([{ requests: 2 }])
    })

    it('writes the rest on close', async () => {
      const { store, recorder, writes } = await setup()
      const [key] = await accountWithKeys(store, 1)
      recorder.request(key!.id)
      await recorder.flush()
      recorder.request(key!.id)
      recorder.tokens(key!.id, 1, 2)
      await recorder.close()
      expect(writes).toHaveLength(2)
      expect(await store.usage('acct_1')).toMatchObject([{ requests: 2, prompt_tokens: 1, completion_tokens: 2 }])
    })

    it('flushes by itself on its timer', async () => {
      const { store, recorder } = await setup({ flushMs: 20 })
      const [key] = await accountWithKeys(store, 1)
      recorder.request(key!.id)
      await vi.waitFor(async () => expect(await store.usage('acct_1')).toMatchObject([{ requests: 1 }]), { timeout: 2000 })
    })

    it('logs a failed write instead of throwing, and writes the kept counts with the next flush', async () => {
      const { store, recorder, writes, logs, state } = await setup()
      const [key] = await accountWithKeys(store, 1)
      state.fail = new Error('disk full')
      recorder.request(key!.id)
      await expect(recorder.flush()).resolves.toBeUndefined()
      expect(logs).toHaveLength(1)
      expect(JSON.parse(logs[0]!)).toMatchObject({
        level: 'error',
        msg: 'usage write failed; kept for the next flush',
        err: { message: 'disk full' },
      })

      state.fail = false
      recorder.request(key!.id)
      recorder.request(key!.id)
      await recorder.close()
      expect(writes).toHaveLength(2)
      expect(writes[1]!.rows).toMatchObject([{ key_id: key!.id, requests: 3 }])
      expect(logs).toHaveLength(1)
    })

    it('keeps the counts through a database outage without a line per flush (the store says it once)', async () => {
      const { store, recorder, writes, logs, state } = await setup()
      const [key] = await accountWithKeys(store, 1)
      state.fail = new StoreUnavailable('The database is unavailable: connect ECONNREFUSED')
      recorder.request(key!.id)
      await recorder.flush()
      recorder.request(key!.id)
      await recorder.flush()
      expect(logs).toEqual([])
      state.fail = false
      await recorder.close()
      expect(writes).toHaveLength(3)
      expect(await store.usage('acct_1')).toMatchObject([{ requests: 2 }])
    })

    it('says, once, what is lost when the database is still out of reach at shutdown', async () => {
      const { store, recorder, logs, state } = await setup()
      const [key] = await accountWithKeys(store, 1)
      state.fail = new StoreUnavailable('The database is unavailable: connect ECONNREFUSED')
      recorder.request(key!.id)
      await recorder.close()
      expect(logs.map((line) => JSON.parse(line))).toEqual([
        expect.objectContaining({ level: 'error', msg: 'usage lost at shutdown: the database could not take it', rows: 1 }),
      ])
    })
  })
})
