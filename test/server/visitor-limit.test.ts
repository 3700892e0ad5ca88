/**
 * The per-visitor limit on a key (issue 16) through the real server and its in-memory limiter: exact
 * under concurrency for any mix of visitors (a property test), read through a trusted proxy's
 * X-Forwarded-For or Forwarded and never from a spoofed header, checked before the key's own limit so
 * a visitor's excess leaves the key's window alone, on by default only for keys with allowed domains.
 * The same across processes with Redis: visitor-limit-redis.test.ts.
 */
import { request } from 'node:http'
import fc from 'fast-check'
import { http, HttpResponse } from 'msw'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signedInOwner } from './dashboard-client.ts'
import { completion, createUpstreamMock, startServer, UPSTREAM_URL, type TestServer } from './harness.ts'

const ORIGIN = 'https://shop.example'
const VISITOR_RPM = 3

const upstream = createUpstreamMock()
/** Behind a proxy on loopback that the server trusts (TRUST_PROXY). */
let proxied: TestServer

beforeAll(async () => {
  upstream.listen()
  upstream.mock.use(http.post(UPSTREAM_URL, () => HttpResponse.json(completion('Hi'))))
  proxied = await startServer({ TRUST_PROXY: '127.0.0.1', VISITOR_RPM: String(VISITOR_RPM) })
})
afterAll(async () => {
  await proxied?.close()
  upstream.mock.close()
})

/** GET /v1/models (a route that runs the rate limits) with the key, from the shop's pages, with extra headers. */
const models = (server: TestServer, key: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${key}`, origin: ORIGIN, ...headers } })

const codeOf = async (response: Response) => (response.status === 200 ? 'ok' : ((await response.json()) as any).error.code)

/** The shop's key: allowed domains, so VISITOR_RPM applies; a key limit far above it unless given. */
const shopKey = (server: TestServer, fields: Record<string, unknown> = {}) =>
  server.createKey({ allowed_domains: ['shop.example'], rate_limit_rpm: 1000, ...fields })

/** The visitors of the property test: IPv4 clients, and IPv6 clients each holding a whole /64. */
const VISITORS = [
  { v4: '198.51.100.1' },
  { v4: '198.51.100.2' },
  { v4: '203.0.113.77' },
  { v6: '2001:db8:1:1' },
  { v6: '2001:db8:1:2' },
  { v6: '2001:db8:ffff:0' },
] as const

/** One request: which visitor, written how (any address of its /64, IPv4-mapped or not, either header), behind what spoofed entries. */
const requestArb = fc.record({
  visitor: fc.nat(VISITORS.length - 1),
  host: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 4, maxLength: 4 }),
  mapped: fc.boolean(),
  header: fc.constantFrom('x-forwarded-for', 'forwarded'),
  spoofed: fc.constantFrom('', '10.9.9.9, ', 'garbage, ', '198.51.100.1, '),
})

type OneRequest = typeof requestArb extends fc.Arbitrary<infer T> ? T : never

function headersFor({ visitor, host, mapped, header, spoofed }: OneRequest): Record<string, string> {
  const chosen = VISITORS[visitor]!
  const address =
    'v4' in chosen ? (mapped ? `::ffff:${chosen.v4}` : chosen.v4) : `${chosen.v6}:${host.map((h) => h.toString(16)).join(':')}`
  if (header === 'x-forwarded-for') return { 'x-forwarded-for': `${spoofed}${address}` }
  const node = address.includes(':') ? `"[${address}]:${host[0]}"` : address
  return { forwarded: `${spoofed ? 'for=198.51.100.1, ' : ''}for=${node};proto=https` }
}

describe('the per-visitor limit', () => {
  it('admits exactly VISITOR_RPM requests per visitor, however many arrive at once and however each writes its address', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(requestArb, { minLength: 12, maxLength: 60 }), async (requests) => {
        const { key } = await shopKey(proxied)
        const codes = await Promise.all(requests.map(async (one) => codeOf(await models(proxied, key, headersFor(one)))))
        for (const [index] of VISITORS.entries()) {
          const sent = requests.map((one, i) => [one.visitor, codes[i]] as const).filter(([visitor]) => visitor === index)
          const admitted = sent.filter(([, code]) => code === 'ok').length
          expect(admitted).toBe(Math.min(sent.length, VISITOR_RPM))
          expect(sent.filter(([, code]) => code === 'visitor_rate_limit_exceeded')).toHaveLength(sent.length - admitted)
        }
      }),
      { numRuns: 25, endOnFailure: true },
    )
  }, 60_000)

  it("refuses past the visitor's share with 429 visitor_rate_limit_exceeded and the window's headers, before the key's limit is spent", async () => {
    const { key } = await shopKey(proxied, { rate_limit_rpm: 10 })
    const from = (address: string) => models(proxied, key, { 'x-forwarded-for': address })
    for (let i = 0; i < VISITOR_RPM; i++) expect((await from('203.0.113.1')).status).toBe(200)
    for (let i = 0; i < 8; i++) {
      const refused = await from('203.0.113.1')
      expect(refused.status).toBe(429)
      expect(refused.headers.get('x-ratelimit-limit-requests')).toBe(String(VISITOR_RPM))
      expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0')
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60)
      expect(Number(refused.headers.get('retry-after-ms'))).toBeGreaterThan(0)
      const { error } = (await refused.json()) as any
      expect(error).toEqual({
        type: 'rate_limit_error',
        code: 'visitor_rate_limit_exceeded',
        message: `Rate limit reached: this key allows ${VISITOR_RPM} requests per minute from one visitor; try again in ${refused.headers.get('retry-after')} s`,
      })
    }
    // The eight refusals took nothing from the key's 10: other visitors get the rest, then the key's own 429.
    const second = await from('203.0.113.2')
    expect(second.headers.get('x-ratelimit-remaining-requests')).toBe(String(10 - VISITOR_RPM - 1))
    const codes = []
    for (const address of ['203.0.113.3', '203.0.113.4', '203.0.113.5']) {
      for (let i = 0; i < VISITOR_RPM; i++) codes.push(await codeOf(await from(address)))
    }
    expect(codes).toEqual([
      ...Array(10 - VISITOR_RPM - 1).fill('ok'),
      ...Array(codes.length - (10 - VISITOR_RPM - 1)).fill('rate_limit_exceeded'),
    ])
  })

  it('counts chat, /v1/models and /v1/models/{id} in one window per visitor, and never GET /v1/key', async () => {
    const { key } = await shopKey(proxied)
    const headers = { authorization: `Bearer ${key}`, origin: ORIGIN, 'x-forwarded-for': '192.0.2.200' }
    const answers = [
      await proxied.chat(key, undefined, headers),
      await fetch(`${proxied.url}/v1/models`, { headers }),
      await fetch(`${proxied.url}/v1/models/assisters-chat-v1`, { headers }),
    ]
    expect(answers.map((answer) => answer.status)).toEqual(Array(VISITOR_RPM).fill(200))
    for (const path of ['/v1/chat/completions', '/v1/models', '/v1/models/assisters-chat-v1']) {
      const refused = path.endsWith('completions')
        ? await proxied.chat(key, undefined, headers)
        : await fetch(proxied.url + path, { headers })
      expect(await codeOf(refused)).toBe('visitor_rate_limit_exceeded')
    }
    expect((await fetch(`${proxied.url}/v1/key`, { headers })).status).toBe(200)
  })

  it('leaves a key without allowed domains (a server’s key) unlimited per visitor by default', async () => {
    const { key } = await proxied.createKey({ rate_limit_rpm: 1000 })
    const codes = await Promise.all(
      Array.from({ length: 30 }, async () => codeOf(await models(proxied, key, { 'x-forwarded-for': '192.0.2.9' }))),
    )
    expect(codes).toEqual(Array(30).fill('ok'))
  })

  it.each<[string, Record<string, unknown>, number]>([
    ['visitor_rpm 0 turns it off on a key with allowed domains', { visitor_rpm: 0 }, 12],
    ['visitor_rpm sets it on a key without allowed domains', { allowed_domains: [], visitor_rpm: 2 }, 2],
    ["a key's visitor_rpm stands over VISITOR_RPM", { visitor_rpm: VISITOR_RPM + 2 }, VISITOR_RPM + 2],
  ])('%s', async (_case, fields, admitted) => {
    const { key } = await shopKey(proxied, fields)
    const codes = await Promise.all(
      Array.from({ length: 12 }, async () => codeOf(await models(proxied, key, { 'x-forwarded-for': '192.0.2.50' }))),
    )
    expect(codes.filter((code) => code === 'ok')).toHaveLength(admitted)
    expect(codes.filter((code) => code === 'visitor_rate_limit_exceeded')).toHaveLength(12 - admitted)
  })

  it("gives the visitor's window its place back when the key's own limit refuses the request", async () => {
    const { key } = await shopKey(proxied, { visitor_rpm: 2, rate_limit_rpm: 1 })
    const from = async () => codeOf(await models(proxied, key, { 'x-forwarded-for': '192.0.2.52' }))
    // Without the place given back, the third would find the visitor's window full (2 admitted).
    expect([await from(), await from(), await from()]).toEqual(['ok', 'rate_limit_exceeded', 'rate_limit_exceeded'])
  })

  it("applies a change of the key's visitor_rpm on the next request", async () => {
    const { key, id } = await shopKey(proxied)
    const from = async () => codeOf(await models(proxied, key, { 'x-forwarded-for': '192.0.2.51' }))
    expect([await from(), await from()]).toEqual(['ok', 'ok'])
    expect((await proxied.admin('PATCH', `/admin/keys/${id}`, { visitor_rpm: 2 })).status).toBe(200)
    expect(await from()).toBe('visitor_rate_limit_exceeded')
    expect((await proxied.admin('PATCH', `/admin/keys/${id}`, { visitor_rpm: null })).status).toBe(200)
    expect(await from()).toBe('ok')
  })

  it("shows the owner each visitor refusal on the dashboard's usage, by its own reason", async () => {
    const { client } = await signedInOwner(proxied)
    const shop = (await client.call('POST', '/keys', { name: 'Shop', allowed_domains: ['shop.example'] })).body
    for (let i = 0; i < VISITOR_RPM + 3; i++) await models(proxied, shop.key, { 'x-forwarded-for': '192.0.2.33' })
    const today = new Date().toISOString().slice(0, 10)
    expect((await client.call('GET', '/usage')).body.refusals).toEqual([
      { key_id: shop.id, day: today, reason: 'visitor_rate_limited', count: 3 },
    ])
  })
})

describe('VISITOR_RPM=0', () => {
  it('leaves keys with allowed domains without a per-visitor limit, but not a key whose own visitor_rpm sets one', async () => {
    const off = await startServer({ VISITOR_RPM: '0' })
    try {
      const [open, own] = [await shopKey(off), await shopKey(off, { visitor_rpm: 1 })]
      const codes = async (key: string) => Promise.all(Array.from({ length: 5 }, async () => codeOf(await models(off, key))))
      expect(await codes(open.key)).toEqual(Array(5).fill('ok'))
      expect((await codes(own.key)).filter((code) => code === 'ok')).toHaveLength(1)
    } finally {
      await off.close()
    }
  })
})

describe('the per-visitor limit without TRUST_PROXY', () => {
  let direct: TestServer
  beforeAll(async () => {
    direct = await startServer({ VISITOR_RPM: '3' })
  })
  afterAll(async () => {
    await direct?.close()
  })

  /** GET /v1/models from a given loopback address (all of 127.0.0.0/8 reaches the server), with a made-up X-Forwarded-For. */
  const fromSocket = (key: string, localAddress: string, forwardedFor: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        `${direct.url}/v1/models`,
        {
          localAddress,
          headers: { authorization: `Bearer ${key}`, origin: ORIGIN, 'x-forwarded-for': forwardedFor, forwarded: `for=${forwardedFor}` },
        },
        (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode!))
        },
      )
      req.on('error', reject)
      req.end()
    })

  it('counts by the socket address, whatever X-Forwarded-For and Forwarded say', async () => {
    const { key } = await shopKey(direct)
    const spoofed = await Promise.all(Array.from({ length: 10 }, (_, i) => fromSocket(key, '127.0.0.1', `198.51.100.${i + 1}`)))
    expect(spoofed.filter((status) => status === 200)).toHaveLength(3)
    expect(spoofed.filter((status) => status === 429)).toHaveLength(7)
    // Another address is another visitor.
    expect(await fromSocket(key, '127.0.0.2', '198.51.100.1')).toBe(200)
  })
})
