/**
 * The storage interface the handlers use, with two implementations: SQLite (embedded, the default)
 * and PostgreSQL (several processes, one database). SQLite answers synchronously underneath.
 */

export interface AccountRecord {
  id: string
  name: string
  /** Tokens per UTC day across all the account's keys; null: no budget. */
  daily_token_limit: number | null
  created_at: string
}

/** What an operator or owner may change on an account; an absent field stays as it is. */
export interface AccountChanges {
  name?: string
  dailyTokenLimit?: number | null
}

/** A key as stored: never the full key, only its hash (not exposed) and its prefix. */
export interface KeyRecord {
  id: string
  account_id: string
  name: string
  prefix: string
  is_primary: boolean
  allowed_domains: string[]
  /** Requests per rolling minute; null follows the server's RATE_LIMIT_RPM. */
  rate_limit_rpm: number | null
  /**
   * Requests per rolling minute from one visitor; null follows the server's VISITOR_RPM for a key with
   * allowed domains (a widget's key) and means none for a key without (a server's key); 0 means none.
   */
  visitor_rpm: number | null
  /** Tokens per UTC day; null: no budget. */
  daily_token_limit: number | null
  /** False: a client's system (or developer) messages are refused, so the owner's instructions are the only system text. */
  allow_system_messages: boolean
  instructions: string | null
  created_at: string
  last_used_at: string | null
  revoked_at: string | null
}

export interface NewKey {
  accountId: string
  name: string
  hash: string
  prefix: string
  allowedDomains: string[]
  rateLimitRpm: number | null
  visitorRpm: number | null
  dailyTokenLimit: number | null
  allowSystemMessages: boolean
  instructions: string | null
}

/** Usage added up for one key on one UTC day. */
export interface UsageRow {
  key_id: string
  day: string
  requests: number
  prompt_tokens: number
  completion_tokens: number
}

/**
 * Why the API refused a request with a key of the account: 403, 429 (the key's limit, one visitor's,
 * the daily token budget, too many streams at once), or 401 for a revoked key.
 */
export type RefusalReason =
  | 'origin_not_allowed'
  | 'rate_limited'
  | 'key_revoked'
  | 'visitor_rate_limited'
  | 'daily_token_limit'
  | 'too_many_streams'

/** Refusals added up for one key, one UTC day and one reason. */
export interface RefusalRow {
  key_id: string
  day: string
  reason: RefusalReason
  count: number
}

/** Where a key was used from: one Origin ('' for none), allowed or refused, how often and when last. */
export interface OriginRow {
  key_id: string
  origin: string
  allowed: boolean
  requests: number
  last_seen_at: string
}

/** What an owner may change on a key after creation; an absent field stays as it is. */
export interface KeyChanges {
  name?: string
  allowedDomains?: string[]
  rateLimitRpm?: number | null
  visitorRpm?: number | null
  dailyTokenLimit?: number | null
  allowSystemMessages?: boolean
  instructions?: string | null
}

/** A person who signs in to the dashboard for one account. */
export interface OwnerRecord {
  id: string
  account_id: string
  /** Trimmed and lower case; unique across all accounts. */
  email: string
  /** scrypt, as passwords.ts writes it; null until the owner follows their set-password link. */
  password_hash: string | null
  created_at: string
}

/** A signed-in browser. Looked up by the SHA-256 hash of its cookie's token; the token is never stored. */
export interface SessionRecord {
  owner_id: string
  created_at: string
  last_seen_at: string
}

/** Why a key or owner could not be created or changed; the management layer turns these into HTTP errors. */
export class StoreConflict extends Error {
  override name = 'StoreConflict'
  constructor(readonly reason: 'key_limit_reached' | 'key_revoked' | 'email_taken') {
    super(reason)
  }
}

/**
 * The database cannot be reached, or did not answer in time. Clients get a 503 `store_unavailable`
 * (errors.ts); the message names the cause for logs and the CLI, never the password.
 */
export class StoreUnavailable extends Error {
  override name = 'StoreUnavailable'
}

export interface Store {
  createAccount(id: string, name: string): Promise<AccountRecord>
  getAccount(id: string): Promise<AccountRecord | undefined>
  /**
   * The chat path's read of an account's daily token budget (null: none, or no such account). The
   * PostgreSQL store answers from memory for up to a second: a change made through the same store
   * applies at once, one made through another (another server, the CLI) within a second.
   */
  accountTokenLimit(id: string): Promise<number | null>
  /** Changes an account; undefined for an unknown id. */
  updateAccount(id: string, changes: AccountChanges): Promise<AccountRecord | undefined>
  /** Every account, oldest first. */
  listAccounts(): Promise<AccountRecord[]>
  /**
   * Inserts an active key atomically with the limit check: throws StoreConflict('key_limit_reached')
   * when the account already has `maxActive` active keys. The key becomes primary when the account
   * has none.
   */
  createKey(id: string, key: NewKey, maxActive: number): Promise<KeyRecord>
  listKeys(accountId: string): Promise<KeyRecord[]>
  getKey(id: string): Promise<KeyRecord | undefined>
  /** Changes an active key; throws StoreConflict('key_revoked') for a revoked one; undefined for an unknown id. */
  updateKey(id: string, changes: KeyChanges): Promise<KeyRecord | undefined>
  /** The hot path: one indexed lookup by SHA-256 hash, revoked keys included. */
  findKeyByHash(hash: string): Promise<KeyRecord | undefined>
  /** Revokes (idempotently) and drops the primary flag; undefined for an unknown id. */
  revokeKey(id: string): Promise<KeyRecord | undefined>
  /** Makes an active key the account's only primary; throws StoreConflict('key_revoked') for a revoked one. */
  setPrimaryKey(id: string): Promise<KeyRecord | undefined>
  /** Adds usage deltas and moves last_used_at forward, in one transaction. */
  addUsage(rows: UsageRow[], lastUsed: ReadonlyMap<string, string>): Promise<void>
  usage(accountId: string): Promise<UsageRow[]>
  /**
   * Adds refusal counts and origin sightings in one transaction. A key keeps its `maxOriginsPerKey`
   * most recently seen origins: a new one replaces the least recently seen, so made-up Origins
   * cannot keep the real ones out.
   */
  addActivity(refusals: RefusalRow[], origins: OriginRow[], maxOriginsPerKey: number): Promise<void>
  /** The account's refusals (by day) and origins (most recently seen first). */
  activity(accountId: string): Promise<{ refusals: RefusalRow[]; origins: OriginRow[] }>
  /** Throws StoreConflict('email_taken') when another owner has the email. */
  createOwner(id: string, accountId: string, email: string): Promise<OwnerRecord>
  getOwner(id: string): Promise<OwnerRecord | undefined>
  findOwnerByEmail(email: string): Promise<OwnerRecord | undefined>
  listOwners(accountId: string): Promise<OwnerRecord[]>
  setOwnerPassword(ownerId: string, passwordHash: string): Promise<void>
  /** Stores a set-password link by the hash of its token, usable once until `expiresAt`. */
  createPasswordLink(tokenHash: string, ownerId: string, expiresAt: string): Promise<void>
  /** Marks the link used, atomically, and names its owner; undefined when unknown, used or expired at `now`. */
  usePasswordLink(tokenHash: string, now: string): Promise<string | undefined>
  /** Marks every unused link of the owner used at `now`, so none of them sets a password any more. */
  endPasswordLinks(ownerId: string, now: string): Promise<void>
  createSession(tokenHash: string, ownerId: string, now: string): Promise<void>
  findSession(tokenHash: string): Promise<SessionRecord | undefined>
  touchSession(tokenHash: string, now: string): Promise<void>
  endSession(tokenHash: string): Promise<void>
  /** Ends every session of the owner, but the one whose hash is `keep`. */
  endOwnerSessions(ownerId: string, keep?: string): Promise<void>
  /** The owner's sessions, most recently seen first, expired ones included (the caller knows the limits). */
  listSessions(ownerId: string): Promise<Array<SessionRecord & { token_hash: string }>>
  /** Removes the owner with their sessions and links, so they can no longer sign in; undefined for an unknown id. */
  removeOwner(ownerId: string): Promise<OwnerRecord | undefined>
  /**
   * Deletes the sessions last seen before `idleBefore` or signed in before `signedInBefore`, and the
   * set-password links used or expired at `now`: none of them can sign anyone in any more.
   */
  purgeExpired(now: string, idleBefore: string, signedInBefore: string): Promise<{ sessions: number; links: number }>
  /**
   * The server's own secret named `name`, shared by every process and kept across restarts: the one
   * stored, or else `candidate`, stored now. Two processes racing both get the one stored first.
   */
  serverSecret(name: string, candidate: string): Promise<string>
  /** Resolves when the store answers a trivial query (for /readyz); rejects when it cannot. */
  ping(): Promise<void>
  close(): Promise<void>
}
