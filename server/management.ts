/**
 * Accounts, keys and owners: the one code path behind the admin API, the CLI and the dashboard.
 * Input arrives as untrusted JSON; every refusal is an HttpError naming the field (`param`). The
 * dashboard passes its owner's account as `scope`: a key of any other account is then unknown (404).
 */
import { emailTaken, invalidBody, keyLimitReached, keyRevoked, notFound } from './errors.ts'
import { generateKey, hashKey, keyPrefix, newId } from './keys.ts'
import { DomainEntryError, normalizeDomainEntry } from './origin.ts'
import {
  StoreConflict,
  type AccountRecord,
  type KeyChanges,
  type KeyRecord,
  type OriginRow,
  type OwnerRecord,
  type RefusalRow,
  type Store,
  type UsageRow,
} from './store/store.ts'
import { hashToken, newToken } from './tokens.ts'
import { visitorLimitOf } from './visitor-limit.ts'

const MAX_ACTIVE_KEYS = 10
const MAX_NAME_CHARS = 100
const MAX_DOMAINS = 100
const MAX_INSTRUCTIONS_CHARS = 4000
const MAX_RPM = 100_000
/** Budgets fit PostgreSQL's integer; a billion tokens a day is far beyond any one site's widget. */
const MAX_DAILY_TOKENS = 1_000_000_000
const KEY_FIELDS = [
  'name',
  'allowed_domains',
  'rate_limit_rpm',
  'visitor_rpm',
  'daily_token_limit',
  'allow_system_messages',
  'instructions',
]
const MAX_EMAIL_CHARS = 254
/** How long a set-password link works. */
export const LINK_TTL_MS = 24 * 60 * 60 * 1000

/**
 * A key record as the API shows it, never the hash: the effective rate limit, and the effective
 * visitor limit (0: none), each beside whether it follows the server's default.
 */
export type KeyView = Omit<KeyRecord, 'rate_limit_rpm' | 'visitor_rpm'> & {
  rate_limit_rpm: number
  visitor_rpm: number
  visitor_rpm_is_default: boolean
}

/** An owner as anyone is shown one: never the password hash. */
export interface OwnerView {
  id: string
  account_id: string
  email: string
  created_at: string
  password_set: boolean
}

/** A one-time set-password link's secret part, shown once; the front doors make a URL of it. */
export interface PasswordLink {
  owner: OwnerView
  token: string
  expires_at: string
}

/** One allowed-domain entry as the server would store it, or why it is refused. */
export type DomainCheck = { entry: string; stored: string } | { entry: string; error: string }

export interface Management {
  createAccount(input: unknown): Promise<AccountRecord>
  listAccounts(): Promise<AccountRecord[]>
  getAccount(accountId: string): Promise<AccountRecord>
  /** Changes an account's name or daily token budget (null: none). */
  updateAccount(accountId: string, input: unknown): Promise<AccountRecord>
  /** The new key's record plus `key`, the full key, which is never available again. */
  createKey(accountId: string, input: unknown): Promise<KeyView & { key: string }>
  listKeys(accountId: string): Promise<KeyView[]>
  /** Changes an active key's name, allowed domains, limits (null: the server's default, or none) or instructions. */
  updateKey(keyId: string, input: unknown, scope?: string): Promise<KeyView>
  revokeKey(keyId: string, scope?: string): Promise<KeyView>
  makePrimary(keyId: string, scope?: string): Promise<KeyView>
  usage(accountId: string): Promise<UsageRow[]>
  /** The account's refusals per key and day, and the origins each key was used from. */
  activity(accountId: string): Promise<{ refusals: RefusalRow[]; origins: OriginRow[] }>
  /** Each entry checked on its own by the rules keys are stored under. */
  checkDomains(input: unknown): DomainCheck[]
  /** A new owner of the account, with a link to set their password. */
  createOwner(accountId: string, input: unknown): Promise<PasswordLink>
  /** A fresh set-password link for an existing owner (a forgotten password); earlier links still expire as they would. */
  newPasswordLink(input: unknown): Promise<PasswordLink>
  listOwners(accountId: string): Promise<OwnerView[]>
  /** Removes an owner: their sessions end and their links stop working at once. */
  removeOwner(ownerId: string): Promise<OwnerView>
  /** A new account with its first owner, who has no password yet (sign-up, under SIGNUP=open). */
  createAccountWithOwner(input: unknown): Promise<OwnerRecord>
}

export const ownerView = (owner: OwnerRecord): OwnerView => ({
  id: owner.id,
  account_id: owner.account_id,
  email: owner.email,
  created_at: owner.created_at,
  password_set: owner.password_hash !== null,
})

export function createManagement(deps: {
  store: Store
  defaultRpm: number
  /** The server's VISITOR_RPM, which keys with allowed domains follow unless they set their own. */
  defaultVisitorRpm: number
  /** Called before usage is read, so figures still buffered in memory are included. */
  flushUsage?: () => Promise<void>
  /** The clock set-password links expire by (the dashboard's; tests move it on). */
  now?: () => number
}): Management {
  const { store, defaultRpm } = deps
  const view = (key: KeyRecord): KeyView => ({
    ...key,
    rate_limit_rpm: key.rate_limit_rpm ?? defaultRpm,
    visitor_rpm: visitorLimitOf(key, deps.defaultVisitorRpm),
    visitor_rpm_is_default: key.visitor_rpm === null,
  })

  const requireAccount = async (id: string) => {
    const account = await store.getAccount(id)
    if (!account) throw notFound('account')
    return account
  }
  const requireKey = (key: KeyRecord | undefined) => {
    if (!key) throw notFound('key')
    return view(key)
  }
  /** Throws 404 unless the key exists and, with a scope, belongs to that account. */
  const checkScope = async (keyId: string, scope: string | undefined) => {
    if (scope === undefined) return
    const key = await store.getKey(keyId)
    if (key?.account_id !== scope) throw notFound('key')
  }
  const issueLink = async (owner: OwnerRecord): Promise<PasswordLink> => {
    const token = newToken()
    const at = (deps.now ?? Date.now)()
    const expiresAt = new Date(at + LINK_TTL_MS).toISOString()
    // Only the newest link works: one sent earlier (perhaps to a mailbox no longer trusted) ends now.
    await store.endPasswordLinks(owner.id, new Date(at).toISOString())
    await store.createPasswordLink(hashToken(token), owner.id, expiresAt)
    return { owner: ownerView(owner), token, expires_at: expiresAt }
  }

  return {
    async createAccount(input) {
      const body = objectWith(input, ['name'])
      return store.createAccount(newId('acct'), nameFrom(body.name))
    },

    async listAccounts() {
      return store.listAccounts()
    },

    getAccount: requireAccount,

    async updateAccount(accountId, input) {
      const body = objectWith(input, ['name', 'daily_token_limit'])
      if (Object.keys(body).length === 0) throw invalidBody('body', 'Send at least one of name, daily_token_limit')
      const account = await store.updateAccount(accountId, {
        ...('name' in body && { name: nameFrom(body.name) }),
        ...('daily_token_limit' in body && { dailyTokenLimit: dailyTokensFrom(body.daily_token_limit) }),
      })
      if (!account) throw notFound('account')
      return account
    },

    async createKey(accountId, input) {
      await requireAccount(accountId)
      const body = objectWith(input, KEY_FIELDS)
      const key = generateKey()
      try {
        const record = await store.createKey(
          newId('key'),
          {
            accountId,
            name: nameFrom(body.name),
            hash: hashKey(key),
            prefix: keyPrefix(key),
            allowedDomains: domainsFrom(body.allowed_domains),
            rateLimitRpm: rpmFrom(body.rate_limit_rpm),
            visitorRpm: visitorRpmFrom(body.visitor_rpm),
            dailyTokenLimit: dailyTokensFrom(body.daily_token_limit),
            allowSystemMessages:
              body.allow_system_messages === undefined ? true : booleanFrom(body.allow_system_messages, 'allow_system_messages'),
            instructions: instructionsFrom(body.instructions),
          },
          MAX_ACTIVE_KEYS,
        )
        return { ...view(record), key }
      } catch (err) {
        if (err instanceof StoreConflict) throw keyLimitReached(MAX_ACTIVE_KEYS)
        throw err
      }
    },

    async listKeys(accountId) {
      await requireAccount(accountId)
      await deps.flushUsage?.()
      return (await store.listKeys(accountId)).map(view)
    },

    async updateKey(keyId, input, scope) {
      const body = objectWith(input, KEY_FIELDS)
      if (Object.keys(body).length === 0) throw invalidBody('body', `Send at least one of ${KEY_FIELDS.join(', ')}`)
      const changes: KeyChanges = {
        ...('name' in body && { name: nameFrom(body.name) }),
        ...('allowed_domains' in body && { allowedDomains: domainsFrom(body.allowed_domains) }),
        ...('rate_limit_rpm' in body && { rateLimitRpm: rpmFrom(body.rate_limit_rpm) }),
        ...('visitor_rpm' in body && { visitorRpm: visitorRpmFrom(body.visitor_rpm) }),
        ...('daily_token_limit' in body && { dailyTokenLimit: dailyTokensFrom(body.daily_token_limit) }),
        ...('allow_system_messages' in body && { allowSystemMessages: booleanFrom(body.allow_system_messages, 'allow_system_messages') }),
        ...('instructions' in body && { instructions: instructionsFrom(body.instructions) }),
      }
      await checkScope(keyId, scope)
      try {
        return requireKey(await store.updateKey(keyId, changes))
      } catch (err) {
        if (err instanceof StoreConflict) throw keyRevoked('changed')
        throw err
      }
    },

    async revokeKey(keyId, scope) {
      await checkScope(keyId, scope)
      return requireKey(await store.revokeKey(keyId))
    },

    async makePrimary(keyId, scope) {
      await checkScope(keyId, scope)
      try {
        return requireKey(await store.setPrimaryKey(keyId))
      } catch (err) {
        if (err instanceof StoreConflict) throw keyRevoked()
        throw err
      }
    },

    async usage(accountId) {
      await requireAccount(accountId)
      await deps.flushUsage?.()
      return store.usage(accountId)
    },

    async activity(accountId) {
      await requireAccount(accountId)
      await deps.flushUsage?.()
      return store.activity(accountId)
    },

    checkDomains(input) {
      const body = objectWith(input, ['allowed_domains'])
      const entries = body.allowed_domains
      if (!Array.isArray(entries) || entries.some((entry) => typeof entry !== 'string')) {
        throw invalidBody('allowed_domains', 'allowed_domains must be a list of domain names')
      }
      if (entries.length > MAX_DOMAINS) throw invalidBody('allowed_domains', `allowed_domains holds at most ${MAX_DOMAINS} entries`)
      return entries.map((entry: string) => {
        try {
          return { entry, stored: normalizeDomainEntry(entry) }
        } catch (err) {
          if (err instanceof DomainEntryError) return { entry, error: err.message }
          throw err
        }
      })
    },

    async createOwner(accountId, input) {
      await requireAccount(accountId)
      const body = objectWith(input, ['email'])
      try {
        return await issueLink(await store.createOwner(newId('owner'), accountId, emailFrom(body.email)))
      } catch (err) {
        if (err instanceof StoreConflict) throw emailTaken()
        throw err
      }
    },

    async newPasswordLink(input) {
      const body = objectWith(input, ['email'])
      const owner = await store.findOwnerByEmail(emailFrom(body.email))
      if (!owner) throw notFound('owner')
      return issueLink(owner)
    },

    async createAccountWithOwner(input) {
      const body = objectWith(input, ['account_name', 'email'])
      const name = nameFrom(body.account_name, 'account_name')
      const email = emailFrom(body.email)
      // Checked first, so a taken email leaves no empty account behind (a race may, harmlessly).
      if (await store.findOwnerByEmail(email)) throw emailTaken()
      const account = await store.createAccount(newId('acct'), name)
      try {
        return await store.createOwner(newId('owner'), account.id, email)
      } catch (err) {
        if (err instanceof StoreConflict) throw emailTaken()
        throw err
      }
    },

    async listOwners(accountId) {
      await requireAccount(accountId)
      return (await store.listOwners(accountId)).map(ownerView)
    },

    async removeOwner(ownerId) {
      const owner = await store.removeOwner(ownerId)
      if (!owner) throw notFound('owner')
      return ownerView(owner)
    },
  }
}

/** Trimmed, lower case; one @ with something on each side, no spaces or unseen characters. */
function emailFrom(value: unknown): string {
  const email = typeof value === 'string' ? value.trim().toLowerCase() : ''
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) || email.length > MAX_EMAIL_CHARS || UNSEEN.test(email)) {
    throw invalidBody('email', `email must be an address like owner@example.com, at most ${MAX_EMAIL_CHARS} characters`)
  }
  return email
}

/** The body as an object holding only the `allowed` fields. */
export function objectWith(input: unknown, allowed: string[]): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalidBody('body', 'The request body must be a JSON object')
  }
  for (const field of Object.keys(input)) {
    if (!allowed.includes(field)) throw invalidBody(field, `Unknown field '${field.slice(0, 40)}'; allowed: ${allowed.join(', ')}`)
  }
  return input as Record<string, unknown>
}

/**
 * Characters a listing would not show as they are: control characters and line or paragraph
 * separators forge lines in a terminal; format characters (Cf) include the bidirectional overrides,
 * isolates and marks that reorder the text around them and the invisible ones that hide inside a
 * name that looks like another: zero-width ones, the byte order mark, the soft hyphen, tag characters;
 * a lone surrogate is no character at all (a store would keep U+FFFD in its place).
 */
const UNSEEN = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u

function nameFrom(value: unknown, param = 'name'): string {
  const name = typeof value === 'string' ? value.trim() : ''
  if (!name || name.length > MAX_NAME_CHARS || UNSEEN.test(name)) {
    throw invalidBody(
      param,
      `${param} must be text of 1 to ${MAX_NAME_CHARS} characters without control, bidirectional or zero-width characters`,
    )
  }
  return name
}

function domainsFrom(value: unknown): string[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string')) {
    throw invalidBody('allowed_domains', 'allowed_domains must be a list of domain names')
  }
  if (value.length > MAX_DOMAINS) throw invalidBody('allowed_domains', `allowed_domains holds at most ${MAX_DOMAINS} entries`)
  try {
    return [...new Set(value.map((entry: string) => normalizeDomainEntry(entry)))]
  } catch (err) {
    if (err instanceof DomainEntryError) throw invalidBody('allowed_domains', err.message)
    throw err
  }
}

function rpmFrom(value: unknown): number | null {
  if (value === undefined || value === null) return null
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_RPM) {
    throw invalidBody('rate_limit_rpm', `rate_limit_rpm must be a whole number from 1 to ${MAX_RPM}`)
  }
  return value as number
}

/** null follows the server's VISITOR_RPM; 0 turns the visitor limit off for this key. */
function visitorRpmFrom(value: unknown): number | null {
  if (value === undefined || value === null) return null
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > MAX_RPM) {
    throw invalidBody('visitor_rpm', `visitor_rpm must be a whole number from 0 (no limit per visitor) to ${MAX_RPM}`)
  }
  return value as number
}

/** null: no budget. */
function dailyTokensFrom(value: unknown): number | null {
  if (value === undefined || value === null) return null
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_DAILY_TOKENS) {
    throw invalidBody('daily_token_limit', `daily_token_limit must be a whole number from 1 to ${MAX_DAILY_TOKENS}, or null for none`)
  }
  return value as number
}

function booleanFrom(value: unknown, param: string): boolean {
  if (typeof value !== 'boolean') throw invalidBody(param, `${param} must be true or false`)
  return value
}

/**
 * Control characters but tabs and line breaks, which shape a prompt: the others mean nothing to a model,
 * and PostgreSQL cannot store a NUL at all (the request failed with a 500 there).
 */
const CONTROL_IN_TEXT = /[^\P{Cc}\t\n\r]/u

function instructionsFrom(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null
  if (typeof value !== 'string' || value.length > MAX_INSTRUCTIONS_CHARS || CONTROL_IN_TEXT.test(value)) {
    throw invalidBody(
      'instructions',
      `instructions must be text of at most ${MAX_INSTRUCTIONS_CHARS} characters, without control characters other than tabs and line breaks`,
    )
  }
  return value
}
