/**
 * The owners' dashboard API (issue 14) against the real server and store: owners made by the admin
 * API, one-time set-password links, sign-in and its throttling, sessions (idle and absolute expiry,
 * sign out, sign out everywhere, a password change), keys managed by their owner only, refusals of
 * cross-site calls, and every bad input. Time is moved with the server's clock option.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { http, HttpResponse } from 'msw'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createMemoryRateLimiter } from '../../server/rate-limit.ts'
import { createThrottle } from '../../server/throttle.ts'
import { ABSOLUTE_MS, IDLE_MS } from '../../server/owner-auth.ts'
import { completion, createUpstreamMock, startServer, UPSTREAM_URL, type TestServer } from './harness.ts'
import { dashboardClient, linkToken, PASSWORD, signedInOwner, type DashboardClient } from './dashboard-client.ts'

const upstream = createUpstreamMock()
let server: TestServer
/** The dashboard's clock: real time plus whatever a test has skipped ahead. */
let skipped = 0
const later = (ms: number) => (skipped += ms)

const HOUR = 60 * 60 * 1000

beforeAll(async () => {
  upstream.listen()
  upstream.mock.use(http.post(UPSTREAM_URL, () => HttpResponse.json(completion('Hi'))))
  server = await startServer(
    {},
    {
      ownerAuth: {
        now: () => Date.now() + skipped,
        // Tighter than the defaults, so the per-address limit is reachable in a test.
        throttles: {
          perEmail: createMemoryThrottle({ limit: 10, windowMs: 15 * 60_000, now: () => Date.now() + skipped }),
          perAddress: createMemoryThrottle({ limit: 12, windowMs: 15 * 60_000, now: () => Date.now() + skipped }),
          signUps: createMemoryThrottle({ limit: 5, windowMs: 60 * 60_000, now: () => Date.now() + skipped }),
        },
      },
    },
  )
})
afterEach(() => void (skipped += 16 * 60_000)) // every test starts outside the last one's throttle window
afterAll(async () => {
  await server?.close()
  upstream.mock.close()
})

/** A throttle of its own in memory, on the test's clock. */
function createMemoryThrottle(options: { limit: number; windowMs: number; now?: () => number }) {
  return createThrottle(createMemoryRateLimiter({ windowMs: options.windowMs, now: options.now }), 'test', options.limit)
}

let serial = 0
const newEmail = () => `owner${++serial}-${Date.now()}@example.com`

async function createOwner(email = newEmail(), accountId?: string) {
  const account = accountId ?? (await server.admin('POST', '/admin/accounts', { name: 'Acme' })).body.id
  const created = await server.admin('POST', `/admin/accounts/${account}/owners`, { email })
  expect(created.status).toBe(201)
  return { account, email, url: created.body.set_password_url as string, owner: created.body.owner }
}

const noCors = (headers: Headers) => [...headers.keys()].filter((name) => name.startsWith('access-control-'))

describe('owners and their set-password links', () => {
  it('makes an owner through the admin API with a one-time link on the dashboard, the token in the fragment', async () => {
    const { url, owner, account } = await createOwner('  New.Owner@Example.COM ')
    expect(owner).toEqual({
      id: expect.stringMatching(/^owner_/),
      account_id: account,
      email: 'new.owner@example.com',
      created_at: expect.any(String),
      password_set: false,
    })
    expect(url).toMatch(new RegExp(`^${server.url}/dashboard/set-password#[A-Za-z0-9_-]{43}$`))
    const listed = await server.admin('GET', `/admin/accounts/${account}/owners`)
    expect(listed.body.data).toEqual([owner])
    expect(JSON.stringify(listed.body)).not.toContain(linkToken(url))
  })

  it.each([
    ['no email', {}, 'email'],
    ['an email that is not one', { email: 'not-an-email' }, 'email'],
    ['an email with a space', { email: 'a b@example.com' }, 'email'],
    ['an email too long', { email: `${'a'.repeat(250)}@example.com` }, 'email'],
    ['an unknown field', { email: 'a@example.com', role: 'admin' }, 'role'],
    ['a list', [], 'body'],
  ])('refuses %s with 400 naming the field', async (_case, body, param) => {
    const account = (await server.admin('POST', '/admin/accounts', { name: 'Acme' })).body.id
    const created = await server.admin('POST', `/admin/accounts/${account}/owners`, body)
    expect(created.status).toBe(400)
    expect(created.body.error).toMatchObject({ code: 'invalid_body', param })
  })

  it('refuses an email another owner has (409) and an unknown account (404)', async () => {
    const { email } = await createOwner()
    const other = (await server.admin('POST', '/admin/accounts', { name: 'Other' })).body.id
    const again = await server.admin('POST', `/admin/accounts/${other}/owners`, { email: email.toUpperCase() })
    expect(again.status).toBe(409)
    expect(again.body.error.code).toBe('email_taken')
    expect((await server.admin('POST', '/admin/accounts/acct_nope/owners', { email: newEmail() })).status).toBe(404)
  })

  it('sets the password once: the link signs the owner in, then works never again', async () => {
    const { url, email } = await createOwner()
    const client = dashboardClient(server)
    const set = await client.call('POST', '/set-password', { token: linkToken(url), password: PASSWORD })
    expect(set.status).toBe(200)
    expect(set.body.owner).toMatchObject({ email, password_set: true })
    const cookie = set.headers.get('set-cookie')!
    expect(cookie).toMatch(/^assisters_session=[A-Za-z0-9_-]{43}; Path=\/dashboard; Max-Age=604800; HttpOnly; SameSite=Strict$/)
    expect((await client.call('GET', '/me')).body.owner.email).toBe(email)

    const reuse = await dashboardClient(server).call('POST', '/set-password', { token: linkToken(url), password: 'another long password' })
    expect(reuse.status).toBe(400)
    expect(reuse.body.error).toMatchObject({
      code: 'invalid_body',
      param: 'token',
      message: expect.stringMatching(/used already, has expired/),
    })
    expect(reuse.headers.get('set-cookie')).toBeNull()
    expect((await dashboardClient(server).call('POST', '/sign-in', { email, password: 'another long password' })).status).toBe(401)
  })

  it('refuses a short password without spending the link', async () => {
    const { url } = await createOwner()
    const client = dashboardClient(server)
    const short = await client.call('POST', '/set-password', { token: linkToken(url), password: '123456789' })
    expect(short.status).toBe(400)
    expect(short.body.error).toMatchObject({ param: 'password', message: 'The password must have at least 10 characters' })
    expect((await client.call('POST', '/set-password', { token: linkToken(url), password: '1234567890' })).status).toBe(200)
  })

  it('accepts any 10 characters, with no composition rules, counting characters rather than bytes', async () => {
    const { url, email } = await createOwner()
    const password = 'ééééééééé€' // 10 characters, 20 bytes
    expect((await dashboardClient(server).call('POST', '/set-password', { token: linkToken(url), password })).status).toBe(200)
    expect((await dashboardClient(server).call('POST', '/sign-in', { email, password })).status).toBe(200)
  })

  it('refuses a link after 24 hours', async () => {
    const { url } = await createOwner()
    later(24 * HOUR + 60_000)
    const late = await dashboardClient(server).call('POST', '/set-password', { token: linkToken(url), password: PASSWORD })
    expect(late.status).toBe(400)
    expect(late.body.error.param).toBe('token')
  })

  it('refuses made-up, malformed and missing tokens alike', async () => {
    for (const token of ['x'.repeat(43), '', 'a'.repeat(500), 42, undefined]) {
      const answer = await dashboardClient(server).call('POST', '/set-password', { token, password: PASSWORD })
      expect(answer.status).toBe(400)
      expect(answer.body.error.param).toBe('token')
    }
  })

  it('gives an existing owner a new link (a forgotten password) that ends their sessions when used', async () => {
    const { client, email } = await signedInOwner(server, newEmail())
    const fresh = await server.admin('POST', '/admin/owners/password-link', { email })
    expect(fresh.status).toBe(201)
    const other = dashboardClient(server)
    expect(
      (await other.call('POST', '/set-password', { token: linkToken(fresh.body.set_password_url), password: 'a brand new password' }))
        .status,
    ).toBe(200)
    expect((await client.call('GET', '/me')).status).toBe(401)
    expect((await other.call('GET', '/me')).status).toBe(200)
    expect((await server.admin('POST', '/admin/owners/password-link', { email: 'nobody@example.com' })).status).toBe(404)
  })
})

describe('set-password links end with a new password, a newer link or signing out everywhere', () => {
  const setWith = (url: string, password = 'an attacker password') =>
    dashboardClient(server).call('POST', '/set-password', { token: linkToken(url), password })
  const newLink = async (email: string) =>
    (await server.admin('POST', '/admin/owners/password-link', { email })).body.set_password_url as string

  it('ends an older unused link when a new one is issued; the new one works', async () => {
    const { url, email } = await createOwner()
    const newer = await newLink(email)
    expect((await setWith(url)).body.error).toMatchObject({ code: 'invalid_body', param: 'token' })
    expect((await setWith(newer, PASSWORD)).status).toBe(200)
  })

  it('ends an unused link when the owner changes the password', async () => {
    const { client, email } = await signedInOwner(server, newEmail())
    const link = await newLink(email)
    expect((await client.call('POST', '/password', { current_password: PASSWORD, new_password: 'my new password' })).status).toBe(200)
    expect((await setWith(link)).status).toBe(400)
    expect((await dashboardClient(server).call('POST', '/sign-in', { email, password: 'my new password' })).status).toBe(200)
  })

  it('ends an unused link when the owner signs out everywhere', async () => {
    const { client, email } = await signedInOwner(server, newEmail())
    const link = await newLink(email)
    expect((await client.call('POST', '/sign-out-everywhere')).status).toBe(200)
    expect((await setWith(link)).status).toBe(400)
    expect((await dashboardClient(server).call('POST', '/sign-in', { email, password: PASSWORD })).status).toBe(200)
  })
})

describe('signing in', () => {
  it('signs in with the email in any case, and answers who is signed in', async () => {
    const { email, account } = await signedInOwner(server, newEmail())
    const client = dashboardClient(server)
    const signed = await client.call('POST', '/sign-in', { email: ` ${email.toUpperCase()} `, password: PASSWORD })
    expect(signed.status).toBe(200)
    expect(signed.body).toEqual({
      owner: expect.objectContaining({ email }),
      account: expect.objectContaining({ id: account.id }),
      defaults: { rate_limit_rpm: 60, visitor_rpm: 20 },
    })
    expect(JSON.stringify(signed.body)).not.toMatch(/scrypt|password_hash/)
    expect((await client.call('GET', '/me')).body).toEqual(signed.body)
  })

  it('answers an unknown email exactly as a wrong password, and an owner without a password yet too', async () => {
    const { email } = await signedInOwner(server, newEmail())
    const { email: waiting } = await createOwner()
    const answers = await Promise.all([
      dashboardClient(server).call('POST', '/sign-in', { email, password: 'wrong password!' }),
      dashboardClient(server).call('POST', '/sign-in', { email: 'nobody-here@example.com', password: PASSWORD }),
      dashboardClient(server).call('POST', '/sign-in', { email: waiting, password: PASSWORD }),
    ])
    for (const answer of answers) {
      expect(answer.status).toBe(401)
      expect(answer.body).toEqual({
        error: { message: 'Incorrect email or password', type: 'invalid_request_error', code: 'invalid_credentials' },
      })
      expect(answer.headers.get('set-cookie')).toBeNull()
    }
  })

  it('throttles an email after 10 failures, whatever the password, with Retry-After; other emails go on', async () => {
    const { email } = await signedInOwner(server, newEmail())
    const { email: neighbour } = await signedInOwner(server, newEmail())
    for (let i = 0; i < 10; i++)
      expect((await dashboardClient(server).call('POST', '/sign-in', { email, password: `wrong ${i} password` })).status).toBe(401)
    const refused = await dashboardClient(server).call('POST', '/sign-in', { email, password: PASSWORD })
    expect(refused.status).toBe(429)
    expect(refused.body.error).toMatchObject({
      code: 'too_many_sign_ins',
      message: expect.stringMatching(/^Too many failed sign-ins; try again in \d+ minutes?$/),
    })
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(15 * 60)
    expect((await dashboardClient(server).call('POST', '/sign-in', { email: neighbour, password: PASSWORD })).status).toBe(200)
    later(15 * 60_000 + 1000)
    expect((await dashboardClient(server).call('POST', '/sign-in', { email, password: PASSWORD })).status).toBe(200)
  }, 30_000)

  it('throttles a client address trying many emails', async () => {
    const { email } = await signedInOwner(server, newEmail())
    for (let i = 0; i < 30; i++)
      await dashboardClient(server).call('POST', '/sign-in', { email: `guess${i}@example.com`, password: 'wrong password' })
    const refused = await dashboardClient(server).call('POST', '/sign-in', { email, password: PASSWORD })
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/)
  }, 30_000)

  it('counts parallel wrong passwords before checking them: of 40 at once for one email, 10 are checked and 30 refused', async () => {
    const { email } = await signedInOwner(server, newEmail())
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => dashboardClient(server).call('POST', '/sign-in', { email, password: `wrong ${i} password` })),
    )
    const statuses = answers.map((answer) => answer.status)
    expect(statuses.filter((status) => status === 401)).toHaveLength(10)
    expect(statuses.filter((status) => status === 429)).toHaveLength(30)
    expect((await dashboardClient(server).call('POST', '/sign-in', { email, password: PASSWORD })).status).toBe(429)
  }, 30_000)

  it('gives back the count of a sign-in that succeeds: 15 good sign-ins in a row pass the limits of 10 and 12', async () => {
    const { email } = await signedInOwner(server, newEmail())
    for (let i = 0; i < 15; i++)
      expect((await dashboardClient(server).call('POST', '/sign-in', { email, password: PASSWORD })).status).toBe(200)
  }, 30_000)

  it('answers a flood of sign-ins past the hashing queue with 503 and Retry-After, and does not count those against the email', async () => {
    const loose = await startServer(
      {},
      {
        ownerAuth: {
          throttles: {
            perEmail: createMemoryThrottle({ limit: 1000, windowMs: 15 * 60_000 }),
            perAddress: createMemoryThrottle({ limit: 1000, windowMs: 15 * 60_000 }),
            signUps: createMemoryThrottle({ limit: 5, windowMs: 60 * 60_000 }),
          },
        },
      },
    )
    try {
      const { email } = await signedInOwner(loose, newEmail())
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, i) => dashboardClient(loose).call('POST', '/sign-in', { email, password: `wrong ${i} password` })),
      )
      const busy = answers.filter((answer) => answer.status === 503)
      expect(answers.filter((answer) => answer.status !== 503).every((answer) => answer.status === 401)).toBe(true)
      expect(busy.length).toBeGreaterThan(0)
      for (const answer of busy) {
        expect(answer.headers.get('retry-after')).toBe('2')
        expect(answer.body.error).toMatchObject({ type: 'api_error', code: 'password_check_busy' })
      }
      expect((await dashboardClient(loose).call('POST', '/sign-in', { email, password: PASSWORD })).status).toBe(200)
    } finally {
      await loose.close()
    }
  }, 60_000)

  it.each([
    ['no body fields', {}],
    ['a number for the email', { email: 1, password: PASSWORD }],
    ['no password', { email: 'a@example.com' }],
    ['an unknown field', { email: 'a@example.com', password: PASSWORD, remember: true }],
    ['a list', [1]],
    ['null', null],
  ])('refuses %s with 400', async (_case, body) => {
    const answer = await dashboardClient(server).call('POST', '/sign-in', body)
    expect(answer.status).toBe(400)
    expect(answer.body.error.code).toBe('invalid_body')
  })

  it.each(['ana\u0000@example.com', 'ana@example.com\u0007'])(
    'refuses an email with a control character (%j) with 400 naming email, without an error of its own',
    async (email) => {
      const mark = server.logs.length
      const answer = await dashboardClient(server).call('POST', '/sign-in', { email, password: PASSWORD })
      expect(answer.status).toBe(400)
      expect(answer.body.error).toMatchObject({ code: 'invalid_body', param: 'email' })
      expect(server.logs.slice(mark).filter((line) => JSON.parse(line).level === 'error')).toEqual([])
    },
  )

  it('refuses a body that is not JSON (400, param body) and one that is too large (413)', async () => {
    const broken = await dashboardClient(server).call('POST', '/sign-in', undefined, { rawBody: '{"email":' })
    expect(broken.status).toBe(400)
    expect(broken.body.error).toMatchObject({ code: 'invalid_json', param: 'body' })
    const huge = await dashboardClient(server).call('POST', '/sign-in', { email: 'a@example.com', password: 'x'.repeat(70_000) })
    expect(huge.status).toBe(413)
  })
})

describe('sessions', () => {
  it('answers 401 not_signed_in without a session, with a made-up one, and clears the cookie', async () => {
    for (const cookie of [undefined, 'made-up', 'a'.repeat(43), '']) {
      const client = dashboardClient(server)
      client.cookie = cookie
      const answer = await client.call('GET', '/me')
      expect(answer.status).toBe(401)
      expect(answer.body.error).toMatchObject({ code: 'not_signed_in', message: 'Sign in to use the dashboard' })
      expect(answer.headers.get('set-cookie')).toMatch(/^assisters_session=; Path=\/dashboard; Max-Age=0/)
    }
  })

  it('ends a session idle for longer than 12 hours', async () => {
    const { client } = await signedInOwner(server, newEmail())
    later(IDLE_MS - HOUR)
    expect((await client.call('GET', '/me')).status).toBe(200)
    later(IDLE_MS - HOUR)
    expect((await client.call('GET', '/me')).status).toBe(200)
    later(IDLE_MS + 60_000)
    expect((await client.call('GET', '/me')).status).toBe(401)
  })

  it('ends a session 7 days after sign-in however busy it is', async () => {
    const { client } = await signedInOwner(server, newEmail())
    for (let spent = 0; spent + 11 * HOUR < ABSOLUTE_MS; spent += 11 * HOUR) {
      later(11 * HOUR)
      expect((await client.call('GET', '/me')).status).toBe(200)
    }
    later(11 * HOUR)
    expect((await client.call('GET', '/me')).status).toBe(401)
  })

  it('refuses a request carrying two session cookies (one planted by a sibling subdomain, say), even when one is live', async () => {
    const { client } = await signedInOwner(server, newEmail())
    const planted = (await signedInOwner(server, newEmail())).client.cookie
    for (const cookie of [
      `assisters_session=${planted}; assisters_session=${client.cookie}`,
      `assisters_session=${client.cookie}; other=1; assisters_session=${planted}`,
      `assisters_session=${client.cookie}; assisters_session=${client.cookie}`,
    ]) {
      for (const [method, path] of [
        ['GET', '/me'],
        ['POST', '/keys'],
      ] as const) {
        const answer = await dashboardClient(server).call(method, path, { name: 'Planted' }, { headers: { cookie } })
        expect(answer.status).toBe(400)
        expect(answer.body.error).toMatchObject({ type: 'invalid_request_error', code: 'duplicate_session_cookie' })
      }
    }
    expect((await client.call('GET', '/keys')).body.data).toEqual([])
    expect((await client.call('GET', '/me')).status).toBe(200)
  })

  it('signs out this browser only', async () => {
    const { client, email } = await signedInOwner(server, newEmail())
    const other = dashboardClient(server)
    await other.call('POST', '/sign-in', { email, password: PASSWORD })
    const token = client.cookie
    const out = await client.call('POST', '/sign-out')
    expect(out.status).toBe(200)
    expect(out.headers.get('set-cookie')).toMatch(/^assisters_session=; .*Max-Age=0/)
    const replay = dashboardClient(server)
    replay.cookie = token
    expect((await replay.call('GET', '/me')).status).toBe(401)
    expect((await other.call('GET', '/me')).status).toBe(200)
  })

  it('signs out everywhere: every session of the owner ends, another owner keeps theirs', async () => {
    const { client, email, account } = await signedInOwner(server, newEmail())
    const phone = dashboardClient(server)
    await phone.call('POST', '/sign-in', { email, password: PASSWORD })
    const colleague = await createOwner(newEmail(), account.id)
    const colleagueClient = dashboardClient(server)
    await colleagueClient.call('POST', '/set-password', { token: linkToken(colleague.url), password: PASSWORD })

    expect((await client.call('POST', '/sign-out-everywhere')).status).toBe(200)
    expect((await client.call('GET', '/me')).status).toBe(401)
    expect((await phone.call('GET', '/me')).status).toBe(401)
    expect((await colleagueClient.call('GET', '/me')).status).toBe(200)
  })

  it("lists the owner's live sessions without their tokens and ends one by id; another owner's ids are unknown", async () => {
    const { client, email } = await signedInOwner(server, newEmail())
    const phone = dashboardClient(server)
    await phone.call('POST', '/sign-in', { email, password: PASSWORD })
    const colleague = await signedInOwner(server, newEmail())

    const listed = await client.call('GET', '/sessions')
    expect(listed.status).toBe(200)
    expect(listed.body.data).toHaveLength(2)
    expect(listed.body.data.filter((session: { current: boolean }) => session.current)).toHaveLength(1)
    for (const session of listed.body.data) {
      expect(Object.keys(session).sort()).toEqual(['created_at', 'current', 'id', 'last_seen_at'])
      expect(session.id).toMatch(/^[0-9a-f]{24}$/)
    }
    const text = JSON.stringify(listed.body)
    expect(text).not.toContain(client.cookie!)
    expect(text).not.toContain(phone.cookie!)

    const phoneSession = listed.body.data.find((session: { current: boolean }) => !session.current)
    // Another owner, even of another account, cannot end it: 404, and it stays.
    expect((await colleague.client.call('POST', `/sessions/${phoneSession.id}/end`)).status).toBe(404)
    expect((await phone.call('GET', '/me')).status).toBe(200)
    const ended = await client.call('POST', `/sessions/${phoneSession.id}/end`)
    expect(ended.status).toBe(200)
    expect(ended.body).toEqual({ ended: phoneSession.id, signed_out: false })
    expect((await phone.call('GET', '/me')).status).toBe(401)
    expect((await client.call('GET', '/sessions')).body.data).toHaveLength(1)
    expect((await client.call('POST', `/sessions/${phoneSession.id}/end`)).status).toBe(404)
    expect((await client.call('POST', '/sessions/nope/end')).status).toBe(404)

    // Ending this browser's own session signs it out.
    const own = (await client.call('GET', '/sessions')).body.data[0]
    const self = await client.call('POST', `/sessions/${own.id}/end`)
    expect(self.body).toEqual({ ended: own.id, signed_out: true })
    expect(self.headers.get('set-cookie')).toMatch(/^assisters_session=; .*Max-Age=0/)
    expect((await client.call('GET', '/me')).status).toBe(401)
  })

  it('hides sessions that expired from the list', async () => {
    const { client, email } = await signedInOwner(server, newEmail())
    later(IDLE_MS - 60_000)
    const fresh = dashboardClient(server)
    await fresh.call('POST', '/sign-in', { email, password: PASSWORD })
    later(2 * 60_000)
    // The first browser's session has been idle past IDLE_MS: only the fresh one is listed.
    const listed = await fresh.call('GET', '/sessions')
    expect(listed.body.data).toEqual([expect.objectContaining({ current: true })])
    expect((await client.call('GET', '/me')).status).toBe(401)
  })

  it('changes the password: the current one is checked, other sessions end, this one stays', async () => {
    const { client, email } = await signedInOwner(server, newEmail())
    const phone = dashboardClient(server)
    await phone.call('POST', '/sign-in', { email, password: PASSWORD })

    const wrong = await client.call('POST', '/password', { current_password: 'not the password', new_password: 'a new long password' })
    expect(wrong.status).toBe(400)
    expect(wrong.body.error).toMatchObject({ code: 'wrong_password', param: 'current_password' })
    const short = await client.call('POST', '/password', { current_password: PASSWORD, new_password: 'short' })
    expect(short.body.error).toMatchObject({ param: 'new_password' })
    expect((await phone.call('GET', '/me')).status).toBe(200)

    expect((await client.call('POST', '/password', { current_password: PASSWORD, new_password: 'a new long password' })).status).toBe(200)
    expect((await client.call('GET', '/me')).status).toBe(200)
    expect((await phone.call('GET', '/me')).status).toBe(401)
    expect((await dashboardClient(server).call('POST', '/sign-in', { email, password: PASSWORD })).status).toBe(401)
    expect((await dashboardClient(server).call('POST', '/sign-in', { email, password: 'a new long password' })).status).toBe(200)
  })
})

describe('guessing the current password', () => {
  it('counts wrong current passwords with failed sign-ins of the email: after 10, 429 for both, with Retry-After', async () => {
    const { client, email } = await signedInOwner(server, newEmail())
    for (let i = 0; i < 10; i++) {
      const wrong = await client.call('POST', '/password', { current_password: `guess ${i} password`, new_password: 'my new password' })
      expect(wrong.status).toBe(400)
      expect(wrong.body.error.code).toBe('wrong_password')
    }
    const refused = await client.call('POST', '/password', { current_password: PASSWORD, new_password: 'my new password' })
    expect(refused.status).toBe(429)
    expect(refused.body.error.code).toBe('too_many_sign_ins')
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
    expect((await dashboardClient(server).call('POST', '/sign-in', { email, password: PASSWORD })).status).toBe(429)
    later(15 * 60_000 + 1000)
    expect((await client.call('POST', '/password', { current_password: PASSWORD, new_password: 'my new password' })).status).toBe(200)
  }, 30_000)
})

describe('cross-site calls', () => {
  let owner: Awaited<ReturnType<typeof signedInOwner>>
  beforeAll(async () => {
    owner = await signedInOwner(server, newEmail())
  })

  it.each<[string, (own: string) => string | undefined]>([
    ['no Origin', () => undefined],
    ["another site's Origin", () => 'https://evil.example'],
    ['Origin null', () => 'null'],
    ['the same host on another port', () => 'http://127.0.0.1:1'],
    ['an Origin with a path', (own) => `${own}/dashboard`],
    ['two Origins', (own) => `${own}, ${own}`],
  ])('refuses a state-changing call with %s (403), and changes nothing', async (_case, originFor) => {
    const origin = originFor(new URL(server.url).origin)
    const before = (await owner.client.call('GET', '/keys')).body.data.length
    const response = await fetch(`${server.url}/dashboard/api/keys`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        cookie: `assisters_session=${owner.client.cookie}`,
        ...(origin !== undefined && { origin }),
      },
      body: JSON.stringify({ name: 'Sneaky' }),
    })
    expect(response.status).toBe(403)
    expect((await response.json()).error.code).toBe('cross_site_request')
    expect(noCors(response.headers)).toEqual([])
    expect((await owner.client.call('GET', '/keys')).body.data.length).toBe(before)
  })

  it.each([
    ['text/plain (a simple cross-site form)', 'text/plain'],
    ['a urlencoded form', 'application/x-www-form-urlencoded'],
    ['multipart', 'multipart/form-data; boundary=x'],
    ['no content type', ''],
  ])('refuses a state-changing call sent as %s (415)', async (_case, type) => {
    const headers: Record<string, string> = type ? { 'content-type': type } : {}
    const response = await fetch(`${server.url}/dashboard/api/sign-out`, {
      method: 'POST',
      headers: { origin: new URL(server.url).origin, cookie: `assisters_session=${owner.client.cookie}`, ...headers },
      body: type ? '{}' : undefined,
    })
    expect(response.status).toBe(415)
    expect((await owner.client.call('GET', '/me')).status).toBe(200)
  })

  it('sends no CORS headers, not even to a preflight or a GET from another origin', async () => {
    const preflight = await fetch(`${server.url}/dashboard/api/keys`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    })
    expect(preflight.status).toBe(405)
    expect(noCors(preflight.headers)).toEqual([])
    const read = await fetch(`${server.url}/dashboard/api/keys`, {
      headers: { origin: 'https://evil.example', cookie: `assisters_session=${owner.client.cookie}` },
    })
    expect(noCors(read.headers)).toEqual([])
  })

  it('accepts only PUBLIC_URL as the Origin when it is set, and marks the cookie Secure for https', async () => {
    const behindTls = await startServer({ PUBLIC_URL: 'https://dash.example.com' })
    try {
      const { url, email } = await (async () => {
        const account = (await behindTls.admin('POST', '/admin/accounts', { name: 'A' })).body.id
        const created = await behindTls.admin('POST', `/admin/accounts/${account}/owners`, { email: 'tls@example.com' })
        return { url: created.body.set_password_url as string, email: 'tls@example.com' }
      })()
      expect(url).toMatch(/^https:\/\/dash\.example\.com\/dashboard\/set-password#/)
      const client = dashboardClient(behindTls)
      const own = await client.call('POST', '/set-password', { token: linkToken(url), password: PASSWORD })
      expect(own.status).toBe(403)
      const proxied = await client.call(
        'POST',
        '/set-password',
        { token: linkToken(url), password: PASSWORD },
        { headers: { origin: 'https://dash.example.com' } },
      )
      expect(proxied.status).toBe(200)
      expect(proxied.headers.get('set-cookie')).toMatch(/; Secure$/)
      expect(
        (await client.call('POST', '/sign-in', { email, password: PASSWORD }, { headers: { origin: 'https://dash.example.com' } })).status,
      ).toBe(200)
    } finally {
      await behindTls.close()
    }
  })
})

describe('keys, by their owner', () => {
  it('creates a key with domains checked by the server, shows it once, and lists it without the key', async () => {
    const { client, account } = await signedInOwner(server, newEmail())
    const created = await client.call('POST', '/keys', {
      name: 'Shop',
      allowed_domains: ['https://Shop.Example.com/', '*.example.org'],
      rate_limit_rpm: 30,
      instructions: 'Be kind.',
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      name: 'Shop',
      account_id: account.id,
      allowed_domains: ['shop.example.com', '*.example.org'],
      rate_limit_rpm: 30,
      instructions: 'Be kind.',
      is_primary: true,
      key: expect.stringMatching(/^ask_/),
    })
    const listed = await client.call('GET', '/keys')
    expect(listed.body.data).toEqual([expect.objectContaining({ id: created.body.id, prefix: created.body.key.slice(0, 12) })])
    expect(JSON.stringify(listed.body)).not.toContain(created.body.key)

    // The key works on the next request, from the allowed origin only.
    expect((await server.chat(created.body.key, undefined, { origin: 'https://shop.example.com' })).status).toBe(200)
    expect((await server.chat(created.body.key, undefined, { origin: 'https://evil.example' })).status).toBe(403)
  })

  it('checks domain entries one by one: the stored form, or why one is refused', async () => {
    const { client } = await signedInOwner(server, newEmail())
    const checked = await client.call('POST', '/domains/check', {
      allowed_domains: ['HTTPS://Example.com/', '*.com', 'bücher.de', 'a/b', ''],
    })
    expect(checked.status).toBe(200)
    expect(checked.body.data).toEqual([
      { entry: 'HTTPS://Example.com/', stored: 'example.com' },
      { entry: '*.com', error: expect.stringMatching(/public suffix/) },
      { entry: 'bücher.de', stored: 'xn--bcher-kva.de' },
      { entry: 'a/b', error: expect.any(String) },
      { entry: '', error: expect.any(String) },
    ])
    expect((await client.call('POST', '/domains/check', { allowed_domains: 'example.com' })).status).toBe(400)
    const refused = await client.call('POST', '/keys', { name: 'Bad', allowed_domains: ['*.com'] })
    expect(refused.status).toBe(400)
    expect(refused.body.error.param).toBe('allowed_domains')
  })

  it("updates a key's name, domains, rate limit and instructions, effective on the next request", async () => {
    const { client } = await signedInOwner(server, newEmail())
    const created = (await client.call('POST', '/keys', { name: 'Shop', allowed_domains: ['shop.example.com'] })).body
    const updated = await client.call('PATCH', `/keys/${created.id}`, {
      name: 'Renamed',
      allowed_domains: ['new.example.com'],
      rate_limit_rpm: 2,
      instructions: 'Short answers.',
    })
    expect(updated.status).toBe(200)
    expect(updated.body).toMatchObject({
      name: 'Renamed',
      allowed_domains: ['new.example.com'],
      rate_limit_rpm: 2,
      instructions: 'Short answers.',
    })
    expect(updated.body).not.toHaveProperty('key')
    expect((await server.chat(created.key, undefined, { origin: 'https://shop.example.com' })).status).toBe(403)
    expect((await server.chat(created.key, undefined, { origin: 'https://new.example.com' })).status).toBe(200)
    expect((await server.chat(created.key, undefined, { origin: 'https://new.example.com' })).status).toBe(200)
    expect((await server.chat(created.key, undefined, { origin: 'https://new.example.com' })).status).toBe(429)

    const reset = await client.call('PATCH', `/keys/${created.id}`, { rate_limit_rpm: null, instructions: null, allowed_domains: [] })
    expect(reset.body).toMatchObject({ rate_limit_rpm: 60, instructions: null, allowed_domains: [] })
  })

  it.each([
    ['nothing to change', {}, 'body'],
    ['an empty name', { name: '  ' }, 'name'],
    ['a rate limit of 0', { rate_limit_rpm: 0 }, 'rate_limit_rpm'],
    ['a rate limit as text', { rate_limit_rpm: '10' }, 'rate_limit_rpm'],
    ['instructions too long', { instructions: 'x'.repeat(4001) }, 'instructions'],
    ['a bad domain', { allowed_domains: ['*'] }, 'allowed_domains'],
    ['an unknown field', { is_primary: true }, 'is_primary'],
    ['a negative visitor limit', { visitor_rpm: -1 }, 'visitor_rpm'],
    ['a visitor limit as text', { visitor_rpm: '5' }, 'visitor_rpm'],
    ['a fractional visitor limit', { visitor_rpm: 2.5 }, 'visitor_rpm'],
    ['a daily token budget of 0', { daily_token_limit: 0 }, 'daily_token_limit'],
    ['a daily token budget past a billion', { daily_token_limit: 1_000_000_001 }, 'daily_token_limit'],
    ['a daily token budget as text', { daily_token_limit: '1000' }, 'daily_token_limit'],
    ['system messages as text', { allow_system_messages: 'no' }, 'allow_system_messages'],
    ['system messages as null', { allow_system_messages: null }, 'allow_system_messages'],
  ])('refuses an update with %s (400), changing nothing', async (_case, body, param) => {
    const { client } = await signedInOwner(server, newEmail())
    const created = (await client.call('POST', '/keys', { name: 'Shop' })).body
    const answer = await client.call('PATCH', `/keys/${created.id}`, body)
    expect(answer.status).toBe(400)
    expect(answer.body.error.param).toBe(param)
    const { key: _key, ...record } = created
    expect((await client.call('GET', '/keys')).body.data).toEqual([record])
  })

  it("sets a key's visitor limit, daily token budget and system messages, at creation and after; the admin API sees them", async () => {
    const { client, account } = await signedInOwner(server, newEmail())
    const created = await client.call('POST', '/keys', {
      name: 'Shop',
      allowed_domains: ['shop.example'],
      visitor_rpm: 5,
      daily_token_limit: 100_000,
      allow_system_messages: false,
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      visitor_rpm: 5,
      visitor_rpm_is_default: false,
      daily_token_limit: 100_000,
      allow_system_messages: false,
    })

    // null: the server's VISITOR_RPM (20) for a key with allowed domains, and no budget; 0: no visitor limit.
    const reset = await client.call('PATCH', `/keys/${created.body.id}`, { visitor_rpm: null, daily_token_limit: null })
    expect(reset.body).toMatchObject({
      visitor_rpm: 20,
      visitor_rpm_is_default: true,
      daily_token_limit: null,
      allow_system_messages: false,
    })
    const off = await client.call('PATCH', `/keys/${created.body.id}`, { visitor_rpm: 0, allow_system_messages: true })
    expect(off.body).toMatchObject({ visitor_rpm: 0, visitor_rpm_is_default: false, allow_system_messages: true })

    const seen = (await server.admin('GET', `/admin/accounts/${account.id}/keys`)).body.data
    expect(seen).toEqual([
      expect.objectContaining({ id: created.body.id, visitor_rpm: 0, daily_token_limit: null, allow_system_messages: true }),
    ])
    expect((await client.call('GET', '/keys')).body.data).toEqual(seen)
  })

  it('revokes (the next request gets 401), makes another key primary, and refuses to change a revoked key', async () => {
    const { client } = await signedInOwner(server, newEmail())
    const first = (await client.call('POST', '/keys', { name: 'First' })).body
    const second = (await client.call('POST', '/keys', { name: 'Second' })).body
    const primary = await client.call('POST', `/keys/${second.id}/primary`)
    expect(primary.body).toMatchObject({ id: second.id, is_primary: true })
    const revoked = await client.call('POST', `/keys/${first.id}/revoke`)
    expect(revoked.status).toBe(200)
    expect(revoked.body.revoked_at).toEqual(expect.any(String))
    expect((await server.chat(first.key)).status).toBe(401)
    expect((await client.call('PATCH', `/keys/${first.id}`, { name: 'Back' })).body.error.code).toBe('key_revoked')
    expect((await client.call('POST', `/keys/${first.id}/primary`)).body.error.code).toBe('key_revoked')
    expect((await client.call('POST', `/keys/${second.id}/revoke`, { why: 'x' })).status).toBe(400)
  })

  it('refuses the 11th active key with key_limit_reached', async () => {
    const { client } = await signedInOwner(server, newEmail())
    for (let i = 0; i < 10; i++) expect((await client.call('POST', '/keys', { name: `Key ${i}` })).status).toBe(201)
    const eleventh = await client.call('POST', '/keys', { name: 'One too many' })
    expect(eleventh.status).toBe(409)
    expect(eleventh.body.error.code).toBe('key_limit_reached')
  })

  it("lists the account's owners and usage", async () => {
    const { client, account, email } = await signedInOwner(server, newEmail())
    const key = (await client.call('POST', '/keys', { name: 'Shop' })).body
    expect((await server.chat(key.key)).status).toBe(200)
    expect((await client.call('GET', '/owners')).body.data).toEqual([
      expect.objectContaining({ email, account_id: account.id, password_set: true }),
    ])
    expect((await client.call('GET', '/usage')).body.data).toEqual([expect.objectContaining({ key_id: key.id, requests: 1 })])
  })
})

describe("the account's settings, by its owner", () => {
  const adminView = async (id: string) =>
    (await server.admin('GET', '/admin/accounts')).body.data.find((account: { id: string }) => account.id === id)

  it("answers the account's name and daily token budget, and the server's defaults the key dialogs show", async () => {
    const { client, account } = await signedInOwner(server, newEmail())
    const got = await client.call('GET', '/account')
    expect(got.status).toBe(200)
    expect(got.body).toEqual({ id: account.id, name: account.name, daily_token_limit: null, created_at: account.created_at })
    expect((await client.call('GET', '/me')).body).toMatchObject({ account: got.body, defaults: { rate_limit_rpm: 60, visitor_rpm: 20 } })
  })

  it("sets, changes and clears the account's daily token budget and its name; the admin API sees each change", async () => {
    const { client, account } = await signedInOwner(server, newEmail())
    const set = await client.call('PATCH', '/account', { daily_token_limit: 250_000 })
    expect(set.status).toBe(200)
    expect(set.body).toEqual({ ...account, daily_token_limit: 250_000 })
    expect(await adminView(account.id)).toEqual(set.body)
    expect((await client.call('GET', '/account')).body).toEqual(set.body)

    const renamed = await client.call('PATCH', '/account', { name: '  Lumen Notes ', daily_token_limit: null })
    expect(renamed.body).toEqual({ ...account, name: 'Lumen Notes', daily_token_limit: null })
    expect(await adminView(account.id)).toEqual(renamed.body)
    expect((await client.call('GET', '/me')).body.account.name).toBe('Lumen Notes')
  })

  it.each([
    ['nothing to change', {}, 'body'],
    ['a list', [], 'body'],
    ['a budget of 0', { daily_token_limit: 0 }, 'daily_token_limit'],
    ['a negative budget', { daily_token_limit: -5 }, 'daily_token_limit'],
    ['a fractional budget', { daily_token_limit: 1.5 }, 'daily_token_limit'],
    ['a budget past a billion', { daily_token_limit: 1_000_000_001 }, 'daily_token_limit'],
    ['a budget as text', { daily_token_limit: '1000' }, 'daily_token_limit'],
    ['a budget as true', { daily_token_limit: true }, 'daily_token_limit'],
    ['an empty name', { name: ' ' }, 'name'],
    ['a name with a control character', { name: 'Acme\u0007' }, 'name'],
    ['an account id', { id: 'acct_other', daily_token_limit: 5 }, 'id'],
    ['an account_id', { account_id: 'acct_other', daily_token_limit: 5 }, 'account_id'],
  ])('refuses %s with 400 naming the field, changing nothing', async (_case, body, param) => {
    const { client, account } = await signedInOwner(server, newEmail())
    const answer = await client.call('PATCH', '/account', body)
    expect(answer.status).toBe(400)
    expect(answer.body.error).toMatchObject({ code: 'invalid_body', param })
    expect(await adminView(account.id)).toEqual(account)
  })

  it('refuses a body that is not JSON (400, param body)', async () => {
    const { client, account } = await signedInOwner(server, newEmail())
    const answer = await client.call('PATCH', '/account', undefined, { rawBody: '{"daily_token_limit": 5' })
    expect(answer.status).toBe(400)
    expect(answer.body.error.param).toBe('body')
    expect(await adminView(account.id)).toEqual(account)
  })

  it('answers 401 without a session, reading or changing', async () => {
    const stranger = dashboardClient(server)
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { daily_token_limit: 5 }],
    ] as const) {
      const answer = await stranger.call(method, '/account', body)
      expect(answer.status).toBe(401)
      expect(answer.body.error.code).toBe('not_signed_in')
    }
  })

  it('refuses a change from another site (403) or as a form (415), changing nothing', async () => {
    const { client, account } = await signedInOwner(server, newEmail())
    const body = { daily_token_limit: 5 }
    const crossSite = await client.call('PATCH', '/account', body, { headers: { origin: 'https://evil.example' } })
    expect(crossSite.status).toBe(403)
    expect(crossSite.body.error.code).toBe('cross_site_request')
    expect((await client.call('PATCH', '/account', body, { headers: { origin: '' } })).status).toBe(403)
    expect((await client.call('PATCH', '/account', body, { headers: { 'content-type': 'text/plain' } })).status).toBe(415)
    expect(await adminView(account.id)).toEqual(account)
  })

  it("changes only the owner's own account", async () => {
    const alice = await signedInOwner(server, newEmail())
    const bob = await signedInOwner(server, newEmail())
    expect((await bob.client.call('PATCH', '/account', { daily_token_limit: 7 })).body.id).toBe(bob.account.id)
    expect(await adminView(alice.account.id)).toEqual(alice.account)
    expect(JSON.stringify((await bob.client.call('GET', '/account')).body)).not.toContain(alice.account.id)
  })
})

describe('sign-up (SIGNUP=open)', () => {
  it('does not exist by default', async () => {
    const client = dashboardClient(server)
    expect((await client.call('GET', '/settings')).body).toEqual({ signup: false })
    const refused = await client.call('POST', '/sign-up', { account_name: 'Mine', email: newEmail(), password: PASSWORD })
    expect(refused.status).toBe(404)
    expect(refused.headers.get('set-cookie')).toBeNull()
  })

  it('makes an account and its first owner, signed in; refuses a taken email and bad input without leaving an account; throttles per address', async () => {
    const open = await startServer({ SIGNUP: 'open' })
    try {
      const accounts = async () => (await open.admin('GET', '/admin/accounts')).body.data.length
      const client = dashboardClient(open)
      expect((await client.call('GET', '/settings')).body).toEqual({ signup: true })
      const made = await client.call('POST', '/sign-up', {
        account_name: '  Lumen Notes ',
        email: 'Founder@Lumen.example',
        password: PASSWORD,
      })
      expect(made.status).toBe(200)
      expect(made.body).toMatchObject({ owner: { email: 'founder@lumen.example', password_set: true }, account: { name: 'Lumen Notes' } })
      expect(made.headers.get('set-cookie')).toMatch(/^assisters_session=[\w-]{43}; .*HttpOnly; SameSite=Strict$/)
      expect((await client.call('POST', '/keys', { name: 'Site' })).status).toBe(201)
      expect((await dashboardClient(open).call('POST', '/sign-in', { email: 'founder@lumen.example', password: PASSWORD })).status).toBe(
        200,
      )

      const before = await accounts()
      for (const [body, status, param] of [
        [{ account_name: 'Again', email: 'founder@lumen.example', password: PASSWORD }, 409, 'email'],
        [{ account_name: 'Short', email: newEmail(), password: 'short' }, 400, 'password'],
        [{ account_name: '', email: newEmail(), password: PASSWORD }, 400, 'account_name'],
        [{ account_name: 'Bad email', email: 'nope', password: PASSWORD }, 400, 'email'],
        [{ account_name: 'Extra', email: newEmail(), password: PASSWORD, plan: 'pro' }, 400, 'plan'],
      ] as const) {
        const answer = await dashboardClient(open).call('POST', '/sign-up', body)
        expect([answer.status, answer.body.error.param]).toEqual([status, param])
      }
      expect(await accounts()).toBe(before)

      // Five accounts an hour from one address; the sixth waits.
      for (let i = 0; i < 4; i++)
        expect(
          (await dashboardClient(open).call('POST', '/sign-up', { account_name: `A${i}`, email: newEmail(), password: PASSWORD })).status,
        ).toBe(200)
      const sixth = await dashboardClient(open).call('POST', '/sign-up', { account_name: 'Sixth', email: newEmail(), password: PASSWORD })
      expect(sixth.status).toBe(429)
      expect(sixth.body.error.code).toBe('too_many_sign_ups')
      expect(Number(sixth.headers.get('retry-after'))).toBeGreaterThan(0)
    } finally {
      await open.close()
    }
  }, 60_000)

  it('counts sign-ups per client behind a trusted proxy, an IPv6 client by its /64', async () => {
    const open = await startServer({ SIGNUP: 'open', TRUST_PROXY: '127.0.0.1, ::1' })
    try {
      const signUp = (forwardedFor: string) =>
        dashboardClient(open).call(
          'POST',
          '/sign-up',
          { account_name: 'Proxied', email: newEmail(), password: PASSWORD },
          { headers: { 'x-forwarded-for': forwardedFor } },
        )
      // Five from one /64, whichever of its addresses; the sixth waits, while another client may.
      for (let i = 1; i <= 5; i++) expect((await signUp(`2001:db8:7:7::${i}`)).status).toBe(200)
      expect((await signUp('2001:db8:7:7:ffff::1')).body.error?.code).toBe('too_many_sign_ups')
      expect((await signUp('2001:db8:7:8::1')).status).toBe(200)
      expect((await signUp('203.0.113.9')).status).toBe(200)
    } finally {
      await open.close()
    }
  }, 60_000)

  it('counts parallel sign-ups before making any account: of 20 at once from one address, 5 make accounts', async () => {
    const open = await startServer({ SIGNUP: 'open' })
    try {
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          dashboardClient(open).call('POST', '/sign-up', { account_name: `Rush ${i}`, email: newEmail(), password: PASSWORD }),
        ),
      )
      const statuses = answers.map((answer) => answer.status)
      expect(statuses.filter((status) => status === 200)).toHaveLength(5)
      expect(statuses.filter((status) => status === 429)).toHaveLength(15)
      expect((await open.admin('GET', '/admin/accounts')).body.data).toHaveLength(5)
    } finally {
      await open.close()
    }
  }, 60_000)
})

describe('refusals and origins', () => {
  it("counts 403, 429 and a revoked key's 401 per key and day, and the origins each key was used from", async () => {
    const { client } = await signedInOwner(server, newEmail())
    const shop = (await client.call('POST', '/keys', { name: 'Shop', allowed_domains: ['shop.example'], rate_limit_rpm: 1 })).body
    const old = (await client.call('POST', '/keys', { name: 'Old' })).body
    expect((await server.chat(shop.key, undefined, { origin: 'https://shop.example' })).status).toBe(200)
    expect((await server.chat(shop.key, undefined, { origin: 'https://shop.example' })).status).toBe(429)
    expect((await server.chat(shop.key, undefined, { origin: 'https://copycat.example' })).status).toBe(403)
    expect((await server.chat(shop.key, undefined, { origin: 'https://copycat.example' })).status).toBe(403)
    expect((await server.chat(old.key)).status).toBe(200)
    await client.call('POST', `/keys/${old.id}/revoke`)
    expect((await server.chat(old.key, undefined, { origin: 'https://old.example' })).status).toBe(401)
    // A key nobody has (or another account's) counts for no one here.
    expect((await server.chat('ask_notarealkeynotarealkeynotarealkey12')).status).toBe(401)

    const today = new Date().toISOString().slice(0, 10)
    const usage = (await client.call('GET', '/usage')).body
    expect(usage.refusals).toEqual([
      { key_id: shop.id, day: today, reason: 'origin_not_allowed', count: 2 },
      { key_id: shop.id, day: today, reason: 'rate_limited', count: 1 },
      { key_id: old.id, day: today, reason: 'key_revoked', count: 1 },
    ])
    const seen = usage.origins.map((row: any) => [row.key_id, row.origin, row.allowed, row.requests])
    expect(seen).toHaveLength(3)
    expect(seen).toEqual(
      expect.arrayContaining([
        // Recorded only within the key's rate (1 a minute): not the 429, and one of the two 403s.
        [shop.id, 'https://shop.example', true, 1],
        [shop.id, 'https://copycat.example', false, 1],
        [old.id, '', true, 1],
      ]),
    )
    for (const row of usage.origins) expect(Date.parse(row.last_seen_at)).toBeGreaterThan(Date.now() - 60_000)
  })
})

describe('isolation between accounts', () => {
  let alice: Awaited<ReturnType<typeof signedInOwner>>
  let bob: Awaited<ReturnType<typeof signedInOwner>>
  let aliceKey: { id: string; key: string }
  beforeAll(async () => {
    alice = await signedInOwner(server, newEmail())
    bob = await signedInOwner(server, newEmail())
    aliceKey = (await alice.client.call('POST', '/keys', { name: 'Alice', allowed_domains: ['alice.example'] })).body
    await bob.client.call('POST', '/keys', { name: 'Bob' })
  })

  const aliceKeys = async () => (await alice.client.call('GET', '/keys')).body.data

  it.each<[string, (client: DashboardClient, id: string) => Promise<{ status: number; body: any }>]>([
    ['update', (client, id) => client.call('PATCH', `/keys/${id}`, { allowed_domains: [] })],
    [
      'a change of limits',
      (client, id) => client.call('PATCH', `/keys/${id}`, { visitor_rpm: 0, daily_token_limit: 1, allow_system_messages: false }),
    ],
    ['revoke', (client, id) => client.call('POST', `/keys/${id}/revoke`)],
    ['set as primary', (client, id) => client.call('POST', `/keys/${id}/primary`)],
  ])("answers 404 to %s on another account's key, and changes nothing", async (_case, act) => {
    const before = await aliceKeys()
    const answer = await act(bob.client, aliceKey.id)
    expect(answer.status).toBe(404)
    expect(answer.body.error.code).toBe('not_found')
    expect(JSON.stringify(answer.body)).not.toContain('Alice')
    expect(await aliceKeys()).toEqual(before)
    expect((await server.chat(aliceKey.key, undefined, { origin: 'https://alice.example' })).status).toBe(200)
  })

  it('answers 404 to an unknown key id the same way', async () => {
    expect((await bob.client.call('POST', '/keys/key_doesnotexist/revoke')).body).toEqual(
      (await bob.client.call('POST', `/keys/${aliceKey.id}/revoke`)).body,
    )
  })

  it('shows each owner only their own keys, owners and usage', async () => {
    const bobs = await Promise.all(
      ['/keys', '/owners', '/usage', '/me'].map(async (path) => JSON.stringify((await bob.client.call('GET', path)).body)),
    )
    for (const text of bobs) {
      expect(text).not.toContain(aliceKey.id)
      expect(text).not.toContain(alice.email)
      expect(text).not.toContain(alice.account.id)
    }
  })
})

describe('routes, headers and secrets', () => {
  it('answers unknown API paths 404 and wrong methods 405 with Allow', async () => {
    const { client } = await signedInOwner(server, newEmail())
    expect((await client.call('GET', '/nope')).status).toBe(404)
    const wrong = await client.call('GET', '/sign-out')
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toBe('POST')
    expect((await client.call('DELETE', '/keys')).status).toBe(405)
  })

  it('sends nosniff, Referrer-Policy, a CSP and Cross-Origin-Resource-Policy: same-origin on every dashboard answer', async () => {
    for (const path of ['/dashboard/api/me', '/dashboard/', '/dashboard/assets/missing.js', '/dashboard/api/nope']) {
      const response = await fetch(server.url + path)
      expect(response.headers.get('x-content-type-options')).toBe('nosniff')
      expect(response.headers.get('referrer-policy')).toBe('same-origin')
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
      expect(response.headers.get('cross-origin-resource-policy')).toBe('same-origin')
    }
  })

  it("answers the Embed preview's key check, and nothing else under /dashboard/preview/", async () => {
    const check = await fetch(`${server.url}/dashboard/preview/v1/key`, { headers: { authorization: 'Bearer ask_preview' } })
    expect(check.status).toBe(200)
    expect(await check.json()).toEqual({ ok: true })
    expect((await fetch(`${server.url}/dashboard/preview/v1/chat/completions`, { method: 'POST' })).status).toBe(405)
    expect((await fetch(`${server.url}/dashboard/preview/v1/models`)).status).toBe(404)
  })

  it('says how to build the dashboard when it is not built, and redirects /dashboard to /dashboard/', async () => {
    const missing = await startServer({}, { dashboardDir: join(server.dir, 'no-dashboard-here') })
    try {
      const page = await fetch(`${missing.url}/dashboard/`)
      expect(page.status).toBe(404)
      expect((await page.json()).error.message).toBe('The dashboard is not built yet; run npm run build')
      const bare = await fetch(`${missing.url}/dashboard`, { redirect: 'manual' })
      expect(bare.status).toBe(308)
      expect(bare.headers.get('location')).toBe('/dashboard/')
    } finally {
      await missing.close()
    }
  })

  it('serves the built page for each of its routes with a strict CSP, and its assets by name only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'assisters-dashboard-'))
    mkdirSync(join(dir, 'assets'))
    writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="/dashboard/assets/index-abc123.js"></script>')
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)')
    writeFileSync(join(dir, 'secret.txt'), 'not to be served')
    writeFileSync(join(dir, 'widget.js'), 'console.log(2)')
    const built = await startServer({}, { dashboardDir: dir, widgetPath: join(dir, 'widget.js') })
    try {
      for (const page of ['/dashboard/', '/dashboard/sign-in', '/dashboard/keys', '/dashboard/set-password']) {
        const response = await fetch(built.url + page)
        expect(response.status).toBe(200)
        expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8')
        const csp = response.headers.get('content-security-policy')!
        expect(csp).toContain("script-src 'self'")
        expect(csp).not.toContain('unsafe-inline')
        expect(csp).toContain("frame-ancestors 'none'")
        expect(response.headers.get('cross-origin-resource-policy')).toBe('same-origin')
      }
      const script = await fetch(`${built.url}/dashboard/assets/index-abc123.js`)
      expect(script.status).toBe(200)
      expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
      expect(script.headers.get('cache-control')).toContain('immutable')
      expect(script.headers.get('cross-origin-resource-policy')).toBe('same-origin')
      // Revalidated (304), too.
      const again = await fetch(`${built.url}/dashboard/assets/index-abc123.js`, {
        headers: { 'if-none-match': script.headers.get('etag')! },
      })
      expect([again.status, again.headers.get('cross-origin-resource-policy')]).toEqual([304, 'same-origin'])
      // The widget's own files stay loadable by other sites.
      expect((await fetch(`${built.url}/widget.js`)).headers.get('cross-origin-resource-policy')).toBe('cross-origin')
      for (const path of [
        '/dashboard/secret.txt',
        '/dashboard/assets/../secret.txt',
        '/dashboard/assets/%2e%2e%2fsecret.txt',
        '/dashboard/nope',
      ]) {
        expect((await fetch(built.url + path)).status).toBe(404)
      }
      expect((await fetch(`${built.url}/dashboard/keys`, { method: 'POST' })).status).toBe(405)
    } finally {
      await built.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('never logs a password, a session or a link token', async () => {
    const { url, email } = await createOwner()
    const client = dashboardClient(server)
    await client.call('POST', '/set-password', { token: linkToken(url), password: 'a logged secret password' })
    await dashboardClient(server).call('POST', '/sign-in', { email, password: 'a wrong secret password' })
    const logs = server.logs.join('\n')
    for (const secret of [linkToken(url), client.cookie!, 'a logged secret password', 'a wrong secret password'])
      expect(logs).not.toContain(secret)
  })
})

describe('the admin API for owners and keys', () => {
  it('lists every account', async () => {
    const made = (await server.admin('POST', '/admin/accounts', { name: 'Listed' })).body
    const listed = await server.admin('GET', '/admin/accounts')
    expect(listed.status).toBe(200)
    expect(listed.body.data).toContainEqual(made)
  })

  it('updates a key with PATCH /admin/keys/:id, effective on the next request; 404 for an unknown one', async () => {
    const { key, id } = await server.createKey({ allowed_domains: ['a.example'] })
    const updated = await server.admin('PATCH', `/admin/keys/${id}`, { allowed_domains: ['b.example'], name: 'Moved' })
    expect(updated.status).toBe(200)
    expect(updated.body).toMatchObject({ name: 'Moved', allowed_domains: ['b.example'] })
    expect((await server.chat(key, undefined, { origin: 'https://a.example' })).status).toBe(403)
    expect((await server.chat(key, undefined, { origin: 'https://b.example' })).status).toBe(200)
    expect((await server.admin('PATCH', '/admin/keys/key_nope', { name: 'x' })).status).toBe(404)
    expect((await server.admin('PATCH', `/admin/keys/${id}`, 'nope')).status).toBe(400)
  })

  it('removes an owner with DELETE /admin/owners/:id: their session ends and their link stops working; 404 after', async () => {
    const { url, owner, account } = await createOwner()
    const signedIn = dashboardClient(server)
    expect((await signedIn.call('POST', '/set-password', { token: linkToken(url), password: PASSWORD })).status).toBe(200)
    const pending = await createOwner(undefined, account)

    const removed = await server.admin('DELETE', `/admin/owners/${owner.id}`)
    expect(removed.status).toBe(200)
    expect(removed.body).toMatchObject({ id: owner.id, email: owner.email, password_set: true })
    expect((await signedIn.call('GET', '/me')).status).toBe(401)
    expect((await dashboardClient(server).call('POST', '/sign-in', { email: owner.email, password: PASSWORD })).status).toBe(401)

    expect((await server.admin('DELETE', `/admin/owners/${pending.owner.id}`)).status).toBe(200)
    const linkAfter = await dashboardClient(server).call('POST', '/set-password', { token: linkToken(pending.url), password: PASSWORD })
    expect(linkAfter.status).toBe(400)
    expect((await server.admin('GET', `/admin/accounts/${account}/owners`)).body.data).toEqual([])
    expect((await server.admin('DELETE', `/admin/owners/${owner.id}`)).status).toBe(404)
    expect((await server.admin('DELETE', '/admin/owners/owner_nope')).status).toBe(404)
  })
})
