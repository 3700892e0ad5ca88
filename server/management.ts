/**
 * Accounts and keys: the one code path behind both the admin API and the CLI. Input arrives as
 * untrusted JSON; every refusal is an HttpError naming the field (`param`).
 */
import { invalidBody, keyLimitReached, keyRevoked, notFound } from './errors.ts'
import { generateKey, hashKey, keyPrefix, newId } from './keys.ts'
import { DomainEntryError, normalizeDomainEntry } from './origin.ts'
import { StoreConflict, type AccountRecord, type KeyRecord, type Store, type UsageRow } from './store/store.ts'

const MAX_ACTIVE_KEYS = 10
const MAX_NAME_CHARS = 100
const MAX_DOMAINS = 100
const MAX_INSTRUCTIONS_CHARS = 4000
const MAX_RPM = 100_000

/** A key record as the API shows it: the effective rate limit, never the hash. */
export type KeyView = Omit<KeyRecord, 'rate_limit_rpm'> & { rate_limit_rpm: number }

export interface Management {
  createAccount(input: unknown): Promise<AccountRecord>
  /** The new key's record plus `key`, the full key, which is never available again. */
  createKey(accountId: string, input: unknown): Promise<KeyView & { key: string }>
  listKeys(accountId: string): Promise<KeyView[]>
  revokeKey(keyId: string): Promise<KeyView>
  makePrimary(keyId: string): Promise<KeyView>
  usage(accountId: string): Promise<UsageRow[]>
}

export function createManagement(deps: {
  store: Store
  defaultRpm: number
  /** Called before usage is read, so figures still buffered in memory are included. */
  flushUsage?: () => Promise<void>
}): Management {
  const { store, defaultRpm } = deps
  const view = (key: KeyRecord): KeyView => ({ ...key, rate_limit_rpm: key.rate_limit_rpm ?? defaultRpm })

  const requireAccount = async (id: string) => {
    const account = await store.getAccount(id)
    if (!account) throw notFound('account')
    return account
  }
  const requireKey = (key: KeyRecord | undefined) => {
    if (!key) throw notFound('key')
    return view(key)
  }

  return {
    async createAccount(input) {
      const body = objectWith(input, ['name'])
      return store.createAccount(newId('acct'), nameFrom(body.name))
    },

    async createKey(accountId, input) {
      await requireAccount(accountId)
      const body = objectWith(input, ['name', 'allowed_domains', 'rate_limit_rpm', 'instructions'])
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

    async revokeKey(keyId) {
      return requireKey(await store.revokeKey(keyId))
    },

    async makePrimary(keyId) {
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
  }
}

/** The body as an object holding only the `allowed` fields. */
function objectWith(input: unknown, allowed: string[]): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalidBody('body', 'The request body must be a JSON object')
  }
  for (const field of Object.keys(input)) {
    if (!allowed.includes(field)) throw invalidBody(field, `Unknown field '${field.slice(0, 40)}'; allowed: ${allowed.join(', ')}`)
  }
  return input as Record<string, unknown>
}

/**
 * Characters a listing would not show as they are: control characters forge lines in a terminal,
 * bidirectional overrides and isolates reorder the text around them, zero-width ones (and the byte
 * order mark) hide inside a name that looks like another.
 */
const UNSEEN = /[\p{Cc}\u061C\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/u

function nameFrom(value: unknown): string {
  const name = typeof value === 'string' ? value.trim() : ''
  if (!name || name.length > MAX_NAME_CHARS || UNSEEN.test(name)) {
    throw invalidBody(
      'name',
      `name must be text of 1 to ${MAX_NAME_CHARS} characters without control, bidirectional or zero-width characters`,
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

function instructionsFrom(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null
  if (typeof value !== 'string' || value.length > MAX_INSTRUCTIONS_CHARS) {
    throw invalidBody('instructions', `instructions must be text of at most ${MAX_INSTRUCTIONS_CHARS} characters`)
  }
  return value
}
