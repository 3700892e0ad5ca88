/**
 * Schema migrations, applied in order at start-up, each once, each in its own transaction.
 * Append new ones; never edit one that has shipped.
 */
import type { Database } from 'better-sqlite3'

const MIGRATIONS: string[] = [
  `CREATE TABLE accounts (
     id         TEXT PRIMARY KEY,
     name       TEXT NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE TABLE keys (
     id              TEXT PRIMARY KEY,
     account_id      TEXT NOT NULL REFERENCES accounts (id),
     name            TEXT NOT NULL,
     prefix          TEXT NOT NULL,
     hash            TEXT NOT NULL UNIQUE,
     is_primary      INTEGER NOT NULL DEFAULT 0,
     allowed_domains TEXT NOT NULL DEFAULT '[]',
     rate_limit_rpm  INTEGER,
     instructions    TEXT,
     created_at      TEXT NOT NULL,
     last_used_at    TEXT,
     revoked_at      TEXT
   );
   CREATE INDEX keys_account ON keys (account_id);
   -- The database itself guarantees at most one primary key per account.
   CREATE UNIQUE INDEX keys_one_primary ON keys (account_id) WHERE is_primary = 1;
   CREATE TABLE usage (
     key_id            TEXT NOT NULL REFERENCES keys (id),
     day               TEXT NOT NULL,
     requests          INTEGER NOT NULL DEFAULT 0,
     prompt_tokens     INTEGER NOT NULL DEFAULT 0,
     completion_tokens INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (key_id, day)
   );`,
  // The dashboard's owners, their one-time set-password links and their sessions (issue 14). Tokens
  // are stored only as SHA-256 hashes.
  `CREATE TABLE owners (
     id            TEXT PRIMARY KEY,
     account_id    TEXT NOT NULL REFERENCES accounts (id),
     email         TEXT NOT NULL UNIQUE,
     password_hash TEXT,
     created_at    TEXT NOT NULL
   );
   CREATE INDEX owners_account ON owners (account_id);
   CREATE TABLE password_links (
     token_hash TEXT PRIMARY KEY,
     owner_id   TEXT NOT NULL REFERENCES owners (id),
     expires_at TEXT NOT NULL,
     used_at    TEXT
   );
   CREATE TABLE sessions (
     token_hash   TEXT PRIMARY KEY,
     owner_id     TEXT NOT NULL REFERENCES owners (id),
     created_at   TEXT NOT NULL,
     last_seen_at TEXT NOT NULL
   );
   CREATE INDEX sessions_owner ON sessions (owner_id);`,
  // Refusals and origins per key (issue 14's usage page): what an owner needs to see where the
  // widget runs and who tries the key elsewhere. key_origins holds a bounded number of rows per key.
  `CREATE TABLE refusals (
     key_id TEXT NOT NULL REFERENCES keys (id),
     day    TEXT NOT NULL,
     reason TEXT NOT NULL,
     count  INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (key_id, day, reason)
   );
   CREATE TABLE key_origins (
     key_id       TEXT NOT NULL REFERENCES keys (id),
     origin       TEXT NOT NULL,
     allowed      INTEGER NOT NULL,
     requests     INTEGER NOT NULL DEFAULT 0,
     last_seen_at TEXT NOT NULL,
     PRIMARY KEY (key_id, origin, allowed)
   );`,
  // What a public key may spend (issue 16): a limit per visitor (null: the server's default), a daily
  // token budget per key and per account (null: none), and whether a client may send system messages.
  `ALTER TABLE keys ADD COLUMN visitor_rpm INTEGER;
   ALTER TABLE keys ADD COLUMN daily_token_limit INTEGER;
   ALTER TABLE keys ADD COLUMN allow_system_messages INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE accounts ADD COLUMN daily_token_limit INTEGER;`,
]

/** The schema version a migrated SQLite file is at (db copy reads exactly this one). */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length

/** Brings the database up to the latest schema; returns how many migrations ran. */
export function migrate(db: Database): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)')
  const isApplied = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM schema_migrations WHERE version = ?')
  const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)')
  // Checked inside each IMMEDIATE transaction, so a CLI and a server starting together cannot both run one.
  const apply = db.transaction((version: number, sql: string) => {
    if (isApplied.get(version)!.n > 0) return false
    db.exec(sql)
    record.run(version, new Date().toISOString())
    return true
  })
  let ran = 0
  MIGRATIONS.forEach((sql, index) => {
    if (apply.immediate(index + 1, sql)) ran++
  })
  return ran
}
