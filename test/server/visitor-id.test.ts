import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createVisitorIds } from '../../server/visitor-id.ts'

const hmacId = (secret: string, keyId: string, visitor: string) =>
  createHmac('sha256', secret).update(`${keyId}\n${visitor}`).digest('base64url').slice(0, 22)

describe('createVisitorIds', () => {
  it('gives each key and visitor the HMAC id, the same however often and however many visitors came between', () => {
    const ids = createVisitorIds('a-secret-of-thirty-two-characters')
    const first = ids('key_1', '203.0.113.9')
    expect(first).toBe(hmacId('a-secret-of-thirty-two-characters', 'key_1', '203.0.113.9'))
    // More visitors than it remembers: the first one's id is worked out again, and is the same.
    for (let i = 0; i < 25_000; i++) ids('key_1', `10.0.${i >> 8}.${i & 255}`)
    expect(ids('key_1', '203.0.113.9')).toBe(first)
    expect(ids('key_2', '203.0.113.9')).toBe(hmacId('a-secret-of-thirty-two-characters', 'key_2', '203.0.113.9'))
    expect(createVisitorIds('another-secret-of-32-characters!')('key_1', '203.0.113.9')).not.toBe(first)
  })
})
