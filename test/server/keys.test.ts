import { createHash } from 'node:crypto'
import { crc32 } from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { generateKey, hashKey, isWellFormedKey, keyPrefix, newId, randomBase62 } from '../../server/keys.ts'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const base62Char = fc.constantFrom(...BASE62)

/** The checksum as CONTRACT section 4 describes it, written independently: base62 CRC32, 6 chars. */
function referenceChecksum(body: string): string {
  let value = crc32(body)
  let out = ''
  do {
    out = BASE62[value % 62] + out
    value = Math.floor(value / 62)
  } while (value > 0)
  return out.padStart(6, '0')
}

/** Chi-square statistic of character counts against a uniform spread over the 62 characters. */
function chiSquare(text: string): number {
  const counts = new Map<string, number>()
  for (const char of text) counts.set(char, (counts.get(char) ?? 0) + 1)
  const expected = text.length / 62
  let sum = 0
  for (const char of BASE62) sum += ((counts.get(char) ?? 0) - expected) ** 2 / expected
  return sum
}

describe('generateKey', () => {
  it('makes ask_ followed by 42 base62 characters, the last 6 a CRC32 of the other 36', () => {
    const key = generateKey()
    expect(key).toMatch(/^ask_[0-9A-Za-z]{42}$/)
    expect(key.slice(-6)).toBe(referenceChecksum(key.slice(4, -6)))
  })

  it('makes 1,000 distinct keys whose random characters are spread evenly', () => {
    const keys = Array.from({ length: 1000 }, generateKey)
    expect(new Set(keys).size).toBe(1000)
    // 36,000 characters over 62 values: chi-square has 61 degrees of freedom (mean 61, sd 11).
    // Above 150 has odds of about 2e-9 for a uniform source; a biased or stuck one lands in the thousands.
    const statistic = chiSquare(keys.map((key) => key.slice(4, -6)).join(''))
    expect(statistic).toBeLessThan(150)
    expect(statistic).toBeGreaterThan(10) // a source that cycles through the alphabet is too even
  })

  it('draws characters without modulo bias (a large sample stays uniform)', () => {
    // byte % 62 without rejection would favour the first 8 characters by 25% and score about 4,000 here.
    expect(chiSquare(randomBase62(620_000))).toBeLessThan(150)
  })
})

describe('isWellFormedKey', () => {
  it('accepts every generated key', () => {
    for (let i = 0; i < 200; i++) expect(isWellFormedKey(generateKey())).toBe(true)
  })

  it('refuses every single-character change anywhere in a real key', () => {
    const key = generateKey()
    let checked = 0
    for (let position = 0; position < key.length; position++) {
      for (const replacement of BASE62) {
        if (replacement === key[position]) continue
        const changed = key.slice(0, position) + replacement + key.slice(position + 1)
        if (isWellFormedKey(changed)) throw new Error(`accepted ${changed} (position ${position})`)
        checked++
      }
    }
    // 61 replacements at each of the 45 base62 positions (a, s, k and the body), 62 at the underscore.
    expect(checked).toBe(45 * 61 + 62)
  })

  it('refuses two neighbouring characters swapped', () => {
    const key = generateKey()
    for (let position = 4; position < key.length - 1; position++) {
      if (key[position] === key[position + 1]) continue
      const swapped = key.slice(0, position) + key[position + 1] + key[position] + key.slice(position + 2)
      expect(isWellFormedKey(swapped)).toBe(false)
    }
  })

  const real = generateKey()
  it.each([
    ['a wrong prefix', 'sk__' + real.slice(4)],
    ['an upper-case prefix', 'ASK_' + real.slice(4)],
    ['no prefix', real.slice(4)],
    ['a dash instead of the underscore', 'ask-' + real.slice(4)],
    ['the last character dropped', real.slice(0, -1)],
    ['the first body character dropped', 'ask_' + real.slice(5)],
    ['a character added', real + 'a'],
    ['too short to hold a checksum', 'ask_abc'],
    ['only the prefix', 'ask_'],
    ['empty', ''],
    ['a non-base62 character', real.slice(0, 10) + '-' + real.slice(11)],
    ['a non-ASCII letter', real.slice(0, 10) + 'é' + real.slice(11)],
    ['surrounding whitespace', ` ${real} `],
    ['a trailing newline', real + '\n'],
  ])('refuses a key with %s', (_name, text) => {
    expect(isWellFormedKey(text)).toBe(false)
  })

  it('accepts any base62 body whose last 6 characters are its CRC32 checksum, and no other suffix', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: base62Char, minLength: 26, maxLength: 80 }),
        fc.string({ unit: base62Char, minLength: 6, maxLength: 6 }),
        (body, suffix) => {
          const checksum = referenceChecksum(body)
          expect(isWellFormedKey(`ask_${body}${checksum}`)).toBe(true)
          expect(isWellFormedKey(`ask_${body}${suffix}`)).toBe(suffix === checksum)
        },
      ),
    )
  })

  it('carries, in every generated key, the checksum of its own body', () => {
    fc.assert(
      fc.property(fc.integer(), () => {
        const key = generateKey()
        expect(key.slice(-6)).toBe(referenceChecksum(key.slice(4, -6)))
      }),
      { numRuns: 200 },
    )
  })

  it('never throws and refuses anything not starting with ask_', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        const result = isWellFormedKey(text)
        if (!text.startsWith('ask_')) expect(result).toBe(false)
      }),
    )
  })
})

describe('hashKey and keyPrefix', () => {
  it('hashes with SHA-256 in lower-case hex', () => {
    expect(hashKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    const key = generateKey()
    expect(hashKey(key)).toMatch(/^[0-9a-f]{64}$/)
    expect(hashKey(key)).toBe(createHash('sha256').update(key).digest('hex'))
    expect(hashKey(key)).not.toBe(hashKey(generateKey()))
  })

  it('keeps the first 12 characters as the prefix: ask_ and 8 more', () => {
    const key = generateKey()
    expect(keyPrefix(key)).toHaveLength(12)
    expect(key.startsWith(keyPrefix(key))).toBe(true)
    expect(keyPrefix(key)).toMatch(/^ask_[0-9A-Za-z]{8}$/)
  })

  it.each([['acct'], ['key']] as const)('makes opaque %s ids that are not keys', (kind) => {
    const id = newId(kind)
    expect(id).toMatch(new RegExp(`^${kind}_[0-9A-Za-z]{16}$`))
    expect(newId(kind)).not.toBe(id)
    expect(isWellFormedKey(id)).toBe(false)
  })
})
