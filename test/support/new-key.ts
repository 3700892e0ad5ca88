/** A key as the store receives it (NewKey): a fresh real key's hash and prefix, no domains or limit. */
import { generateKey, hashKey, keyPrefix } from '../../server/keys.ts'
import type { NewKey } from '../../server/store/store.ts'

let serial = 0

/** The stored fields of a new key on `accountId`, with `fields` on top (a given full key's hash and prefix, say). */
export function newKey(accountId: string, fields: Partial<NewKey> = {}): NewKey {
  const key = generateKey()
  return {
    accountId,
    name: `key ${++serial}`,
    hash: hashKey(key),
    prefix: keyPrefix(key),
    allowedDomains: [],
    rateLimitRpm: null,
    visitorRpm: null,
    dailyTokenLimit: null,
    allowSystemMessages: true,
    instructions: null,
    ...fields,
  }
}
