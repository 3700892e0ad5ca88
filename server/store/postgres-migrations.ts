/**
 * PostgreSQL schema migrations, applied in order, each once, each in its own transaction. Several
 * processes may start together: a session advisory lock lets one migrate while the others wait,
 * then find nothing left to do. Append new ones; never edit one that has shipped.
 */
import type pg from 'pg'

const MIGRATIONS: string[] = [
  // Ids compare byte by byte (COLLATE "C"), as JavaScript sorts them: the store locks rows in id
  // order, and two processes must agree on that order to never deadlock.
  // Times are timestamptz, read back as ISO-8601 text with milliseconds, as the SQLite store stores them.
  `CREATE TABLE accounts (
     id         text COLLATE "C" PRIMARY KEY,
     name       text NOT NULL,
     created_at timestamptz NOT NULL
   );
   CREATE TABLE keys (
     id              text COLLATE "C" PRIMARY KEY,
     -- Creation order, for listings: created_at alone ties within a millisecond.
     seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
     account_id      text COLLATE "C" NOT NULL REFERENCES accounts (id),
     name            text NOT NULL,
     prefix          text NOT NULL,
     hash            text NOT NULL UNIQUE,
     is_primary      boolean NOT NULL DEFAULT false,
     allowed_domains text[] NOT NULL DEFAULT '{}',
     rate_limit_rpm  integer,
     instructions    text,
     created_at      timestamptz NOT NULL,
     last_used_at    timestamptz,
     revoked_at      timestamptz
   );
   CREATE INDEX keys_account ON keys (account_id);
   -- The database itself guarantees at most one primary key per account.
   CREATE UNIQUE INDEX keys_one_primary ON keys (account_id) WHERE is_primary;
   CREATE TABLE usage (
     key_id            text COLLATE "C" NOT NULL REFERENCES keys (id),
     day               date NOT NULL,
     requests          bigint NOT NULL DEFAULT 0,
     prompt_tokens     bigint NOT NULL DEFAULT 0,
     completion_tokens bigint NOT NULL DEFAULT 0,
     PRIMARY KEY (key_id, day)
   );`,
  // Every change to a key that a request could see (anything but last_used_at, which usage writes
  // move all the time) tells the processes' key caches (key-cache.ts) which key to forget.
  `CREATE FUNCTION assisters_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     PERFORM pg_notify('assisters_key_changes', OLD.hash);
     RETURN NULL;
   END $$;
   CREATE TRIGGER keys_changed AFTER UPDATE ON keys FOR EACH ROW
     WHEN (to_jsonb(OLD) - 'last_used_at' IS DISTINCT FROM to_jsonb(NEW) - 'last_used_at')
     EXECUTE FUNCTION assisters_key_changed();
   -- The server never deletes a key (revocation is an update), but an operator's SQL might.
   CREATE TRIGGER keys_deleted AFTER DELETE ON keys FOR EACH ROW EXECUTE FUNCTION assisters_key_changed();`,
  // The dashboard's owners, their one-time set-password links and their sessions (issue 14). Tokens
  // are stored only as SHA-256 hashes.
  `CREATE TABLE owners (
     id            text COLLATE "C" PRIMARY KEY,
     seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
     account_id    text COLLATE "C" NOT NULL REFERENCES accounts (id),
     email         text NOT NULL UNIQUE,
     password_hash text,
     created_at    timestamptz NOT NULL
   );
   CREATE INDEX owners_account ON owners (account_id);
   CREATE TABLE password_links (
     token_hash text PRIMARY KEY,
     owner_id   text COLLATE "C" NOT NULL REFERENCES owners (id),
     expires_at timestamptz NOT NULL,
     used_at    timestamptz
   );
   CREATE TABLE sessions (
     token_hash   text PRIMARY KEY,
     owner_id     text COLLATE "C" NOT NULL REFERENCES owners (id),
     created_at   timestamptz NOT NULL,
     last_seen_at timestamptz NOT NULL
   );
   CREATE INDEX sessions_owner ON sessions (owner_id);`,
  // Refusals and origins per key (issue 14's usage page): what an owner needs to see where the
  // widget runs and who tries the key elsewhere. key_origins holds a bounded number of rows per key.
  `CREATE TABLE refusals (
     key_id text COLLATE "C" NOT NULL REFERENCES keys (id),
     day    date NOT NULL,
     reason text NOT NULL,
     count  bigint NOT NULL DEFAULT 0,
     PRIMARY KEY (key_id, day, reason)
   );
   CREATE TABLE key_origins (
     key_id       text COLLATE "C" NOT NULL REFERENCES keys (id),
     origin       text NOT NULL,
     allowed      boolean NOT NULL,
     requests     bigint NOT NULL DEFAULT 0,
     last_seen_at timestamptz NOT NULL,
     PRIMARY KEY (key_id, origin, allowed)
   );`,
  // What a public key may spend (issue 16): a limit per visitor (null: the server's default), a daily
  // token budget per key and per account (null: none), and whether a client may send system messages.
  `ALTER TABLE keys ADD COLUMN visitor_rpm integer;
   ALTER TABLE keys ADD COLUMN daily_token_limit integer;
   ALTER TABLE keys ADD COLUMN allow_system_messages boolean NOT NULL DEFAULT true;
   ALTER TABLE accounts ADD COLUMN daily_token_limit integer;`,
]

/** The schema version a migrated PostgreSQL database is at (db copy writes into exactly this one). */
export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length

/** Any fixed number shared by every process of this project: the advisory lock's name. */
const MIGRATION_LOCK = 0x61737369

/** Brings the database up to the latest schema; returns how many migrations ran. */
export async function migratePostgres(pool: pg.Pool): Promise<number> {
  const client = await pool.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)')
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations')
    const applied = new Set(rows.map((row) => row.version))
    let ran = 0
    for (const [index, sql] of MIGRATIONS.entries()) {
      if (applied.has(index + 1)) continue
      await client.query('BEGIN')
      await client.query(sql)
      await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())', [index + 1])
      await client.query('COMMIT')
      ran++
    }
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK])
    client.release()
    return ran
  } catch (err) {
    // Ending the session rolls back a half-run migration and releases the lock.
    client.release(true)
    throw err
  }
}
