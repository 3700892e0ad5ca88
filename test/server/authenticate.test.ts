/**
 * The authenticator on a real SQLite store: a key's origin policy follows its allowed domains when
 * they change under it (an owner re-scoping the key, or an operator in SQL), on the next request.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, expect, it } from 'vitest'
import { createAuthenticator } from '../../server/authenticate.ts'
import { generateKey, hashKey, keyPrefix } from '../../server/keys.ts'
import { openSqliteStore } from '../../server/store/sqlite.ts'

const dir = mkdtempSync(join(tmpdir(), 'assisters-auth-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

it("follows a key's allowed domains when they change, on the next request", async () => {
  const path = join(dir, 'auth.db')
  const store = openSqliteStore(path)
  const key = generateKey()
  await store.createAccount('acct_1', 'A')
  await store.createKey(
    'key_1',
    {
      accountId: 'acct_1',
      name: 'k',
      hash: hashKey(key),
      prefix: keyPrefix(key),
      allowedDomains: ['a.example.com'],
      rateLimitRpm: null,
      visitorRpm: null,
      dailyTokenLimit: null,
      allowSystemMessages: true,
      instructions: null,
    },
    10,
  )
  const authenticate = createAuthenticator(store)
  const allows = async (origin: string) => (await authenticate([`Bearer ${key}`])).origins.allows([origin])

  expect(await allows('https://a.example.com')).toBe(true)
  expect(await allows('https://b.example.com')).toBe(false)
  const raw = new Database(path)
  raw.prepare(`UPDATE keys SET allowed_domains = '["b.example.com"]' WHERE id = 'key_1'`).run()
  raw.close()
  expect(await allows('https://a.example.com')).toBe(false)
  expect(await allows('https://b.example.com')).toBe(true)
  await store.close()
})
