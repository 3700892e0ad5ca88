/**
 * Moving house (`assisters db copy --from sqlite:<path>`): everything in an SQLite database copied
 * into an empty PostgreSQL one, in one transaction: accounts, keys (hashes, prefixes, flags, dates,
 * domains, limits, instructions), usage, the dashboard's owners (password hashes), their unused
 * set-password links and their sessions (so owners stay signed in), the refusals and origins
 * counted per key, and the server's own secrets (so visitors keep their pseudonymous ids). Keys keep
 * working: only their hashes were ever stored,
 * and those move unchanged. A target that holds anything is refused, so nothing is ever merged or
 * overwritten.
 */
import { existsSync } from 'node:fs'
import Database from 'better-sqlite3'
import type pg from 'pg'
import type { Config } from '../config.ts'
import { SQLITE_SCHEMA_VERSION } from './migrations.ts'
import { migratePostgres, POSTGRES_SCHEMA_VERSION } from './postgres-migrations.ts'
import { createPostgresPool, describePostgresUrl, storeErrorMapper } from './postgres.ts'
import type { KeyRow } from './sqlite.ts'

/** What was copied, as the CLI reports it. */
export interface CopyReport {
  from: string
  to: string
  accounts: number
  keys: number
  usage_rows: number
  owners: number
  requests: number
  prompt_tokens: number
  completion_tokens: number
}

/** A copy that must not run, with the reason for the operator. */
export class CopyRefused extends Error {
  override name = 'CopyRefused'
  constructor(
    readonly code: 'invalid_source' | 'invalid_target' | 'target_not_empty',
    message: string,
  ) {
    super(message)
  }
}

interface Source {
  accounts: Array<{ id: string; name: string; daily_token_limit: number | null; created_at: string }>
  keys: Array<KeyRow & { hash: string }>
  usage: Array<{ key_id: string; day: string; requests: number; prompt_tokens: number; completion_tokens: number }>
  owners: Array<{ id: string; account_id: string; email: string; password_hash: string | null; created_at: string }>
  links: Array<{ token_hash: string; owner_id: string; expires_at: string; used_at: string | null }>
  sessions: Array<{ token_hash: string; owner_id: string; created_at: string; last_seen_at: string }>
  refusals: Array<{ key_id: string; day: string; reason: string; count: number }>
  origins: Array<{ key_id: string; origin: string; allowed: number; requests: number; last_seen_at: string }>
  secrets: Array<{ name: string; value: string }>
}

/** Copies the SQLite database `from` into the empty PostgreSQL database `to`; throws CopyRefused when it must not. */
export async function copyDatabase(from: Config['database'], to: Config['database']): Promise<CopyReport> {
  if (to.kind !== 'postgres') {
    throw new CopyRefused('invalid_target', 'db copy fills a PostgreSQL database: set DATABASE_URL to the target postgres://… URL')
  }
  if (from.kind !== 'sqlite' || from.path === ':memory:') {
    throw new CopyRefused('invalid_source', '--from must name an SQLite file, as sqlite:<path>')
  }
  const source = readSqlite(from.path)
  const copied = await writePostgres(source, to)
  return { from: from.path, to: describePostgresUrl(to.url), ...copied }
}

/** Everything in the file, read in one snapshot (a server may still be writing to it). */
function readSqlite(path: string): Source {
  if (!existsSync(path)) throw new CopyRefused('invalid_source', `--from: there is no file at ${path}`)
  let db: Database.Database
  try {
    db = new Database(path, { readonly: true, fileMustExist: true })
  } catch (err) {
    throw new CopyRefused('invalid_source', `--from: cannot open ${path}: ${(err as Error).message}`)
  }
  try {
    return db.transaction(() => {
      const version = schemaVersion(db)
      if (version !== SQLITE_SCHEMA_VERSION) {
        throw new CopyRefused(
          'invalid_source',
          version === undefined
            ? `--from: ${path} is not an Assisters database`
            : `--from: ${path} is at schema version ${version}; this version of db copy reads version ${SQLITE_SCHEMA_VERSION}`,
        )
      }
      return {
        accounts: db
          .prepare('SELECT id, name, daily_token_limit, created_at FROM accounts ORDER BY created_at, rowid')
          .all() as Source['accounts'],
        keys: db
          .prepare(`SELECT id, account_id, name, prefix, hash, is_primary, allowed_domains, rate_limit_rpm, visitor_rpm,
          daily_token_limit, allow_system_messages, instructions, created_at, last_used_at, revoked_at
          FROM keys ORDER BY created_at, rowid`)
          .all() as Source['keys'],
        usage: db
          .prepare('SELECT key_id, day, requests, prompt_tokens, completion_tokens FROM usage ORDER BY day, key_id')
          .all() as Source['usage'],
        owners: db
          .prepare('SELECT id, account_id, email, password_hash, created_at FROM owners ORDER BY created_at, rowid')
          .all() as Source['owners'],
        links: db.prepare('SELECT token_hash, owner_id, expires_at, used_at FROM password_links').all() as Source['links'],
        sessions: db.prepare('SELECT token_hash, owner_id, created_at, last_seen_at FROM sessions').all() as Source['sessions'],
        refusals: db.prepare('SELECT key_id, day, reason, count FROM refusals').all() as Source['refusals'],
        origins: db.prepare('SELECT key_id, origin, allowed, requests, last_seen_at FROM key_origins').all() as Source['origins'],
        secrets: db.prepare('SELECT name, value FROM server_secrets').all() as Source['secrets'],
      }
    })()
  } finally {
    db.close()
  }
}

function schemaVersion(db: Database.Database): number | undefined {
  try {
    return (db.prepare('SELECT max(version) AS version FROM schema_migrations').get() as { version: number | null }).version ?? undefined
  } catch {
    return undefined // no such table: some other SQLite file
  }
}

/** Migrates the target, then copies everything in one transaction with the tables locked against writers. */
async function writePostgres(source: Source, to: Extract<Config['database'], { kind: 'postgres' }>) {
  const pool = createPostgresPool({ ...to, poolSize: 1 })
  try {
    await migratePostgres(pool)
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      // Readers may go on; a server writing to the target waits until the copy is in (or refused).
      await client.query(
        'LOCK TABLE accounts, keys, usage, owners, password_links, sessions, refusals, key_origins, server_secrets IN EXCLUSIVE MODE',
      )
      const {
        rows: [held],
      } = await client.query<{ version: number; accounts: number; keys: number; usage: number; owners: number }>(
        `SELECT (SELECT max(version) FROM schema_migrations) AS version, (SELECT count(*)::int FROM accounts) AS accounts,
           (SELECT count(*)::int FROM keys) AS keys, (SELECT count(*)::int FROM usage) AS usage,
           (SELECT count(*)::int FROM owners) AS owners`,
      )
      if (held!.version !== POSTGRES_SCHEMA_VERSION) {
        throw new CopyRefused(
          'invalid_target',
          `the target database is at schema version ${held!.version}; this version of db copy writes version ${POSTGRES_SCHEMA_VERSION}`,
        )
      }
      if (held!.accounts + held!.keys + held!.usage + held!.owners > 0) {
        throw new CopyRefused(
          'target_not_empty',
          `the target database is not empty (${held!.accounts} accounts, ${held!.keys} keys, ` +
            `${held!.usage} usage rows, ${held!.owners} owners); db copy only fills an empty one`,
        )
      }
      await insertAll(client, source)
      // Read back what landed, so the report states the target's figures, not the source's.
      const {
        rows: [totals],
      } = await client.query<{ requests: string; prompt_tokens: string; completion_tokens: string }>(
        `SELECT coalesce(sum(requests), 0) AS requests, coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
           coalesce(sum(completion_tokens), 0) AS completion_tokens FROM usage`,
      )
      await client.query('COMMIT')
      client.release()
      return {
        accounts: source.accounts.length,
        keys: source.keys.length,
        usage_rows: source.usage.length,
        owners: source.owners.length,
        requests: Number(totals!.requests),
        prompt_tokens: Number(totals!.prompt_tokens),
        completion_tokens: Number(totals!.completion_tokens),
      }
    } catch (err) {
      // Ending the session rolls the transaction back, whatever state the connection is in.
      client.release(true)
      throw err
    }
  } catch (err) {
    throw err instanceof CopyRefused ? err : storeErrorMapper(to.url)(err)
  } finally {
    await pool.end()
  }
}

/** One INSERT per table, the rows passed as arrays; keys go in creation order, so listings keep it. */
async function insertAll(client: pg.PoolClient, { accounts, keys, usage, owners, links, sessions, refusals, origins, secrets }: Source) {
  const column = <T, K extends keyof T>(rows: T[], name: K) => rows.map((row) => row[name])
  await client.query(
    `INSERT INTO accounts (id, name, daily_token_limit, created_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[])`,
    [column(accounts, 'id'), column(accounts, 'name'), column(accounts, 'daily_token_limit'), column(accounts, 'created_at')],
  )
  await client.query(
    `INSERT INTO keys (id, account_id, name, prefix, hash, is_primary, allowed_domains, rate_limit_rpm, visitor_rpm,
       daily_token_limit, allow_system_messages, instructions, created_at, last_used_at, revoked_at)
     SELECT id, account_id, name, prefix, hash, is_primary, ARRAY(SELECT jsonb_array_elements_text(domains)), rpm, visitor_rpm,
       daily_tokens, allow_system, instructions, created_at, last_used_at, revoked_at
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::jsonb[], $8::int[], $9::int[],
       $10::int[], $11::boolean[], $12::text[], $13::timestamptz[], $14::timestamptz[], $15::timestamptz[])
       WITH ORDINALITY AS source (id, account_id, name, prefix, hash, is_primary, domains, rpm, visitor_rpm, daily_tokens,
         allow_system, instructions, created_at, last_used_at, revoked_at, position)
     ORDER BY position`,
    [
      column(keys, 'id'),
      column(keys, 'account_id'),
      column(keys, 'name'),
      column(keys, 'prefix'),
      column(keys, 'hash'),
      keys.map((key) => key.is_primary === 1),
      column(keys, 'allowed_domains'),
      column(keys, 'rate_limit_rpm'),
      column(keys, 'visitor_rpm'),
      column(keys, 'daily_token_limit'),
      keys.map((key) => key.allow_system_messages === 1),
      column(keys, 'instructions'),
      column(keys, 'created_at'),
      column(keys, 'last_used_at'),
      column(keys, 'revoked_at'),
    ],
  )
  await client.query(
    `INSERT INTO usage (key_id, day, requests, prompt_tokens, completion_tokens)
     SELECT * FROM unnest($1::text[], $2::date[], $3::bigint[], $4::bigint[], $5::bigint[])`,
    [
      column(usage, 'key_id'),
      column(usage, 'day'),
      column(usage, 'requests'),
      column(usage, 'prompt_tokens'),
      column(usage, 'completion_tokens'),
    ],
  )
  await client.query(
    `INSERT INTO owners (id, account_id, email, password_hash, created_at)
     SELECT id, account_id, email, password_hash, created_at
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
       WITH ORDINALITY AS source (id, account_id, email, password_hash, created_at, position)
     ORDER BY position`,
    [
      column(owners, 'id'),
      column(owners, 'account_id'),
      column(owners, 'email'),
      column(owners, 'password_hash'),
      column(owners, 'created_at'),
    ],
  )
  await client.query(
    `INSERT INTO password_links (token_hash, owner_id, expires_at, used_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])`,
    [column(links, 'token_hash'), column(links, 'owner_id'), column(links, 'expires_at'), column(links, 'used_at')],
  )
  await client.query(
    `INSERT INTO sessions (token_hash, owner_id, created_at, last_seen_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])`,
    [column(sessions, 'token_hash'), column(sessions, 'owner_id'), column(sessions, 'created_at'), column(sessions, 'last_seen_at')],
  )
  await client.query(
    `INSERT INTO refusals (key_id, day, reason, count) SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::bigint[])`,
    [column(refusals, 'key_id'), column(refusals, 'day'), column(refusals, 'reason'), column(refusals, 'count')],
  )
  await client.query(
    `INSERT INTO key_origins (key_id, origin, allowed, requests, last_seen_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::bigint[], $5::timestamptz[])`,
    [
      column(origins, 'key_id'),
      column(origins, 'origin'),
      origins.map((row) => row.allowed === 1),
      column(origins, 'requests'),
      column(origins, 'last_seen_at'),
    ],
  )
  // The source's secrets replace any a server on the empty target made at start-up: they are the ones
  // the copied keys' visitors have been known by (a server already running on the target keeps its
  // own until it restarts).
  await client.query(
    `INSERT INTO server_secrets (name, value) SELECT * FROM unnest($1::text[], $2::text[])
     ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
    [column(secrets, 'name'), column(secrets, 'value')],
  )
}
