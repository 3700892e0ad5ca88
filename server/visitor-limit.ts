/**
 * The per-visitor limit on a key (issue 16): one visitor's requests per rolling minute, so one script
 * cannot spend a public key's whole limit. It lives in the key's limiter (memory or Redis, exact
 * like the key's own), in a window of the key and the visitor.
 */
import type { KeyRecord } from './store/store.ts'

/**
 * Requests per minute one visitor may make with the key; 0: no such limit. The key's own visitor_rpm
 * when set (0 included); otherwise VISITOR_RPM for a key with allowed domains, a widget's key in
 * visitors' browsers, and none for a key without, a server's key whose requests all come from one
 * address.
 */
export const visitorLimitOf = (key: KeyRecord, serverDefault: number) =>
  key.visitor_rpm ?? (key.allowed_domains.length > 0 ? serverDefault : 0)

/** The limiter id of one visitor's window on one key, apart from the key's own (which is its bare id). */
export const visitorWindow = (keyId: string, visitor: string) => `${keyId}:visitor:${visitor}`
