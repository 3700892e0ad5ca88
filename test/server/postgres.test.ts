/**
 * What only the PostgreSQL store must show (its contract suite is store.test.ts): several stores,
 * as several processes would hold, on one database; a database out of reach (a closed port, a TCP
 * proxy cut or frozen in front of the real one, a lock held past the statement timeout) answered
 * with 503 store_unavailable within seconds and recovered from by itself; and no password in any
 * error or log line.
 */
import { createServer } from 'node:net'
import { spawn } from 'node:child_process'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runCli } from '../../server/cli.ts'
import { openStore } from '../../server/store/open.ts'
import { POSTGRES_SCHEMA_VERSION } from '../../server/store/postgres-migrations.ts'
import { describePostgresUrl, storeErrorMapper } from '../../server/store/postgres.ts'
import { StoreUnavailable, type Store, type UsageRow } from '../../server/store/store.ts'
import type { Upstream } from '../../server/upstream.ts'
import { ADMIN_URL, createTestDatabase, describePostgres, type TestDatabase } from '../support/postgres.ts'
import { newKey } from '../support/new-key.ts'
import { startTcpProxy } from '../support/tcp-proxy.ts'
import { completion, MODEL, ROOT, startServer, within, type TestServer } from './harness.ts'

const PASSWORD = 'pg-secret-pw-123'
const postgres = new URL(ADMIN_URL)

let database: TestDatabase
const opened: Array<{ close(): Promise<void> }> = []

/** This test's database at `port` (the real server's by default), with a password in the URL that trust auth ignores. */
function urlFor(port = Number(postgres.port || 5432), name = database.name) {
  return `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${name}`
}

async function open(url = urlFor(), settings: { poolSize?: number; statementTimeoutMs?: number } = {}): Promise<Store> {
  const store = await openStore({
    kind: 'postgres',
    url,
    poolSize: settings.poolSize ?? 10,
    statementTimeoutMs: settings.statementTimeoutMs ?? 5000,
  })
  opened.push(store)
  return store
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** A TCP proxy in front of this machine's PostgreSQL. */
const startProxy = () => startTcpProxy({ host: postgres.hostname, port: Number(postgres.port || 5432) })

/** An upstream answering every chat at once, with usage. */
const upstream: Upstream = {
  send: async () => ({ status: 200, body: [Buffer.from(JSON.stringify(completion('Hi', { prompt_tokens: 2, completion_tokens: 3 })))] }),
  close() {},
}

async function startOn(url: string, env: Record<string, string> = {}): Promise<TestServer> {
  const server = await startServer({ DATABASE_URL: url, UPSTREAM_BASE_URL: '', ...env }, { upstream, usageFlushMs: 60_000 })
  opened.push(server)
  return server
}

const HELLO = { model: MODEL, messages: [{ role: 'user', content: 'Hello' }] }

describe('the password in a PostgreSQL URL', () => {
  it.each([
    ['in the URL', 'postgres://app:s3cr%40t%23pw@db.internal:5432/assisters', ['s3cr%40t%23pw', 's3cr@t#pw']],
    ['as a password= parameter', 'postgres://app@db.internal/assisters?password=param-secret-9&sslmode=require', ['param-secret-9']],
  ])('is scrubbed from any error message the store passes on, written %s', (_case, url, spellings) => {
    const map = storeErrorMapper(url)
    for (const secret of spellings) {
      const unavailable = map(Object.assign(new Error(`connect ECONNREFUSED (${url}, ${secret})`), { code: 'ECONNREFUSED' })) as Error
      expect(unavailable).toBeInstanceOf(StoreUnavailable)
      const failed = map(new Error(`something else went wrong near ${secret}`)) as Error
      for (const err of [unavailable, failed]) for (const spelling of spellings) expect(err.message).not.toContain(spelling)
    }
  })

  it.each([
    ['postgres://app:s3cr%40t@db.internal:5432/assisters', 'postgres://app@db.internal:5432/assisters'],
    ['postgres://app@db.internal/assisters?password=p&sslmode=require', 'postgres://app@db.internal/assisters?sslmode=require'],
  ])('is left out when the URL is named in a log line: %s', (url, shown) => {
    expect(describePostgresUrl(url)).toBe(shown)
  })
})

describePostgres('the PostgreSQL store', () => {
  beforeEach(async () => {
    database = await createTestDatabase()
  })
  afterEach(async () => {
    for (const thing of opened.splice(0).reverse()) await thing.close()
    await database.drop()
  })

  describe('several stores on one PostgreSQL database, as several processes hold them', () => {
    it('migrates once when four start together, and each then works', async () => {
      const stores = await Promise.all(Array.from({ length: 4 }, () => open()))
      await stores[0]!.createAccount('acct_1', 'Shared')
      for (const store of stores) expect(await store.getAccount('acct_1')).toMatchObject({ name: 'Shared' })
      const client = new pg.Client({ connectionString: urlFor() })
      await client.connect()
      try {
        expect((await client.query('SELECT version FROM schema_migrations ORDER BY version')).rows).toEqual(
          Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })),
        )
      } finally {
        await client.end()
      }
    })

    it('never passes 10 active keys per account while three pools create keys for three accounts at once', async () => {
      const stores = await Promise.all(Array.from({ length: 3 }, () => open()))
      const accounts = ['acct_a', 'acct_b', 'acct_c']
      for (const account of accounts) await stores[0]!.createAccount(account, account)
      const attempts = accounts.flatMap((account) =>
        Array.from({ length: 15 }, (_, i) => stores[i % 3]!.createKey(`key_${account}_${i}`, newKey(account), 10)),
      )
      const results = await Promise.allSettled(attempts)
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(30)
      for (const result of results) if (result.status === 'rejected') expect(result.reason.reason).toBe('key_limit_reached')
      for (const account of accounts) {
        const keys = await stores[1]!.listKeys(account)
        expect(keys).toHaveLength(10)
        expect(keys.filter((key) => key.is_primary)).toHaveLength(1)
      }

      // Two slots freed: of six racing creators, exactly two get in.
      const keys = await stores[2]!.listKeys('acct_a')
      await stores[0]!.revokeKey(keys[3]!.id)
      await stores[1]!.revokeKey(keys[0]!.id)
      const again = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => stores[i % 3]!.createKey(`key_again_${i}`, newKey('acct_a'), 10)),
      )
      expect(again.filter((result) => result.status === 'fulfilled')).toHaveLength(2)
      expect((await stores[0]!.listKeys('acct_a')).filter((key) => !key.revoked_at)).toHaveLength(10)
    })

    it('adds up usage that two stores flush into the same rows at once, and keeps the latest last_used_at', async () => {
      const [a, b] = await Promise.all([open(), open()])
      await a!.createAccount('acct_1', 'A')
      const [k1, k2] = [await a!.createKey('key_1', newKey('acct_1'), 10), await a!.createKey('key_2', newKey('acct_1'), 10)]
      const row = (key_id: string, requests: number): UsageRow => ({
        key_id,
        day: '2026-05-01',
        requests,
        prompt_tokens: requests * 10,
        completion_tokens: requests * 100,
      })
      const at = (minute: number) => new Date(Date.UTC(2026, 4, 1, 12, minute)).toISOString()
      // Opposite row orders on the two stores: written unsorted, these would deadlock.
      const flushes = Array.from({ length: 25 }, (_, i) => [
        a!.addUsage(
          [row(k1!.id, 1), row(k2!.id, 2)],
          new Map([
            [k1!.id, at(i)],
            [k2!.id, at(i)],
          ]),
        ),
        b!.addUsage(
          [row(k2!.id, 3), row(k1!.id, 4)],
          new Map([
            [k2!.id, at(50 - i)],
            [k1!.id, at(i)],
          ]),
        ),
      ]).flat()
      await Promise.all(flushes)
      expect(await b!.usage('acct_1')).toEqual([
        { key_id: k1!.id, day: '2026-05-01', requests: 125, prompt_tokens: 1250, completion_tokens: 12500 },
        { key_id: k2!.id, day: '2026-05-01', requests: 125, prompt_tokens: 1250, completion_tokens: 12500 },
      ])
      const used = Object.fromEntries((await a!.listKeys('acct_1')).map((key) => [key.id, key.last_used_at]))
      expect(used).toEqual({ [k1!.id]: at(24), [k2!.id]: at(50) })
    })

    it("sees a change to an account's daily token budget made through itself at once, and one made through another store within a second", async () => {
      const [here, elsewhere] = await Promise.all([open(), open()])
      await here.createAccount('acct_1', 'A')
      expect(await here.accountTokenLimit('acct_1')).toBeNull()
      await here.updateAccount('acct_1', { dailyTokenLimit: 100 })
      expect(await here.accountTokenLimit('acct_1')).toBe(100)
      await elsewhere.updateAccount('acct_1', { dailyTokenLimit: 200 })
      await expect.poll(() => here.accountTokenLimit('acct_1'), { timeout: 1_500, interval: 20 }).toBe(200)
      // Everything else reads the database.
      expect(await here.getAccount('acct_1')).toMatchObject({ daily_token_limit: 200 })
    })

    it('returns the same ISO-8601 text for every date as the SQLite store', async () => {
      const store = await open()
      const account = await store.createAccount('acct_1', 'A')
      const key = await store.createKey('key_1', newKey('acct_1'), 10)
      await store.addUsage([], new Map([['key_1', '2026-03-01T10:00:00.123Z']]))
      const revoked = await store.revokeKey('key_1')
      const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
      expect(account.created_at).toMatch(iso)
      expect((await store.getAccount('acct_1'))!.created_at).toBe(account.created_at)
      expect(key.created_at).toMatch(iso)
      expect(revoked).toMatchObject({
        created_at: key.created_at,
        last_used_at: '2026-03-01T10:00:00.123Z',
        revoked_at: expect.stringMatching(iso),
      })
    })
  })

  describe('PostgreSQL out of reach', () => {
    it('survives the connection dropping in the middle of a transaction (a restart, a failover): the write fails, the process lives', async () => {
      const proxy = await startProxy()
      opened.push(proxy)
      const store = await open(urlFor(proxy.port))
      await store.createAccount('acct_1', 'A')
      const key = await store.createKey('key_1', newKey('acct_1'), 10)
      // Thousands of rows: one statement each, so the cut lands inside the transaction.
      const rows: UsageRow[] = Array.from({ length: 3000 }, (_, i) => ({
        key_id: key.id,
        day: new Date(Date.UTC(2020, 0, 1) + i * 86_400_000).toISOString().slice(0, 10),
        requests: 1,
        prompt_tokens: 1,
        completion_tokens: 1,
      }))
      const writing = store.addUsage(rows, new Map())
      await new Promise((resolve) => setTimeout(resolve, 100))
      proxy.cut()
      await expect(writing).rejects.toBeInstanceOf(StoreUnavailable)
      proxy.restore()
      await expect
        .poll(
          () =>
            store.ping().then(
              () => true,
              () => false,
            ),
          { timeout: 10_000 },
        )
        .toBe(true)
      // All or nothing: the cut transaction left no rows.
      expect(await store.usage('acct_1')).toEqual([])
    })

    it('fails to open within seconds on a closed port, with StoreUnavailable and no password', async () => {
      const started = Date.now()
      const err = await open(urlFor(await closedPort())).catch((error: unknown) => error)
      expect(err).toBeInstanceOf(StoreUnavailable)
      expect((err as Error).message).toMatch(/^The database is unavailable: .*ECONNREFUSED/)
      expect((err as Error).message).not.toContain(PASSWORD)
      expect(Date.now() - started).toBeLessThan(5000)
    })

    it('gives up on a database that accepts connections but never answers, within the connection timeout', async () => {
      const proxy = await startProxy()
      opened.push(proxy)
      proxy.freeze()
      const err = await within(
        open(urlFor(proxy.port)).catch((error: unknown) => error),
        10_000,
        'opening a frozen database',
      )
      expect(err).toBeInstanceOf(StoreUnavailable)
      expect((err as Error).message).toMatch(/timeout/i)
      expect((err as Error).message).not.toContain(PASSWORD)
    })

    it('answers 503 store_unavailable with Retry-After while the database is gone or hangs, logs the outage once, and recovers', async () => {
      const proxy = await startProxy()
      opened.push(proxy)
      const server = await startOn(urlFor(proxy.port), { DATABASE_STATEMENT_TIMEOUT_MS: '1000' })
      const { key, accountId } = await server.createKey()
      expect((await server.chat(key, HELLO)).status).toBe(200)

      proxy.cut()
      for (let i = 0; i < 3; i++) {
        const response = await within(server.chat(key, HELLO), 8000, 'a chat with the database gone')
        expect(response.status).toBe(503)
        expect(response.headers.get('retry-after')).toBe('5')
        expect(await response.json()).toEqual({
          error: { type: 'api_error', code: 'store_unavailable', message: "The service's database is unavailable; please try again" },
        })
      }
      expect((await within(server.admin('GET', `/admin/accounts/${accountId}/keys`), 8000, 'the admin API')).body.error.code).toBe(
        'store_unavailable',
      )

      // A network that swallows everything: the read and connection timeouts answer, not a hang.
      proxy.restore()
      expect((await server.chat(key, HELLO)).status).toBe(200)
      proxy.freeze()
      const frozen = await within(server.chat(key, HELLO), 15_000, 'a chat with the database frozen')
      expect(frozen.status).toBe(503)

      proxy.restore()
      await expect.poll(async () => (await server.chat(key, HELLO)).status, { timeout: 10_000 }).toBe(200)

      const lines = server.logs.map((line) => JSON.parse(line))
      const outages = lines.filter((line) => line.msg === 'database unavailable')
      expect(outages).toHaveLength(2) // one per outage, not one per request
      expect(outages[0]).toMatchObject({ level: 'warn', reason: expect.stringMatching(/^The database is unavailable: /) })
      expect(lines.filter((line) => line.msg === 'database answers again')).toHaveLength(2)
      expect(lines.filter((line) => line.level === 'error')).toEqual([])
      expect(server.logs.join('\n')).not.toContain(PASSWORD)
    })

    it('answers 503 when a statement waits past DATABASE_STATEMENT_TIMEOUT_MS, then works once the lock is gone', async () => {
      const server = await startOn(urlFor(), { DATABASE_STATEMENT_TIMEOUT_MS: '500' })
      const accountId = (await server.admin('POST', '/admin/accounts', { name: 'Locked' })).body.id
      const holder = new pg.Client({ connectionString: urlFor() })
      await holder.connect()
      try {
        await holder.query('BEGIN')
        await holder.query('SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [accountId])
        const started = Date.now()
        const refused = await server.admin('POST', `/admin/accounts/${accountId}/keys`, { name: 'waits' })
        expect(refused.status).toBe(503)
        expect(refused.body.error.code).toBe('store_unavailable')
        expect(Date.now() - started).toBeLessThan(5000)
      } finally {
        await holder.query('ROLLBACK')
        await holder.end()
      }
      expect((await server.admin('POST', `/admin/accounts/${accountId}/keys`, { name: 'works' })).status).toBe(201)
    })

    it('stops the CLI with exit 1 and a clear line, without the password', async () => {
      const env = { DATABASE_URL: urlFor(await closedPort()) }
      let err = ''
      const status = await runCli(['keys', 'list', '--account', 'acct_x'], env, { out: () => {}, err: (text) => (err += text) })
      expect(status).toBe(1)
      expect(err).toMatch(/^assisters: The database is unavailable: connect ECONNREFUSED 127\.0\.0\.1:\d+\n$/)
      err = ''
      await runCli(['keys', 'list', '--account', 'acct_x', '--json'], env, { out: () => {}, err: (text) => (err += text) })
      expect(JSON.parse(err).error).toMatchObject({ type: 'api_error', code: 'store_unavailable' })
      expect(err).not.toContain(PASSWORD)
    })
  })

  describe('npm run serve on PostgreSQL', () => {
    it('serves, naming the database without its password, and stops on SIGTERM', async () => {
      // What `npm run serve` runs, without npm in between (npm would report the signal, not the exit status).
      const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
        cwd: ROOT,
        env: { ...process.env, PORT: '0', DATABASE_URL: urlFor(), ADMIN_TOKEN: '', UPSTREAM_BASE_URL: '' },
      })
      let stdout = ''
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
      try {
        await expect.poll(() => stdout, { timeout: 15_000 }).toContain('"msg":"listening"')
        const listening = JSON.parse(stdout.split('\n').find((line) => line.includes('"listening"'))!)
        expect(listening.database).toBe(`postgres://postgres@127.0.0.1:${postgres.port || 5432}/${database.name}`)
        expect(stdout).not.toContain(PASSWORD)
        const health = await fetch(`${listening.url}/healthz`)
        expect(health.status).toBe(200)
      } finally {
        child.kill('SIGTERM')
      }
      expect(await within(exited, 10_000, 'npm run serve stopping')).toBe(0)
    })

    it('refuses to start when the database is out of reach: one line, no password, exit 1', async () => {
      const child = spawn('npm', ['run', '--silent', 'serve'], {
        cwd: ROOT,
        env: { ...process.env, PORT: '0', DATABASE_URL: urlFor(await closedPort()) },
      })
      let stderr = ''
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
      const code = await within(new Promise<number | null>((resolve) => child.once('exit', resolve)), 15_000, 'npm run serve giving up')
      expect(code).toBe(1)
      expect(stderr).toMatch(/^assisters: could not start: The database is unavailable: connect ECONNREFUSED [\d.:]+\n$/)
      expect(stderr).not.toContain(PASSWORD)
    })
  })
})
