/**
 * Checks 1 and 2 of the contract: a single `Authorization: Bearer ask_…` header whose key is well
 * formed, exists and is not revoked. The store is asked on every request, so a revocation takes
 * effect on the very next one (PostgreSQL's store answers from a cache it is told to empty); the
 * key's origin policy is compiled once and kept until its allowed domains change.
 */
import { invalidApiKey } from './errors.ts'
import { hashKey, isWellFormedKey } from './keys.ts'
import { compileOriginPolicy, type OriginPolicy } from './origin.ts'
import type { KeyRecord, Store } from './store/store.ts'

export interface AuthenticatedKey {
  record: KeyRecord
  origins: OriginPolicy
}

// The auth scheme is case-insensitive (RFC 9110 §11.1); the token itself is not.
const BEARER = /^bearer +(\S+)$/i

/** The token of a single `Authorization: Bearer <token>` header; undefined for none, several or another scheme. */
export const bearerToken = (authorization: readonly string[] | undefined) =>
  authorization?.length === 1 ? BEARER.exec(authorization[0]!)?.[1] : undefined

/**
 * Returns a function from the request's Authorization header lines to the key, or a thrown 401.
 * `onRevoked` hears of each request with a revoked key (its owner's dashboard counts them).
 */
export function createAuthenticator(store: Store, onRevoked: (keyId: string) => void = () => {}) {
  // Compiled once per key and kept while its allowed domains stay the same (an owner may change them).
  const policies = new Map<string, { domains: string[]; origins: OriginPolicy }>()

  return async function authenticate(authorization: readonly string[] | undefined): Promise<AuthenticatedKey> {
    // Node keeps only the first of repeated Authorization headers; headersDistinct shows them all.
    const key = bearerToken(authorization)
    if (!key || !isWellFormedKey(key)) throw invalidApiKey()
    const record = await store.findKeyByHash(hashKey(key))
    if (!record) throw invalidApiKey()
    if (record.revoked_at) {
      onRevoked(record.id)
      throw invalidApiKey()
    }

    let compiled = policies.get(record.id)
    if (!compiled || !sameEntries(compiled.domains, record.allowed_domains)) {
      compiled = { domains: record.allowed_domains, origins: compileOriginPolicy(record.allowed_domains) }
      policies.set(record.id, compiled)
    }
    return { record, origins: compiled.origins }
  }
}

const sameEntries = (a: string[], b: string[]) => a === b || (a.length === b.length && a.every((entry, i) => entry === b[i]))
