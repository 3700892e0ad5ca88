/**
 * The visitor as the upstream sees it: OpenAI-compatible APIs take a `user` field for abuse
 * attribution, and it carries the server's own pseudonymous id, never the browser's value. A keyed
 * hash (HMAC-SHA256) of the key and the visitor: the same visitor of the same key gets the same id on
 * every request and process, the provider can neither reverse it to an address nor link one visitor
 * across keys, and nobody without the secret can make up another visitor's id.
 */
import { createHmac } from 'node:crypto'

/** A key id and a visitor (visitorOf in client-address.ts) → the pseudonymous id. */
export type VisitorIds = (keyId: string, visitor: string) => string

export function createVisitorIds(secret: string): VisitorIds {
  // 128 bits of the digest, base64url: far past any collision among one provider's users.
  return (keyId, visitor) => createHmac('sha256', secret).update(`${keyId}\n${visitor}`).digest('base64url').slice(0, 22)
}
