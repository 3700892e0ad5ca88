/**
 * The admin API and the key rules (CONTRACT sections 4 and 5) through HTTP, against the real server
 * and its SQLite file: accounts, keys shown once and stored hashed, normalised allowed domains,
 * the 10-key limit, the primary key, usage, and data that survives a restart.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { http, HttpResponse } from 'msw'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { hashKey, isWellFormedKey } from '../../server/keys.ts'
import {
  ADMIN_TOKEN,
  MODEL,
  UPSTREAM_URL,
  completion,
  createUpstreamMock,
  deltaChunk,
  sseEvents,
  startServer,
  TEST_STORE,
  usageChunk,
  type TestServer,
} from './harness.ts'
import { sleep } from '../support/sleep.ts'

const upstream = createUpstreamMock()
let server: TestServer

/** Answers JSON requests with 5 + 7 tokens and streams with 3 + 4. */
const upstreamWithUsage = http.post(UPSTREAM_URL, async ({ request }) => {
  const body = (await request.json()) as { stream?: boolean }
  if (body.stream) {
    return new HttpResponse(sseEvents([deltaChunk('Hi'), usageChunk(3, 4)]), { headers: { 'content-type': 'text/event-stream' } })
  }
  return HttpResponse.json(completion('Hi', { prompt_tokens: 5, completion_tokens: 7 }))
})

beforeAll(async () => {
  upstream.listen()
  server = await startServer()
})
beforeEach(() => upstream.mock.use(upstreamWithUsage))
afterEach(() => upstream.mock.resetHandlers())
afterAll(async () => {
  await server?.close()
  upstream.mock.close()
})

const createAccount = async (name = 'Acme') => {
  const created = await server.admin('POST', '/admin/accounts', { name })
  expect(created.status).toBe(201)
  return created.body.id as string
}

const listKeys = async (accountId: string) => {
  const listed = await server.admin('GET', `/admin/accounts/${accountId}/keys`)
  expect(listed.status).toBe(200)
  return listed.body.data as any[]
}

/** An admin request with a body sent exactly as given. */
const adminRaw = async (path: string, body: string, contentType = 'application/json') => {
  const response = await fetch(server.url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': contentType },
    body,
  })
  return { status: response.status, body: await response.json() }
}

describe('access to the admin API', () => {
  it('does not exist without ADMIN_TOKEN', async () => {
    const bare = await startServer({ ADMIN_TOKEN: '' })
    try {
      for (const [method, path] of [
        ['POST', '/admin/accounts'],
        ['GET', '/admin/accounts/acct_x/keys'],
        ['POST', '/admin/keys/key_x/revoke'],
      ] as const) {
        const response = await bare.admin(method, path, method === 'POST' ? { name: 'x' } : undefined)
        expect(response.status).toBe(404)
        expect(response.body.error.code).toBe('not_found')
      }
    } finally {
      await bare.close()
    }
  })

  it.each<[string, Record<string, string>]>([
    ['no token', {}],
    ['a wrong token', { authorization: 'Bearer wrong-token-0123456789' }],
    ['the token without Bearer', { authorization: ADMIN_TOKEN }],
    ['the token with a suffix', { authorization: `Bearer ${ADMIN_TOKEN}x` }],
    ['a prefix of the token', { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` }],
  ])('answers 401 to %s', async (_name, headers) => {
    const response = await fetch(server.url + '/admin/accounts', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ name: 'Intruder' }),
    })
    expect(response.status).toBe(401)
    expect((await response.json()).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key' })
  })

  it('throttles wrong tokens per client address: the 11th in a minute gets 429 with Retry-After, even with the right token', async () => {
    const guarded = await startServer()
    try {
      /** An admin call from a given loopback address (all of 127.0.0.0/8 reaches the server). */
      const call = (token: string, localAddress: string) =>
        new Promise<{ status: number; retryAfter?: string; body: any }>((resolve, reject) => {
          const req = request(
            `${guarded.url}/admin/accounts`,
            {
              method: 'POST',
              localAddress,
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', connection: 'close' },
            },
            (res) => {
              let text = ''
              res.on('data', (chunk) => (text += chunk))
              res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'], body: JSON.parse(text) }))
            },
          )
          req.on('error', reject)
          req.end(JSON.stringify({ name: 'Throttled' }))
        })
      for (let attempt = 1; attempt <= 10; attempt++) expect((await call('wrong-token-0123456789', '127.0.0.1')).status).toBe(401)
      for (const token of ['wrong-token-0123456789', ADMIN_TOKEN]) {
        const refused = await call(token, '127.0.0.1')
        expect(refused.status).toBe(429)
        expect(refused.body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' })
        expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1)
        expect(Number(refused.retryAfter)).toBeLessThanOrEqual(60)
      }
      // Another address is not held back by the first one's guesses.
      expect((await call(ADMIN_TOKEN, '127.0.0.2')).status).toBe(201)
    } finally {
      await guarded.close()
    }
  })

  it.each([
    ['counts two clients behind a trusted proxy apart', { TRUST_PROXY: '127.0.0.1' }, 201],
    ['ignores a spoofed X-Forwarded-For without TRUST_PROXY', {}, 429],
  ])('%s', async (_case, env, secondClient) => {
    const guarded = await startServer(env)
    try {
      const call = (token: string, forwardedFor: string) =>
        fetch(`${guarded.url}/admin/accounts`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
          body: JSON.stringify({ name: 'Behind a proxy' }),
        })
      for (let attempt = 1; attempt <= 10; attempt++) expect((await call('wrong-token-0123456789', '203.0.113.9')).status).toBe(401)
      expect((await call(ADMIN_TOKEN, '203.0.113.9')).status).toBe(429)
      expect((await call(ADMIN_TOKEN, '198.51.100.7')).status).toBe(secondClient)
    } finally {
      await guarded.close()
    }
  })

  it('accepts the Bearer scheme in any case, as the public API does', async () => {
    const response = await fetch(server.url + '/admin/accounts', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ name: 'Lower case' }),
    })
    expect(response.status).toBe(201)
  })
})

describe('accounts', () => {
  it('creates an account: 201 with id, name and created_at', async () => {
    const before = Date.now()
    const response = await server.admin('POST', '/admin/accounts', { name: '  Acme Inc.  ' })
    expect(response.status).toBe(201)
    expect(Object.keys(response.body).sort()).toEqual(['created_at', 'daily_token_limit', 'id', 'name'])
    expect(response.body.name).toBe('Acme Inc.')
    expect(response.body.id).toMatch(/^acct_\w+$/)
    expect(Date.parse(response.body.created_at)).toBeGreaterThanOrEqual(before - 1000)
    // The account exists: its key list answers.
    expect(await listKeys(response.body.id)).toEqual([])
  })

  it('gives each account its own id', async () => {
    expect(await createAccount()).not.toBe(await createAccount())
  })

  it.each<[string, string, string]>([
    ['a missing name', '{}', 'name'],
    ['an empty name', '{"name":""}', 'name'],
    ['a blank name', '{"name":"   "}', 'name'],
    ['a name that is not text', '{"name":5}', 'name'],
    ['a name over 100 characters', JSON.stringify({ name: 'n'.repeat(101) }), 'name'],
    ['a name with a line break', JSON.stringify({ name: 'a\nb' }), 'name'],
    // A listing must show a name as it is: no reordering, nothing hidden inside it.
    ['a name with a right-to-left override', JSON.stringify({ name: 'Acme\u202Egnp.exe' }), 'name'],
    ['a name with a left-to-right isolate', JSON.stringify({ name: '\u2066Acme' }), 'name'],
    ['a name with a right-to-left mark', JSON.stringify({ name: 'Acme\u200F' }), 'name'],
    ['a name with a zero-width space', JSON.stringify({ name: 'Ac\u200Bme' }), 'name'],
    ['a name with a zero-width joiner', JSON.stringify({ name: 'Ac\u200Dme' }), 'name'],
    ['a name with a byte order mark inside it', JSON.stringify({ name: 'Ac\uFEFFme' }), 'name'],
    ['a name with a soft hyphen', JSON.stringify({ name: 'Ac\u00ADme' }), 'name'],
    ['a name with a tag character', JSON.stringify({ name: 'Acme\u{E0041}' }), 'name'],
    ['a name with a line separator', JSON.stringify({ name: 'Acme\u2028Other' }), 'name'],
    ['a name with a lone surrogate', '{"name":"Ac\\ud800me"}', 'name'],
    ['an unknown field', '{"name":"Acme","plan":"pro"}', 'plan'],
    ['a body that is a list', '["Acme"]', 'body'],
    ['a body that is a string', '"Acme"', 'body'],
    ['a body that is null', 'null', 'body'],
    ['invalid JSON', '{"name":', 'body'],
  ])('refuses %s with 400 naming the param', async (_name, body, param) => {
    const response = await adminRaw('/admin/accounts', body)
    expect(response.status).toBe(400)
    expect(response.body.error).toMatchObject({ type: 'invalid_request_error', param })
    expect(response.body.error.message).toEqual(expect.any(String))
  })

  it('refuses a body that is not sent as JSON with 400 naming the param', async () => {
    const response = await adminRaw('/admin/accounts', '{"name":"Acme"}', 'text/plain')
    expect(response.status).toBe(400)
    expect(response.body.error).toMatchObject({ code: 'invalid_json', param: 'body' })
  })

  it('accepts names in any script, right-to-left ones included', async () => {
    for (const name of ['شركة المثال', 'חברה', 'Bücher & Co', '株式会社']) {
      const created = await server.admin('POST', '/admin/accounts', { name })
      expect(created.status).toBe(201)
      expect(created.body.name).toBe(name)
    }
  })

  it('refuses a key name with a bidirectional override, as it does an account name', async () => {
    const response = await server.admin('POST', `/admin/accounts/${await createAccount()}/keys`, { name: 'Site\u202Etset' })
    expect(response.status).toBe(400)
    expect(response.body.error).toMatchObject({ code: 'invalid_body', param: 'name' })
  })

  it('accepts a name of exactly 100 characters', async () => {
    expect((await server.admin('POST', '/admin/accounts', { name: 'n'.repeat(100) })).status).toBe(201)
  })

  it.each<[string, string, unknown]>([
    ['POST', '/admin/accounts/acct_unknown/keys', { name: 'k' }],
    ['GET', '/admin/accounts/acct_unknown/keys', undefined],
    ['GET', '/admin/accounts/acct_unknown/usage', undefined],
  ])('answers %s %s for an unknown account with 404', async (method, path, body) => {
    const response = await server.admin(method, path, body)
    expect(response.status).toBe(404)
    expect(response.body.error).toMatchObject({ type: 'invalid_request_error', code: 'not_found' })
  })
})

describe('keys: shown once, stored hashed', () => {
  it('returns the full key once at creation and only its prefix afterwards', async () => {
    const accountId = await createAccount()
    const created = await server.admin('POST', `/admin/accounts/${accountId}/keys`, { name: 'Website' })
    expect(created.status).toBe(201)
    const { key, ...record } = created.body
    expect(key).toMatch(/^ask_[0-9A-Za-z]{32,}$/)
    expect(key.length).toBeGreaterThanOrEqual(36)
    expect(isWellFormedKey(key)).toBe(true)
    expect(record).toMatchObject({
      account_id: accountId,
      name: 'Website',
      prefix: key.slice(0, 12),
      is_primary: true,
      allowed_domains: [],
      rate_limit_rpm: 60,
      instructions: null,
      last_used_at: null,
      revoked_at: null,
    })
    expect(record).not.toHaveProperty('hash')

    const listed = await server.admin('GET', `/admin/accounts/${accountId}/keys`)
    expect(listed.body.data).toEqual([record])
    const text = JSON.stringify(listed.body)
    expect(text).not.toContain(key)
    expect(text).not.toContain(key.slice(12))
    expect(text).not.toContain(hashKey(key))
    expect(text).not.toMatch(/"(key|hash)"/)
  })

  it('gives every key a different value and prefix', async () => {
    const accountId = await createAccount()
    const first = await server.createKey({}, accountId)
    const second = await server.createKey({}, accountId)
    expect(first.key).not.toBe(second.key)
    expect(first.record.prefix).not.toBe(second.record.prefix)
  })

  // On PostgreSQL, the store's contract suite checks the same of the stored row (store.test.ts).
  it.skipIf(TEST_STORE === 'postgres')('keeps only the SHA-256 and the prefix in the SQLite file, never the full key', async () => {
    const { key, id } = await server.createKey({ name: 'Secret keeper' })
    const db = new Database(join(server.dir, 'test.db'), { readonly: true, fileMustExist: true })
    try {
      const row = db.prepare('SELECT * FROM keys WHERE id = ?').get(id) as Record<string, unknown>
      expect(row.hash).toBe(hashKey(key))
      expect(row.hash).toMatch(/^[0-9a-f]{64}$/)
      expect(row.prefix).toBe(key.slice(0, 12))
      expect(JSON.stringify(row)).not.toContain(key.slice(12))
    } finally {
      db.close()
    }
    // Every byte on disk (the database, its write-ahead log and shared memory), not only the columns.
    const files = readdirSync(server.dir).filter((name) => name.startsWith('test.db'))
    expect(files).toContain('test.db')
    for (const name of files) {
      const bytes = readFileSync(join(server.dir, name))
      expect(bytes.includes(key), name).toBe(false)
      expect(bytes.includes(key.slice(12)), name).toBe(false)
    }
    expect(server.logs.join('\n')).not.toContain(key)
  })
})

describe('key fields', () => {
  let accountId: string
  beforeAll(async () => {
    accountId = await createAccount('Fields')
  })
  afterEach(async () => {
    // Keep the account under its 10-key limit: revoke whatever a test created.
    for (const key of await listKeys(accountId)) {
      if (!key.revoked_at) await server.admin('POST', `/admin/keys/${key.id}/revoke`)
    }
  })

  const createWith = (fields: Record<string, unknown>) =>
    server.admin('POST', `/admin/accounts/${accountId}/keys`, { name: 'k', ...fields })

  it.each<[unknown[], string[]]>([
    [['https://Example.COM/'], ['example.com']],
    [['  Example.com.  '], ['example.com']],
    [['http://localhost:8080'], ['localhost:8080']],
    [['https://example.com:443'], ['example.com']],
    [['example.com:443'], ['example.com:443']],
    [['*.Example.com'], ['*.example.com']],
    [['bücher.de'], ['xn--bcher-kva.de']],
    [
      ['127.0.0.1', '[::1]'],
      ['127.0.0.1', '[::1]'],
    ],
    [['a.com', 'A.com', 'https://a.com/'], ['a.com']],
    [[], []],
    // The longest host DNS allows: 253 characters, labels of 63.
    [
      [`https://${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com/`],
      [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`],
    ],
    // As many entries as a key may hold.
    [Array.from({ length: 100 }, (_, i) => `site${i}.example.com`), Array.from({ length: 100 }, (_, i) => `site${i}.example.com`)],
  ])('stores allowed_domains %j as %j', async (given, stored) => {
    const created = await createWith({ allowed_domains: given })
    expect(created.status).toBe(201)
    expect(created.body.allowed_domains).toEqual(stored)
    const listed = (await listKeys(accountId)).find((key) => key.id === created.body.id)
    expect(listed.allowed_domains).toEqual(stored)
  })

  it.each<[string, unknown, RegExp]>([
    ['a path', ['example.com/app'], /path/],
    ['a query', ['https://example.com/?q=1'], /query/],
    ['credentials', ['user:pw@example.com'], /credentials/],
    ['a bare *', ['*'], /wildcard/],
    ['a wildcard over .com', ['*.com'], /public suffix/],
    ['a wildcard over .co.uk', ['*.co.uk'], /public suffix/],
    ['a * inside a label', ['ex*ample.com'], /\*/],
    ['a * below the leftmost label', ['a.*.example.com'], /\*/],
    ['an empty entry', [''], /empty/],
    ['a blank entry', ['   '], /empty/],
    ['another scheme', ['ftp://example.com'], /scheme/],
    ['a good entry next to a bad one', ['example.com', '*.com'], /public suffix/],
    ['a string instead of a list', 'example.com', /list/],
    ['a list holding a number', [42], /list/],
    ['a host over 253 characters', [`${'a.'.repeat(127)}com`], /host longer than 253 characters/],
    ['a label over 63 characters', [`${'a'.repeat(64)}.com`], /label longer than 63 characters/],
    ['more than 100 entries', Array.from({ length: 101 }, (_, i) => `site${i}.example.com`), /at most 100 entries/],
  ])('refuses allowed_domains with %s: 400, param allowed_domains and the reason', async (_name, domains, reason) => {
    const before = (await listKeys(accountId)).length
    const response = await createWith({ allowed_domains: domains })
    expect(response.status).toBe(400)
    expect(response.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_body', param: 'allowed_domains' })
    expect(response.body.error.message).toMatch(reason)
    expect(await listKeys(accountId)).toHaveLength(before)
  })

  it.each([0, -1, 1.5, '10', 100_001, true, {}])('refuses rate_limit_rpm %j with 400', async (rpm) => {
    const response = await createWith({ rate_limit_rpm: rpm })
    expect(response.status).toBe(400)
    expect(response.body.error).toMatchObject({ code: 'invalid_body', param: 'rate_limit_rpm' })
  })

  it.each([1, 100_000])('accepts rate_limit_rpm %j and shows it', async (rpm) => {
    const response = await createWith({ rate_limit_rpm: rpm })
    expect(response.status).toBe(201)
    expect(response.body.rate_limit_rpm).toBe(rpm)
  })

  it('accepts instructions of 4000 characters and refuses 4001', async () => {
    const ok = await createWith({ instructions: 'i'.repeat(4000) })
    expect(ok.status).toBe(201)
    expect(ok.body.instructions).toBe('i'.repeat(4000))
    const tooLong = await createWith({ instructions: 'i'.repeat(4001) })
    expect(tooLong.status).toBe(400)
    expect(tooLong.body.error).toMatchObject({ code: 'invalid_body', param: 'instructions' })
    expect(tooLong.body.error.message).toContain('4000')
  })

  it('keeps tabs and line breaks in instructions and refuses other control characters, a NUL included, with 400', async () => {
    const text = 'Answer in English.\r\nBe brief:\n\t- one line'
    const ok = await createWith({ instructions: text })
    expect(ok.status).toBe(201)
    expect((await listKeys(accountId)).find((key) => key.id === ok.body.id).instructions).toBe(text)
    for (const bad of ['be nice\u0000', 'ring \u0007 the bell', 'next\u0085line']) {
      const before = (await listKeys(accountId)).length
      const response = await createWith({ instructions: bad })
      expect(response.status).toBe(400)
      expect(response.body.error).toMatchObject({ code: 'invalid_body', param: 'instructions' })
      expect(response.body.error.message).toContain('control characters')
      expect(await listKeys(accountId)).toHaveLength(before)
      const changed = await server.admin('PATCH', `/admin/keys/${ok.body.id}`, { instructions: bad })
      expect(changed.status).toBe(400)
      expect(changed.body.error.param).toBe('instructions')
    }
  })

  it('refuses instructions that are not text', async () => {
    const response = await createWith({ instructions: ['be nice'] })
    expect(response.status).toBe(400)
    expect(response.body.error.param).toBe('instructions')
  })

  it.each<[string, Record<string, unknown>, string]>([
    ['a missing name', { name: undefined }, 'name'],
    ['an empty name', { name: '' }, 'name'],
    ['a name over 100 characters', { name: 'n'.repeat(101) }, 'name'],
    ['an unknown field', { scopes: ['chat'] }, 'scopes'],
    ['a key value chosen by the caller', { key: 'ask_mine' }, 'key'],
  ])('refuses %s with 400 naming the param', async (_name, fields, param) => {
    const response = await createWith(fields)
    expect(response.status).toBe(400)
    expect(response.body.error.param).toBe(param)
  })

  it('refuses a key body that is not JSON with 400 naming the param', async () => {
    const response = await adminRaw(`/admin/accounts/${accountId}/keys`, '{name: k}')
    expect(response.status).toBe(400)
    expect(response.body.error).toMatchObject({ code: 'invalid_json', param: 'body' })
  })
})

describe('the 10-key limit', () => {
  it('refuses the 11th active key with 409 and accepts one again after a revocation', async () => {
    const accountId = await createAccount()
    const keys = []
    for (let i = 0; i < 10; i++) keys.push(await server.createKey({ name: `key ${i}` }, accountId))

    const eleventh = await server.admin('POST', `/admin/accounts/${accountId}/keys`, { name: 'one too many' })
    expect(eleventh.status).toBe(409)
    expect(eleventh.body.error).toMatchObject({ type: 'invalid_request_error', code: 'key_limit_reached' })
    expect(eleventh.body.error.message).toContain('10')
    expect(await listKeys(accountId)).toHaveLength(10)

    expect((await server.admin('POST', `/admin/keys/${keys[3]!.id}/revoke`)).status).toBe(200)
    const replacement = await server.admin('POST', `/admin/accounts/${accountId}/keys`, { name: 'replacement' })
    expect(replacement.status).toBe(201)
    // Revoked keys stay listed, but only active ones count.
    expect(await listKeys(accountId)).toHaveLength(11)
    expect((await server.admin('POST', `/admin/accounts/${accountId}/keys`, { name: 'again too many' })).status).toBe(409)
  })

  it('admits exactly 10 of 15 concurrent creations', async () => {
    const accountId = await createAccount()
    const statuses = await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        server.admin('POST', `/admin/accounts/${accountId}/keys`, { name: `k${i}` }).then((response) => response.status),
      ),
    )
    expect(statuses.filter((status) => status === 201)).toHaveLength(10)
    expect(statuses.filter((status) => status === 409)).toHaveLength(5)
    const listed = await listKeys(accountId)
    expect(listed).toHaveLength(10)
    expect(listed.filter((key) => key.is_primary)).toHaveLength(1)
  })

  it('counts keys per account', async () => {
    const full = await createAccount()
    for (let i = 0; i < 10; i++) await server.createKey({}, full)
    const other = await createAccount()
    expect((await server.admin('POST', `/admin/accounts/${other}/keys`, { name: 'first' })).status).toBe(201)
  })
})

describe('the primary key', () => {
  const primaries = async (accountId: string) => (await listKeys(accountId)).filter((key) => key.is_primary).map((key) => key.id)

  it('follows the contract through creation, moves and revocation', async () => {
    const accountId = await createAccount()
    const k1 = await server.createKey({ name: 'one' }, accountId)
    const k2 = await server.createKey({ name: 'two' }, accountId)
    const k3 = await server.createKey({ name: 'three' }, accountId)
    expect([k1.record.is_primary, k2.record.is_primary, k3.record.is_primary]).toEqual([true, false, false])
    expect(await primaries(accountId)).toEqual([k1.id])

    const moved = await server.admin('POST', `/admin/keys/${k2.id}/primary`)
    expect(moved.status).toBe(200)
    expect(moved.body).toMatchObject({ id: k2.id, is_primary: true, revoked_at: null })
    expect(moved.body).not.toHaveProperty('key')
    expect(await primaries(accountId)).toEqual([k2.id])

    // Making the primary key primary again changes nothing.
    expect((await server.admin('POST', `/admin/keys/${k2.id}/primary`)).status).toBe(200)
    expect(await primaries(accountId)).toEqual([k2.id])

    const revoked = await server.admin('POST', `/admin/keys/${k2.id}/revoke`)
    expect(revoked.status).toBe(200)
    expect(revoked.body).toMatchObject({ id: k2.id, is_primary: false })
    expect(Date.parse(revoked.body.revoked_at)).not.toBeNaN()
    expect(await primaries(accountId)).toEqual([])

    const k4 = await server.createKey({ name: 'four' }, accountId)
    expect(k4.record.is_primary).toBe(true)
    expect(await primaries(accountId)).toEqual([k4.id])
    const k5 = await server.createKey({ name: 'five' }, accountId)
    expect(k5.record.is_primary).toBe(false)

    const refused = await server.admin('POST', `/admin/keys/${k2.id}/primary`)
    expect(refused.status).toBe(409)
    expect(refused.body.error.type).toBe('invalid_request_error')
    expect(await primaries(accountId)).toEqual([k4.id])
  })

  it('keeps each account to its own primary', async () => {
    const a = await createAccount()
    const b = await createAccount()
    const a1 = await server.createKey({}, a)
    const b1 = await server.createKey({}, b)
    const a2 = await server.createKey({}, a)
    expect((await server.admin('POST', `/admin/keys/${a2.id}/primary`)).status).toBe(200)
    expect(await primaries(a)).toEqual([a2.id])
    expect(await primaries(b)).toEqual([b1.id])
    expect(a1.record.is_primary).toBe(true)
  })

  it('revokes idempotently, keeping the first revocation time', async () => {
    const { id } = await server.createKey()
    const first = await server.admin('POST', `/admin/keys/${id}/revoke`)
    await sleep(5)
    const second = await server.admin('POST', `/admin/keys/${id}/revoke`)
    expect(second.status).toBe(200)
    expect(second.body.revoked_at).toBe(first.body.revoked_at)
  })

  it.each(['revoke', 'primary'])('answers POST /admin/keys/:id/%s for an unknown key with 404', async (action) => {
    const response = await server.admin('POST', `/admin/keys/key_doesNotExist0000/${action}`)
    expect(response.status).toBe(404)
    expect(response.body.error).toMatchObject({ type: 'invalid_request_error', code: 'not_found' })
  })
})

describe('usage and last use', () => {
  it('records requests and tokens per key per day, and last_used_at', async () => {
    const accountId = await createAccount()
    const a = await server.createKey({ name: 'a' }, accountId)
    const b = await server.createKey({ name: 'b' }, accountId)
    const idle = await server.createKey({ name: 'idle' }, accountId)
    expect((await listKeys(accountId)).map((key) => key.last_used_at)).toEqual([null, null, null])

    const before = new Date().toISOString()
    for (let i = 0; i < 2; i++) {
      const response = await server.chat(a.key)
      expect(response.status).toBe(200)
      await response.json()
    }
    const streamed = await server.chat(b.key, { model: MODEL, stream: true, messages: [{ role: 'user', content: 'Hi' }] })
    expect(streamed.status).toBe(200)
    expect(await streamed.text()).toContain('data: [DONE]')
    const after = new Date().toISOString()

    const usage = await server.admin('GET', `/admin/accounts/${accountId}/usage`)
    expect(usage.status).toBe(200)
    const day = after.slice(0, 10)
    expect(usage.body.data).toEqual([
      { key_id: a.id, day, requests: 2, prompt_tokens: 10, completion_tokens: 14 },
      { key_id: b.id, day, requests: 1, prompt_tokens: 3, completion_tokens: 4 },
    ])

    const listed = await listKeys(accountId)
    for (const used of [a, b]) {
      const lastUsed = listed.find((key) => key.id === used.id).last_used_at
      expect(lastUsed >= before && lastUsed <= after, `${lastUsed} within ${before}..${after}`).toBe(true)
    }
    expect(listed.find((key) => key.id === idle.id).last_used_at).toBeNull()
  })

  it('keeps usage to the account it belongs to', async () => {
    const mine = await server.createKey()
    const theirs = await server.createKey()
    await (await server.chat(mine.key)).json()
    const usage = await server.admin('GET', `/admin/accounts/${theirs.accountId}/usage`)
    expect(usage.body.data).toEqual([])
  })
})

describe('the store across restarts', () => {
  it('keeps accounts, keys and usage when a new server opens the same file, without migrating again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'assisters-reopen-'))
    const env = { DATABASE_URL: `sqlite:${join(dir, 'nested', 'store.db')}` }
    let first: TestServer | undefined
    let second: TestServer | undefined
    try {
      first = await startServer(env)
      const created = await first.createKey({
        name: 'Durable',
        allowed_domains: ['example.com'],
        rate_limit_rpm: 7,
        instructions: 'Be brief.',
      })
      await (await first.chat(created.key, undefined, { origin: 'https://example.com' })).json()
      const keysBefore = (await first.admin('GET', `/admin/accounts/${created.accountId}/keys`)).body.data
      await first.close()
      first = undefined

      second = await startServer(env)
      const keysAfter = await second.admin('GET', `/admin/accounts/${created.accountId}/keys`)
      expect(keysAfter.status).toBe(200)
      expect(keysAfter.body.data).toEqual(keysBefore)
      expect(keysAfter.body.data[0]).toMatchObject({
        allowed_domains: ['example.com'],
        rate_limit_rpm: 7,
        instructions: 'Be brief.',
        is_primary: true,
      })
      expect(keysAfter.body.data[0].last_used_at).not.toBeNull()

      const usage = await second.admin('GET', `/admin/accounts/${created.accountId}/usage`)
      expect(usage.body.data).toEqual([
        expect.objectContaining({ key_id: created.id, requests: 1, prompt_tokens: 5, completion_tokens: 7 }),
      ])

      // The key still works after the restart, with its policy intact.
      expect((await second.chat(created.key, undefined, { origin: 'https://example.com' })).status).toBe(200)
      expect((await second.chat(created.key, undefined, { origin: 'https://evil.test' })).status).toBe(403)
      await second.close()
      second = undefined

      const db = new Database(join(dir, 'nested', 'store.db'), { readonly: true })
      try {
        const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: number }>
        expect(versions.map((row) => row.version)).toEqual(versions.map((_, index) => index + 1))
        expect(versions.length).toBeGreaterThanOrEqual(1)
        const usageRows = db.prepare('SELECT requests FROM usage').all() as Array<{ requests: number }>
        expect(usageRows).toEqual([{ requests: 2 }])
      } finally {
        db.close()
      }
    } finally {
      await first?.close()
      await second?.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
