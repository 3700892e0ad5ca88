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

/** Ids past this many remembered start again from none: a flood of addresses must not grow memory without bound. */
const MAX_REMEMBERED = 10_000

export function createVisitorIds(secret: string): VisitorIds {
  // A visitor asks again and again: the id is worked out once (an HMAC costs more than the rest of the check).
  const remembered = new Map<string, string>()
  return (keyId, visitor) => {
    const input = `${keyId}\n${visitor}`
    let id = remembered.get(input)
    if (id === undefined) {
      // 128 bits of the digest, base64url: far past any collision among one provider's users.
      id = createHmac('sha256', secret).update(input).digest('base64url').slice(0, 22)
      if (remembered.size >= MAX_REMEMBERED) remembered.clear()
      remembered.set(input, id)
    }
    return id
  }
}
