/**
 * The embedded store: one SQLite file through better-sqlite3, migrated at open. Writes that must be
 * atomic (the 10-key limit, the single primary) run in IMMEDIATE transactions, so a CLI process and
 * the server can share the file safely.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { migrate } from './migrations.ts'
import {
  StoreConflict,
  type AccountRecord,
  type KeyChanges,
  type KeyRecord,
  type NewKey,
  type OriginRow,
  type OwnerRecord,
  type RefusalRow,
  type SessionRecord,
  type Store,
  type UsageRow,
} from './store.ts'

/** A key as SQLite holds it (booleans as 0 or 1, domains as JSON text), without its hash. */
export interface KeyRow {
  id: string
  account_id: string
  name: string
  prefix: string
  is_primary: number
  allowed_domains: string
  rate_limit_rpm: number | null
  visitor_rpm: number | null
  daily_token_limit: number | null
  allow_system_messages: number
  instructions: string | null
  created_at: string
  last_used_at: string | null
  revoked_at: string | null
}

const KEY_COLUMNS = `id, account_id, name, prefix, is_primary, allowed_domains, rate_limit_rpm, visitor_rpm, daily_token_limit,
  allow_system_messages, instructions, created_at, last_used_at, revoked_at`

const ACCOUNT_COLUMNS = 'id, name, daily_token_limit, created_at'

const toKeyRecord = (row: KeyRow): KeyRecord => ({
  ...row,
  is_primary: row.is_primary === 1,
  allow_system_messages: row.allow_system_messages === 1,
  allowed_domains: JSON.parse(row.allowed_domains) as string[],
})

const now = () => new Date().toISOString()

const OWNER_COLUMNS = 'id, account_id, email, password_hash, created_at'

/** SQLite's error for a UNIQUE constraint that refused a row. */
const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE'

/** Opens (creating folders and the file as needed) and migrates the database at `path`. */
export function openSqliteStore(path: string): Store {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('busy_timeout = 5000')
  db.pragma('foreign_keys = ON')
  migrate(db)

  const statements = {
    insertAccount: db.prepare('INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)'),
    getAccount: db.prepare<[string], AccountRecord>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`),
    listAccounts: db.prepare<[], AccountRecord>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY created_at, rowid`),
    updateAccount: db.prepare(`UPDATE accounts SET name = coalesce(@name, name),
      daily_token_limit = CASE WHEN @set_daily_tokens THEN @daily_token_limit ELSE daily_token_limit END WHERE id = @id`),
    countActive: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM keys WHERE account_id = ? AND revoked_at IS NULL'),
    hasPrimary: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM keys WHERE account_id = ? AND is_primary = 1'),
    insertKey: db.prepare(`INSERT INTO keys (id, account_id, name, prefix, hash, is_primary, allowed_domains,
      rate_limit_rpm, visitor_rpm, daily_token_limit, allow_system_messages, instructions, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    getKey: db.prepare<[string], KeyRow>(`SELECT ${KEY_COLUMNS} FROM keys WHERE id = ?`),
    listKeys: db.prepare<[string], KeyRow>(`SELECT ${KEY_COLUMNS} FROM keys WHERE account_id = ? ORDER BY created_at, rowid`),
    findByHash: db.prepare<[string], KeyRow>(`SELECT ${KEY_COLUMNS} FROM keys WHERE hash = ?`),
    revoke: db.prepare('UPDATE keys SET revoked_at = coalesce(revoked_at, ?), is_primary = 0 WHERE id = ?'),
    clearPrimary: db.prepare('UPDATE keys SET is_primary = 0 WHERE account_id = ? AND is_primary = 1'),
    setPrimary: db.prepare('UPDATE keys SET is_primary = 1 WHERE id = ?'),
    addUsage: db.prepare(`INSERT INTO usage (key_id, day, requests, prompt_tokens, completion_tokens)
      VALUES (@key_id, @day, @requests, @prompt_tokens, @completion_tokens)
      ON CONFLICT (key_id, day) DO UPDATE SET requests = requests + excluded.requests,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens`),
    touch: db.prepare('UPDATE keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)'),
    updateKey: db.prepare(`UPDATE keys SET name = coalesce(@name, name), allowed_domains = coalesce(@allowed_domains, allowed_domains),
      rate_limit_rpm = CASE WHEN @set_rpm THEN @rate_limit_rpm ELSE rate_limit_rpm END,
      visitor_rpm = CASE WHEN @set_visitor_rpm THEN @visitor_rpm ELSE visitor_rpm END,
      daily_token_limit = CASE WHEN @set_daily_tokens THEN @daily_token_limit ELSE daily_token_limit END,
      allow_system_messages = coalesce(@allow_system_messages, allow_system_messages),
      instructions = CASE WHEN @set_instructions THEN @instructions ELSE instructions END WHERE id = @id`),
    insertOwner: db.prepare('INSERT INTO owners (id, account_id, email, created_at) VALUES (?, ?, ?, ?)'),
    getOwner: db.prepare<[string], OwnerRecord>(`SELECT ${OWNER_COLUMNS} FROM owners WHERE id = ?`),
    ownerByEmail: db.prepare<[string], OwnerRecord>(`SELECT ${OWNER_COLUMNS} FROM owners WHERE email = ?`),
    listOwners: db.prepare<[string], OwnerRecord>(`SELECT ${OWNER_COLUMNS} FROM owners WHERE account_id = ? ORDER BY created_at, rowid`),
    setPassword: db.prepare('UPDATE owners SET password_hash = ? WHERE id = ?'),
    insertLink: db.prepare('INSERT INTO password_links (token_hash, owner_id, expires_at) VALUES (?, ?, ?)'),
    useLink: db.prepare<[string, string, string], { owner_id: string }>(
      'UPDATE password_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING owner_id',
    ),
    endLinks: db.prepare('UPDATE password_links SET used_at = ? WHERE owner_id = ? AND used_at IS NULL'),
    insertSession: db.prepare('INSERT INTO sessions (token_hash, owner_id, created_at, last_seen_at) VALUES (?, ?, ?, ?)'),
    findSession: db.prepare<[string], SessionRecord>('SELECT owner_id, created_at, last_seen_at FROM sessions WHERE token_hash = ?'),
    touchSession: db.prepare('UPDATE sessions SET last_seen_at = ? WHERE token_hash = ? AND last_seen_at < ?'),
    endSession: db.prepare('DELETE FROM sessions WHERE token_hash = ?'),
    endOwnerSessions: db.prepare('DELETE FROM sessions WHERE owner_id = ? AND token_hash <> ?'),
    listSessions: db.prepare<[string], SessionRecord & { token_hash: string }>(
      'SELECT token_hash, owner_id, created_at, last_seen_at FROM sessions WHERE owner_id = ? ORDER BY last_seen_at DESC, created_at DESC',
    ),
    deleteOwnerLinks: db.prepare('DELETE FROM password_links WHERE owner_id = ?'),
    deleteOwner: db.prepare('DELETE FROM owners WHERE id = ?'),
    purgeSessions: db.prepare('DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?'),
    purgeLinks: db.prepare('DELETE FROM password_links WHERE used_at IS NOT NULL OR expires_at <= ?'),
    addRefusal: db.prepare(`INSERT INTO refusals (key_id, day, reason, count) VALUES (@key_id, @day, @reason, @count)
      ON CONFLICT (key_id, day, reason) DO UPDATE SET count = count + excluded.count`),
    addOrigin: db.prepare(`INSERT INTO key_origins (key_id, origin, allowed, requests, last_seen_at)
      VALUES (@key_id, @origin, @allowed, @requests, @last_seen_at)
      ON CONFLICT (key_id, origin, allowed) DO UPDATE SET requests = requests + excluded.requests,
        last_seen_at = max(last_seen_at, excluded.last_seen_at)`),
    // The key's @max most recently seen origins stay; the least recently seen go.
    trimOrigins: db.prepare(`DELETE FROM key_origins WHERE key_id = @key_id AND rowid NOT IN
      (SELECT rowid FROM key_origins WHERE key_id = @key_id ORDER BY last_seen_at DESC, rowid DESC LIMIT @max)`),
    refusals: db.prepare<[string], RefusalRow>(`SELECT r.key_id, r.day, r.reason, r.count
      FROM refusals r JOIN keys k ON k.id = r.key_id WHERE k.account_id = ? ORDER BY r.day, k.created_at, k.rowid, r.reason`),
    origins: db.prepare<
      [string],
      Omit<OriginRow, 'allowed'> & { allowed: number }
    >(`SELECT o.key_id, o.origin, o.allowed, o.requests, o.last_seen_at
      FROM key_origins o JOIN keys k ON k.id = o.key_id WHERE k.account_id = ? ORDER BY o.last_seen_at DESC, o.origin`),
    // Insert-if-absent then read: whoever inserts first, everyone reads the same value.
    insertSecret: db.prepare('INSERT INTO server_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING'),
    getSecret: db.prepare<[string], { value: string }>('SELECT value FROM server_secrets WHERE name = ?'),
    usage: db.prepare<[string], UsageRow>(`SELECT u.key_id, u.day, u.requests, u.prompt_tokens, u.completion_tokens
      FROM usage u JOIN keys k ON k.id = u.key_id WHERE k.account_id = ? ORDER BY u.day, k.created_at, k.rowid`),
  }

  const getKey = (id: string) => {
    const row = statements.getKey.get(id)
    return row && toKeyRecord(row)
  }

  const createKey = db.transaction((id: string, key: NewKey, maxActive: number) => {
    if (statements.countActive.get(key.accountId)!.n >= maxActive) throw new StoreConflict('key_limit_reached')
    const primary = statements.hasPrimary.get(key.accountId)!.n === 0 ? 1 : 0
    statements.insertKey.run(
      id,
      key.accountId,
      key.name,
      key.prefix,
      key.hash,
      primary,
      JSON.stringify(key.allowedDomains),
      key.rateLimitRpm,
      key.visitorRpm,
      key.dailyTokenLimit,
      key.allowSystemMessages ? 1 : 0,
      key.instructions,
      now(),
    )
    return getKey(id)!
  })

  const setPrimary = db.transaction((id: string) => {
    const key = getKey(id)
    if (!key) return undefined
    if (key.revoked_at) throw new StoreConflict('key_revoked')
    statements.clearPrimary.run(key.account_id)
    statements.setPrimary.run(id)
    return getKey(id)
  })

  const updateKey = db.transaction((id: string, changes: KeyChanges) => {
    const key = getKey(id)
    if (!key) return undefined
    if (key.revoked_at) throw new StoreConflict('key_revoked')
    statements.updateKey.run({
      id,
      name: changes.name ?? null,
      allowed_domains: changes.allowedDomains ? JSON.stringify(changes.allowedDomains) : null,
      set_rpm: changes.rateLimitRpm === undefined ? 0 : 1,
      rate_limit_rpm: changes.rateLimitRpm ?? null,
      set_visitor_rpm: changes.visitorRpm === undefined ? 0 : 1,
      visitor_rpm: changes.visitorRpm ?? null,
      set_daily_tokens: changes.dailyTokenLimit === undefined ? 0 : 1,
      daily_token_limit: changes.dailyTokenLimit ?? null,
      allow_system_messages: changes.allowSystemMessages === undefined ? null : changes.allowSystemMessages ? 1 : 0,
      set_instructions: changes.instructions === undefined ? 0 : 1,
      instructions: changes.instructions ?? null,
    })
    return getKey(id)
  })

  const removeOwner = db.transaction((id: string) => {
    const owner = statements.getOwner.get(id)
    if (!owner) return undefined
    statements.endOwnerSessions.run(id, '')
    statements.deleteOwnerLinks.run(id)
    statements.deleteOwner.run(id)
    return owner
  })

  const purgeExpired = db.transaction((at: string, idleBefore: string, signedInBefore: string) => ({
    sessions: statements.purgeSessions.run(idleBefore, signedInBefore).changes,
    links: statements.purgeLinks.run(at).changes,
  }))

  const addActivity = db.transaction((refusals: RefusalRow[], origins: OriginRow[], max: number) => {
    for (const row of refusals) statements.addRefusal.run(row)
    for (const row of origins) statements.addOrigin.run({ ...row, allowed: row.allowed ? 1 : 0 })
    for (const keyId of new Set(origins.map((row) => row.key_id))) statements.trimOrigins.run({ key_id: keyId, max })
  })

  const addUsage = db.transaction((rows: UsageRow[], lastUsed: ReadonlyMap<string, string>) => {
    for (const row of rows) statements.addUsage.run(row)
    for (const [id, at] of lastUsed) statements.touch.run(at, id, at)
  })

  return {
    async createAccount(id, name) {
      const record = { id, name, daily_token_limit: null, created_at: now() }
      statements.insertAccount.run(record.id, record.name, record.created_at)
      return record
    },
    async getAccount(id) {
      return statements.getAccount.get(id)
    },
    async accountTokenLimit(id) {
      return statements.getAccount.get(id)?.daily_token_limit ?? null
    },
    async updateAccount(id, changes) {
      statements.updateAccount.run({
        id,
        name: changes.name ?? null,
        set_daily_tokens: changes.dailyTokenLimit === undefined ? 0 : 1,
        daily_token_limit: changes.dailyTokenLimit ?? null,
      })
      return statements.getAccount.get(id)
    },
    async listAccounts() {
      return statements.listAccounts.all()
    },
    async createKey(id, key, maxActive) {
      return createKey.immediate(id, key, maxActive)
    },
    async listKeys(accountId) {
      return statements.listKeys.all(accountId).map(toKeyRecord)
    },
    async getKey(id) {
      return getKey(id)
    },
    async updateKey(id, changes) {
      return updateKey.immediate(id, changes)
    },
    async findKeyByHash(hash) {
      const row = statements.findByHash.get(hash)
      return row && toKeyRecord(row)
    },
    async revokeKey(id) {
      statements.revoke.run(now(), id)
      return getKey(id)
    },
    async setPrimaryKey(id) {
      return setPrimary.immediate(id)
    },
    async addUsage(rows, lastUsed) {
      addUsage.immediate(rows, lastUsed)
    },
    async usage(accountId) {
      return statements.usage.all(accountId)
    },
    async createOwner(id, accountId, email) {
      const record = { id, account_id: accountId, email, password_hash: null, created_at: now() }
      try {
        statements.insertOwner.run(id, accountId, email, record.created_at)
      } catch (err) {
        if (isUniqueViolation(err)) throw new StoreConflict('email_taken')
        throw err
      }
      return record
    },
    async getOwner(id) {
      return statements.getOwner.get(id)
    },
    async findOwnerByEmail(email) {
      return statements.ownerByEmail.get(email)
    },
    async listOwners(accountId) {
      return statements.listOwners.all(accountId)
    },
    async setOwnerPassword(ownerId, passwordHash) {
      statements.setPassword.run(passwordHash, ownerId)
    },
    async createPasswordLink(tokenHash, ownerId, expiresAt) {
      statements.insertLink.run(tokenHash, ownerId, expiresAt)
    },
    async usePasswordLink(tokenHash, at) {
      return statements.useLink.get(at, tokenHash, at)?.owner_id
    },
    async endPasswordLinks(ownerId, at) {
      statements.endLinks.run(at, ownerId)
    },
    async createSession(tokenHash, ownerId, at) {
      statements.insertSession.run(tokenHash, ownerId, at, at)
    },
    async findSession(tokenHash) {
      return statements.findSession.get(tokenHash)
    },
    async touchSession(tokenHash, at) {
      statements.touchSession.run(at, tokenHash, at)
    },
    async endSession(tokenHash) {
      statements.endSession.run(tokenHash)
    },
    async endOwnerSessions(ownerId, keep = '') {
      statements.endOwnerSessions.run(ownerId, keep)
    },
    async listSessions(ownerId) {
      return statements.listSessions.all(ownerId)
    },
    async removeOwner(ownerId) {
      return removeOwner.immediate(ownerId)
    },
    async purgeExpired(at, idleBefore, signedInBefore) {
      return purgeExpired.immediate(at, idleBefore, signedInBefore)
    },
    async addActivity(refusals, origins, maxOriginsPerKey) {
      addActivity.immediate(refusals, origins, maxOriginsPerKey)
    },
    async activity(accountId) {
      return {
        refusals: statements.refusals.all(accountId),
        origins: statements.origins.all(accountId).map((row) => ({ ...row, allowed: row.allowed === 1 })),
      }
    },
    async serverSecret(name, candidate) {
      statements.insertSecret.run(name, candidate)
      return statements.getSecret.get(name)!.value
    },
    async ping() {
      db.prepare('SELECT 1').get()
    },
    async close() {
      if (db.open) db.close()
    },
  }
}
