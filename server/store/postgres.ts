/**
 * The PostgreSQL store, for several processes sharing one database. What SQLite gets from its single
 * writer comes from row locks here: creating a key or moving the primary first locks the account's
 * row, so writers queue per account; rows are always locked in id order, so two processes never
 * deadlock. Usage upserts add to what is there. An unreachable or too slow database throws
 * StoreUnavailable within seconds (a connection timeout, statement_timeout, a read timeout), never
 * hangs; the password in the URL never reaches a message.
 */
import pg from 'pg'
import type { Logger } from '../log.ts'
import { createKeyCache } from './key-cache.ts'
import { migratePostgres } from './postgres-migrations.ts'
import {
  StoreConflict,
  StoreUnavailable,
  type AccountRecord,
  type KeyRecord,
  type NewKey,
  type OwnerRecord,
  type RefusalRow,
  type SessionRecord,
  type Store,
  type UsageRow,
} from './store.ts'

export interface PostgresOptions {
  url: string
  /** Connections this process may hold at most. */
  poolSize: number
  /** The longest any one statement may run (PostgreSQL's statement_timeout). */
  statementTimeoutMs: number
  /** Told once when the database becomes unreachable and once when it answers again. */
  log?: Logger
}

/** How long to wait for a connection (a new one, or a free one from the pool) before giving up. */
const CONNECT_TIMEOUT_MS = 3000

/** A timestamptz as the text the SQLite store keeps: ISO-8601 in UTC with milliseconds. */
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

const KEY_COLUMNS = `id, account_id, name, prefix, is_primary, allowed_domains, rate_limit_rpm, visitor_rpm, daily_token_limit,
  allow_system_messages, instructions, ${iso('created_at')} AS created_at, ${iso('last_used_at')} AS last_used_at, ${iso('revoked_at')} AS revoked_at`

/** How long an account's budget read here is trusted (see `accounts` below), and how many are kept. */
const ACCOUNT_MAX_AGE_MS = 1_000
const ACCOUNT_MAX_ENTRIES = 10_000
const ACCOUNT_COLUMNS = `id, name, daily_token_limit, ${iso('created_at')} AS created_at`

const OWNER_COLUMNS = `id, account_id, email, password_hash, ${iso('created_at')} AS created_at`

const now = () => new Date().toISOString()

/** PostgreSQL's unique_violation. */
const isUniqueViolation = (err: unknown) => err instanceof pg.DatabaseError && err.code === '23505'

/** A pool with every deadline set; shared by the store and the copy command. */
export function createPostgresPool(options: Omit<PostgresOptions, 'log'>): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: options.statementTimeoutMs,
    // statement_timeout is the server's; when the network goes silent only the client can give up.
    query_timeout: options.statementTimeoutMs + 2000,
    keepAlive: true,
    application_name: 'assisters',
  })
  // An idle connection the server drops (a restart, a failover) is discarded by the pool; the next
  // query connects afresh. Without a listener the 'error' event would end the process.
  pool.on('error', () => {})
  // The same for a connection checked out for a transaction, which the pool leaves without a listener:
  // its running query rejects by itself (and the transaction is dropped); the event must not also throw.
  pool.on('connect', (client) => client.on('error', () => {}))
  return pool
}

/** Opens a pool on the database at `options.url` and migrates it; rejects with StoreUnavailable when it cannot. */
export async function openPostgresStore(options: PostgresOptions): Promise<Store> {
  const pool = createPostgresPool(options)
  const toStoreError = storeErrorMapper(options.url)
  try {
    await migratePostgres(pool)
  } catch (err) {
    await pool.end()
    throw toStoreError(err)
  }

  // Each request's key lookup, answered in this process when that is safe (key-cache.ts).
  const keys = createKeyCache<KeyRecord>({ url: options.url })
  // Each chat request also reads its key's account's daily token budget (app.ts): kept here at most
  // ACCOUNT_MAX_AGE_MS and forgotten at once when this process changes the account, so a change made
  // here applies on the next request and one made elsewhere (another server, the CLI) within a
  // second, the bound key changes have, without a round trip per request.
  const accounts = new Map<string, { limit: number | null; at: number }>()
  // Bumped by every account change here: a read that started before one must not keep what it read.
  let accountChanges = 0

  // Whether the last query failed for want of a database: the outage is logged once, not per request.
  let down = false
  const run = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      const result = await work()
      if (down) options.log?.info('database answers again')
      down = false
      return result
    } catch (err) {
      const mapped = toStoreError(err)
      if (mapped instanceof StoreUnavailable && !down) options.log?.warn('database unavailable', { reason: mapped.message })
      if (mapped instanceof StoreUnavailable) down = true
      throw mapped
    }
  }

  const query = async <Row extends pg.QueryResultRow>(sql: string, values: unknown[] = []) => (await pool.query<Row>(sql, values)).rows

  /** Runs `work` in a transaction on one connection. */
  const transaction = async <T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      const result = await work(client)
      await client.query('COMMIT')
      client.release()
      return result
    } catch (err) {
      if (isUnavailable(err)) {
        // The connection may be mid-query or gone: drop it (the server rolls back) rather than wait on it.
        client.release(true)
      } else {
        await client.query('ROLLBACK').then(
          () => client.release(),
          () => client.release(true),
        )
      }
      throw err
    }
  }

  /** Locks the account's row: writers that count or move keys queue here, one account at a time. */
  const lockAccount = (client: pg.PoolClient, accountId: string) =>
    client.query('SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [accountId])

  return {
    createAccount: (id, name) =>
      run(async () => {
        const record = { id, name, daily_token_limit: null, created_at: now() }
        await query('INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)', [id, name, record.created_at])
        return record
      }),

    getAccount: (id) =>
      run(async () => {
        const [row] = await query<AccountRecord>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`, [id])
        return row
      }),

    accountTokenLimit: (id) => {
      // Outside `run`: an answer from memory says nothing about whether the database answers.
      const cached = accounts.get(id)
      if (cached && performance.now() - cached.at < ACCOUNT_MAX_AGE_MS) return Promise.resolve(cached.limit)
      return run(async () => {
        const at = performance.now()
        const before = accountChanges
        const [row] = await query<{ daily_token_limit: number | null }>('SELECT daily_token_limit FROM accounts WHERE id = $1', [id])
        // Unknown ids are not kept: an account created elsewhere must be found at once.
        if (row && accountChanges === before) {
          if (accounts.size >= ACCOUNT_MAX_ENTRIES) accounts.delete(accounts.keys().next().value!)
          accounts.set(id, { limit: row.daily_token_limit, at })
        }
        return row?.daily_token_limit ?? null
      })
    },

    updateAccount: (id, changes) =>
      run(async () => {
        // Forgotten once the change is made: reads that overlap it keep nothing (see `accountChanges`).
        const forget = () => {
          accountChanges++
          accounts.delete(id)
        }
        forget()
        const [row] = await query<AccountRecord>(
          `UPDATE accounts SET name = coalesce($2, name),
             daily_token_limit = CASE WHEN $3 THEN $4::integer ELSE daily_token_limit END
           WHERE id = $1 RETURNING ${ACCOUNT_COLUMNS}`,
          [id, changes.name ?? null, changes.dailyTokenLimit !== undefined, changes.dailyTokenLimit ?? null],
        ).finally(forget)
        return row
      }),

    listAccounts: () => run(() => query<AccountRecord>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY created_at, id`)),

    createKey: (id, key: NewKey, maxActive) =>
      run(() =>
        transaction(async (client) => {
          await lockAccount(client, key.accountId)
          const {
            rows: [counts],
          } = await client.query<{ active: number; primaries: number }>(
            `SELECT count(*) FILTER (WHERE revoked_at IS NULL)::int AS active, count(*) FILTER (WHERE is_primary)::int AS primaries
             FROM keys WHERE account_id = $1`,
            [key.accountId],
          )
          if (counts!.active >= maxActive) throw new StoreConflict('key_limit_reached')
          const {
            rows: [row],
          } = await client.query<KeyRecord>(
            `INSERT INTO keys (id, account_id, name, prefix, hash, is_primary, allowed_domains, rate_limit_rpm, visitor_rpm,
               daily_token_limit, allow_system_messages, instructions, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ${KEY_COLUMNS}`,
            [
              id,
              key.accountId,
              key.name,
              key.prefix,
              key.hash,
              counts!.primaries === 0,
              key.allowedDomains,
              key.rateLimitRpm,
              key.visitorRpm,
              key.dailyTokenLimit,
              key.allowSystemMessages,
              key.instructions,
              now(),
            ],
          )
          return row!
        }),
      ),

    listKeys: (accountId) =>
      run(() => query<KeyRecord>(`SELECT ${KEY_COLUMNS} FROM keys WHERE account_id = $1 ORDER BY created_at, seq`, [accountId])),

    getKey: (id) => run(async () => (await query<KeyRecord>(`SELECT ${KEY_COLUMNS} FROM keys WHERE id = $1`, [id]))[0]),

    updateKey: (id, changes) =>
      run(() =>
        transaction(async (client) => {
          const {
            rows: [found],
          } = await client.query<{ revoked: boolean }>(
            'SELECT revoked_at IS NOT NULL AS revoked FROM keys WHERE id = $1 FOR NO KEY UPDATE',
            [id],
          )
          if (!found) return undefined
          if (found.revoked) throw new StoreConflict('key_revoked')
          const {
            rows: [row],
          } = await client.query<KeyRecord>(
            `UPDATE keys SET name = coalesce($2, name), allowed_domains = coalesce($3, allowed_domains),
               rate_limit_rpm = CASE WHEN $4 THEN $5::integer ELSE rate_limit_rpm END,
               instructions = CASE WHEN $6 THEN $7::text ELSE instructions END,
               visitor_rpm = CASE WHEN $8 THEN $9::integer ELSE visitor_rpm END,
               daily_token_limit = CASE WHEN $10 THEN $11::integer ELSE daily_token_limit END,
               allow_system_messages = coalesce($12, allow_system_messages)
             WHERE id = $1 RETURNING ${KEY_COLUMNS}`,
            [
              id,
              changes.name ?? null,
              changes.allowedDomains ?? null,
              changes.rateLimitRpm !== undefined,
              changes.rateLimitRpm ?? null,
              changes.instructions !== undefined,
              changes.instructions ?? null,
              changes.visitorRpm !== undefined,
              changes.visitorRpm ?? null,
              changes.dailyTokenLimit !== undefined,
              changes.dailyTokenLimit ?? null,
              changes.allowSystemMessages ?? null,
            ],
          )
          return row
        }).finally(keys.clear),
      ),

    // The hot path, once per request: mostly from the cache; else a named statement, parsed and
    // planned once per connection. A cached record's last_used_at may be behind; nothing on this path reads it.
    findKeyByHash: (hash) =>
      keys.get(hash, () =>
        run(async () => {
          const found = await pool.query<KeyRecord>({
            name: 'find-key-by-hash',
            text: `SELECT ${KEY_COLUMNS} FROM keys WHERE hash = $1`,
            values: [hash],
          })
          return found.rows[0]
        }),
      ),

    revokeKey: (id) =>
      run(async () => {
        const [row] = await query<KeyRecord>(
          `UPDATE keys SET revoked_at = coalesce(revoked_at, $2), is_primary = false WHERE id = $1 RETURNING ${KEY_COLUMNS}`,
          [id, now()],
        )
        keys.clear()
        return row
      }),

    setPrimaryKey: (id) =>
      run(() =>
        transaction(async (client) => {
          const {
            rows: [found],
          } = await client.query<{ account_id: string }>('SELECT account_id FROM keys WHERE id = $1', [id])
          if (!found) return undefined
          await lockAccount(client, found.account_id)
          // Every key row this may change, locked in id order (the order usage writes lock them in).
          const { rows: keys } = await client.query<{ id: string; revoked: boolean }>(
            'SELECT id, revoked_at IS NOT NULL AS revoked FROM keys WHERE account_id = $1 ORDER BY id FOR NO KEY UPDATE',
            [found.account_id],
          )
          if (keys.find((key) => key.id === id)!.revoked) throw new StoreConflict('key_revoked')
          await client.query('UPDATE keys SET is_primary = false WHERE account_id = $1 AND is_primary AND id <> $2', [found.account_id, id])
          const {
            rows: [row],
          } = await client.query<KeyRecord>(`UPDATE keys SET is_primary = true WHERE id = $1 RETURNING ${KEY_COLUMNS}`, [id])
          return row
        }).finally(keys.clear),
      ),

    addUsage: (rows: UsageRow[], lastUsed) =>
      run(async () => {
        if (rows.length === 0 && lastUsed.size === 0) return
        // A fixed order: two processes flushing the same rows wait for each other instead of deadlocking.
        const sortedRows = [...rows].sort((a, b) => compare(a.key_id, b.key_id) || compare(a.day, b.day))
        const sortedUsed = [...lastUsed].sort(([a], [b]) => compare(a, b))
        await transaction(async (client) => {
          for (const row of sortedRows) {
            await client.query(
              `INSERT INTO usage (key_id, day, requests, prompt_tokens, completion_tokens) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (key_id, day) DO UPDATE SET requests = usage.requests + excluded.requests,
                 prompt_tokens = usage.prompt_tokens + excluded.prompt_tokens,
                 completion_tokens = usage.completion_tokens + excluded.completion_tokens`,
              [row.key_id, row.day, row.requests, row.prompt_tokens, row.completion_tokens],
            )
          }
          for (const [keyId, at] of sortedUsed) {
            await client.query('UPDATE keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)', [
              keyId,
              at,
            ])
          }
        })
      }),

    usage: (accountId) =>
      run(async () => {
        const rows = await query<Record<keyof UsageRow, string>>(
          `SELECT u.key_id, to_char(u.day, 'YYYY-MM-DD') AS day, u.requests, u.prompt_tokens, u.completion_tokens
           FROM usage u JOIN keys k ON k.id = u.key_id WHERE k.account_id = $1 ORDER BY u.day, k.created_at, k.seq`,
          [accountId],
        )
        // bigint arrives as text (it may exceed 2^53); usage counts never will.
        return rows.map((row) => ({
          key_id: row.key_id,
          day: row.day,
          requests: Number(row.requests),
          prompt_tokens: Number(row.prompt_tokens),
          completion_tokens: Number(row.completion_tokens),
        }))
      }),

    createOwner: (id, accountId, email) =>
      run(async () => {
        const record: OwnerRecord = { id, account_id: accountId, email, password_hash: null, created_at: now() }
        try {
          await query('INSERT INTO owners (id, account_id, email, created_at) VALUES ($1, $2, $3, $4)', [
            id,
            accountId,
            email,
            record.created_at,
          ])
        } catch (err) {
          if (isUniqueViolation(err)) throw new StoreConflict('email_taken')
          throw err
        }
        return record
      }),

    getOwner: (id) => run(async () => (await query<OwnerRecord>(`SELECT ${OWNER_COLUMNS} FROM owners WHERE id = $1`, [id]))[0]),

    findOwnerByEmail: (email) =>
      run(async () => (await query<OwnerRecord>(`SELECT ${OWNER_COLUMNS} FROM owners WHERE email = $1`, [email]))[0]),

    listOwners: (accountId) =>
      run(() => query<OwnerRecord>(`SELECT ${OWNER_COLUMNS} FROM owners WHERE account_id = $1 ORDER BY created_at, seq`, [accountId])),

    setOwnerPassword: (ownerId, passwordHash) =>
      run(async () => void (await query('UPDATE owners SET password_hash = $2 WHERE id = $1', [ownerId, passwordHash]))),

    createPasswordLink: (tokenHash, ownerId, expiresAt) =>
      run(
        async () =>
          void (await query('INSERT INTO password_links (token_hash, owner_id, expires_at) VALUES ($1, $2, $3)', [
            tokenHash,
            ownerId,
            expiresAt,
          ])),
      ),

    usePasswordLink: (tokenHash, at) =>
      run(async () => {
        const [row] = await query<{ owner_id: string }>(
          'UPDATE password_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING owner_id',
          [tokenHash, at],
        )
        return row?.owner_id
      }),

    endPasswordLinks: (ownerId, at) =>
      run(async () => void (await query('UPDATE password_links SET used_at = $2 WHERE owner_id = $1 AND used_at IS NULL', [ownerId, at]))),

    createSession: (tokenHash, ownerId, at) =>
      run(
        async () =>
          void (await query('INSERT INTO sessions (token_hash, owner_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3)', [
            tokenHash,
            ownerId,
            at,
          ])),
      ),

    findSession: (tokenHash) =>
      run(
        async () =>
          (
            await query<SessionRecord>(
              `SELECT owner_id, ${iso('created_at')} AS created_at, ${iso('last_seen_at')} AS last_seen_at FROM sessions WHERE token_hash = $1`,
              [tokenHash],
            )
          )[0],
      ),

    touchSession: (tokenHash, at) =>
      run(
        async () =>
          void (await query('UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1 AND last_seen_at < $2', [tokenHash, at])),
      ),

    endSession: (tokenHash) => run(async () => void (await query('DELETE FROM sessions WHERE token_hash = $1', [tokenHash]))),

    endOwnerSessions: (ownerId, keep = '') =>
      run(async () => void (await query('DELETE FROM sessions WHERE owner_id = $1 AND token_hash <> $2', [ownerId, keep]))),

    listSessions: (ownerId) =>
      run(() =>
        query<SessionRecord & { token_hash: string }>(
          `SELECT token_hash, owner_id, ${iso('created_at')} AS created_at, ${iso('last_seen_at')} AS last_seen_at
           FROM sessions WHERE owner_id = $1 ORDER BY last_seen_at DESC, created_at DESC`,
          [ownerId],
        ),
      ),

    removeOwner: (ownerId) =>
      run(() =>
        transaction(async (client) => {
          await client.query('DELETE FROM sessions WHERE owner_id = $1', [ownerId])
          await client.query('DELETE FROM password_links WHERE owner_id = $1', [ownerId])
          const { rows } = await client.query<OwnerRecord>(`DELETE FROM owners WHERE id = $1 RETURNING ${OWNER_COLUMNS}`, [ownerId])
          return rows[0]
        }),
      ),

    purgeExpired: (at, idleBefore, signedInBefore) =>
      run(async () => {
        const sessions = await pool.query('DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2', [idleBefore, signedInBefore])
        const links = await pool.query('DELETE FROM password_links WHERE used_at IS NOT NULL OR expires_at <= $1', [at])
        return { sessions: sessions.rowCount ?? 0, links: links.rowCount ?? 0 }
      }),

    addActivity: (refusals, origins, maxOriginsPerKey) =>
      run(async () => {
        if (refusals.length === 0 && origins.length === 0) return
        // A fixed order, as addUsage keeps, so two processes flushing at once never deadlock.
        const sortedRefusals = [...refusals].sort(
          (a, b) => compare(a.key_id, b.key_id) || compare(a.day, b.day) || compare(a.reason, b.reason),
        )
        const sortedOrigins = [...origins].sort(
          (a, b) => compare(a.key_id, b.key_id) || compare(a.origin, b.origin) || Number(a.allowed) - Number(b.allowed),
        )
        await transaction(async (client) => {
          // One flush at a time per database: the trims below delete rows another flush may be updating.
          await client.query("SELECT pg_advisory_xact_lock(hashtext('assisters:key_origins'))")
          for (const row of sortedRefusals) {
            await client.query(
              `INSERT INTO refusals (key_id, day, reason, count) VALUES ($1, $2, $3, $4)
               ON CONFLICT (key_id, day, reason) DO UPDATE SET count = refusals.count + excluded.count`,
              [row.key_id, row.day, row.reason, row.count],
            )
          }
          for (const row of sortedOrigins) {
            await client.query(
              `INSERT INTO key_origins (key_id, origin, allowed, requests, last_seen_at) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (key_id, origin, allowed) DO UPDATE SET requests = key_origins.requests + excluded.requests,
                 last_seen_at = greatest(key_origins.last_seen_at, excluded.last_seen_at)`,
              [row.key_id, row.origin, row.allowed, row.requests, row.last_seen_at],
            )
          }
          // The key's most recently seen origins stay; the least recently seen go.
          for (const keyId of new Set(sortedOrigins.map((row) => row.key_id))) {
            await client.query(
              `DELETE FROM key_origins WHERE key_id = $1 AND (origin, allowed) NOT IN
                 (SELECT origin, allowed FROM key_origins WHERE key_id = $1 ORDER BY last_seen_at DESC, origin, allowed LIMIT $2)`,
              [keyId, maxOriginsPerKey],
            )
          }
        })
      }),

    activity: (accountId) =>
      run(async () => {
        const refusals = await query<Record<keyof RefusalRow, string>>(
          `SELECT r.key_id, to_char(r.day, 'YYYY-MM-DD') AS day, r.reason, r.count
           FROM refusals r JOIN keys k ON k.id = r.key_id WHERE k.account_id = $1 ORDER BY r.day, k.created_at, k.seq, r.reason`,
          [accountId],
        )
        const origins = await query<{ key_id: string; origin: string; allowed: boolean; requests: string; last_seen_at: string }>(
          `SELECT o.key_id, o.origin, o.allowed, o.requests, ${iso('o.last_seen_at')} AS last_seen_at
           FROM key_origins o JOIN keys k ON k.id = o.key_id WHERE k.account_id = $1 ORDER BY o.last_seen_at DESC, o.origin`,
          [accountId],
        )
        return {
          refusals: refusals.map((row) => ({ ...row, reason: row.reason as RefusalRow['reason'], count: Number(row.count) })),
          origins: origins.map((row) => ({ ...row, requests: Number(row.requests) })),
        }
      }),

    serverSecret: (name, candidate) =>
      run(async () => {
        // Insert-if-absent then read, in separate statements: the read sees a row another process
        // committed after this one's insert found the name taken.
        await query('INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, candidate])
        return (await query<{ value: string }>('SELECT value FROM server_secrets WHERE name = $1', [name]))[0]!.value
      }),

    ping: () => run(async () => void (await query('SELECT 1'))),

    async close() {
      await keys.close()
      if (!pool.ended) await pool.end()
    },
  }
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

// SQLSTATE classes that mean "no usable database" rather than "this statement is wrong":
// connection exception, invalid authorization, invalid catalog name (no such database),
// insufficient resources, operator intervention (statement timeout, shutdown), system error.
const UNAVAILABLE_CLASSES = new Set(['08', '28', '3D', '53', '57', '58'])

/** Whether an error from pg means the database is out of reach (or too slow), not that a statement failed. */
function isUnavailable(err: unknown): boolean {
  if (err instanceof pg.DatabaseError) return UNAVAILABLE_CLASSES.has(err.code?.slice(0, 2) ?? '')
  if (!(err instanceof Error)) return false
  // Socket errors (ECONNREFUSED, ETIMEDOUT, ENOTFOUND…) and the driver's own timeouts and hang-ups.
  const { code } = err as NodeJS.ErrnoException
  return (typeof code === 'string' && /^E[A-Z]+$/.test(code)) || /timeout|terminated|connect/i.test(err.message)
}

/**
 * Turns what pg threw into what the store throws: StoreUnavailable for an unusable database, the
 * error itself otherwise (a StoreConflict, a constraint violation). Either way, without the password.
 */
export function storeErrorMapper(url: string) {
  const secrets = postgresSecrets(url)
  const scrub = (text: string) => secrets.reduce((out, secret) => out.split(secret).join('[redacted]'), text)
  return (err: unknown): unknown => {
    if (isUnavailable(err)) return new StoreUnavailable(`The database is unavailable: ${scrub((err as Error).message)}`)
    if (err instanceof Error && secrets.some((secret) => err.message.includes(secret))) err.message = scrub(err.message)
    return err
  }
}

/** Every spelling of the URL's password that could reach a message: as written, decoded, or as a `password=` parameter. */
export function postgresSecrets(url: string): string[] {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return [url]
  }
  const password = parsed.password
  const candidates = [password, decode(password), parsed.searchParams.get('password') ?? '']
  // Longest first, so a decoded password containing the raw one is not half-replaced.
  return [...new Set(candidates.filter((secret) => secret.length > 0))].sort((a, b) => b.length - a.length)
}

/** The URL as a log line may show it: no password. */
export function describePostgresUrl(url: string): string {
  const parsed = new URL(url)
  parsed.password = ''
  parsed.searchParams.delete('password')
  return parsed.href
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
