/**
 * `assisters db copy --from sqlite:<path>`: an operator moving from SQLite to PostgreSQL keeps every
 * account, key and usage row, and the same keys keep working through the real server afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runCli } from '../../server/cli.ts'
import type { Upstream } from '../../server/upstream.ts'
import { createTestDatabase, describePostgres, type TestDatabase } from '../support/postgres.ts'
import { dashboardClient, linkToken, PASSWORD as OWNER_PASSWORD } from './dashboard-client.ts'
import { completion, MODEL, runCommand, startServer, type TestServer } from './harness.ts'

const PASSWORD = 'copy-secret-pw-456'

let dir: string
let target: TestDatabase
const servers: TestServer[] = []

/** The target's URL with a password in it (trust auth ignores it), which no output may repeat. */
const targetUrl = () => target.url.replace('postgres://postgres@', `postgres://postgres:${PASSWORD}@`)
const sourcePath = () => join(dir, 'source.db')

async function cli(argv: string[], env: Record<string, string>) {
  let out = ''
  let err = ''
  const status = await runCli(argv, env, { out: (text) => (out += text), err: (text) => (err += text) })
  return { status, out, err }
}

const copy = (...extra: string[]) => cli(['db', 'copy', '--from', `sqlite:${sourcePath()}`, ...extra], { DATABASE_URL: targetUrl() })

const upstream: Upstream = {
  send: async () => ({ status: 200, body: [Buffer.from(JSON.stringify(completion('Hi', { prompt_tokens: 2, completion_tokens: 3 })))] }),
  close() {},
}

async function startOn(url: string) {
  const server = await startServer({ DATABASE_URL: url, UPSTREAM_BASE_URL: '' }, { upstream })
  servers.push(server)
  return server
}

const chat = (server: TestServer, key: string, origin = 'https://example.com') =>
  server.chat(key, { model: MODEL, messages: [{ role: 'user', content: 'Hello' }] }, { origin })

/** What the admin API shows of an account: its keys and its usage. */
async function snapshot(server: TestServer, accountId: string) {
  return {
    account: (await server.admin('GET', '/admin/accounts')).body.data.find((account: { id: string }) => account.id === accountId),
    keys: (await server.admin('GET', `/admin/accounts/${accountId}/keys`)).body.data,
    usage: (await server.admin('GET', `/admin/accounts/${accountId}/usage`)).body.data,
  }
}

describePostgres('assisters db copy', () => {
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'assisters-copy-'))
    target = await createTestDatabase()
  })
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close()
    await target.drop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('moves everything into PostgreSQL: the same keys work, listings and usage match, a second run refuses', async () => {
    const before = await startOn(`sqlite:${sourcePath()}`)
    const site = await before.createKey({
      name: 'Site',
      allowed_domains: ['example.com'],
      rate_limit_rpm: 7,
      instructions: 'Be brief.',
      visitor_rpm: 9,
      daily_token_limit: 100_000,
      allow_system_messages: false,
    })
    expect((await before.admin('PATCH', `/admin/accounts/${site.accountId}`, { daily_token_limit: 500_000 })).status).toBe(200)
    const second = await before.createKey({ name: 'Second' }, site.accountId)
    const revoked = await before.createKey({ name: 'Revoked' }, site.accountId)
    const other = await before.createKey({ name: 'Another account' })
    for (const key of [site.key, site.key, second.key, other.key]) expect((await chat(before, key)).status).toBe(200)
    await before.admin('POST', `/admin/keys/${revoked.id}/revoke`)
    await before.admin('POST', `/admin/keys/${second.id}/primary`)
    // An owner with a password, signed in: both the password and the session survive the move.
    // The site's owner, signed in, and a refusal of the site's key: all of it survives the move.
    const email = 'mover@example.com'
    const link = (await before.admin('POST', `/admin/accounts/${site.accountId}/owners`, { email })).body.set_password_url
    const signedIn = dashboardClient(before)
    expect((await signedIn.call('POST', '/set-password', { token: linkToken(link), password: OWNER_PASSWORD })).status).toBe(200)
    expect((await chat(before, site.key, 'https://evil.test')).status).toBe(403)
    const expected = { site: await snapshot(before, site.accountId), other: await snapshot(before, other.accountId) }
    await before.close()

    const run = await copy('--json')
    expect(run).toMatchObject({ status: 0, err: '' })
    expect(JSON.parse(run.out)).toEqual({
      from: sourcePath(),
      to: target.url,
      accounts: 2,
      keys: 4,
      usage_rows: 3,
      owners: 1,
      requests: 4,
      prompt_tokens: 8,
      completion_tokens: 12,
    })

    const after = await startOn(targetUrl())
    expect(await snapshot(after, site.accountId)).toEqual(expected.site)
    expect(await snapshot(after, other.accountId)).toEqual(expected.other)
    expect(expected.site.keys.map((key: { is_primary: boolean }) => key.is_primary)).toEqual([false, true, false])
    expect(expected.site.account.daily_token_limit).toBe(500_000)
    expect(expected.site.keys[0]).toMatchObject({ visitor_rpm: 9, daily_token_limit: 100_000, allow_system_messages: false })
    expect((await chat(after, site.key)).status).toBe(200)
    expect((await chat(after, site.key, 'https://evil.test')).status).toBe(403)
    expect((await chat(after, revoked.key)).status).toBe(401)
    expect((await chat(after, other.key)).status).toBe(200)
    const fresh = dashboardClient(after)
    expect((await fresh.call('POST', '/sign-in', { email, password: OWNER_PASSWORD })).status).toBe(200)
    const carried = dashboardClient(after)
    carried.cookie = signedIn.cookie
    expect((await carried.call('GET', '/me')).body.owner.email).toBe(email)
    // Refusals and origins counted before the move, plus those of the requests just made after it.
    const moved = (await carried.call('GET', '/usage')).body
    expect(moved.refusals).toEqual(
      expect.arrayContaining([
        { key_id: site.id, day: expect.any(String), reason: 'origin_not_allowed', count: 2 },
        { key_id: revoked.id, day: expect.any(String), reason: 'key_revoked', count: 1 },
      ]),
    )
    expect(moved.origins.map((row: any) => [row.key_id, row.origin, row.allowed, row.requests])).toEqual(
      expect.arrayContaining([
        [site.id, 'https://example.com', true, 3],
        [site.id, 'https://evil.test', false, 2],
      ]),
    )
    // New keys follow the copied ones, in order.
    const added = await after.createKey({ name: 'Made on PostgreSQL' }, site.accountId)
    expect((await snapshot(after, site.accountId)).keys.map((key: { id: string }) => key.id)).toEqual([
      site.id,
      second.id,
      revoked.id,
      added.id,
    ])

    const held = await snapshot(after, site.accountId)
    const again = await copy('--json')
    expect(again.status).toBe(1)
    expect(JSON.parse(again.err).error).toMatchObject({
      code: 'target_not_empty',
      message: expect.stringMatching(/not empty.*2 accounts, 5 keys.*1 owners/),
    })
    expect(await snapshot(after, site.accountId)).toEqual(held)
  })

  it('says what it copied when run as `npm run --silent assisters -- db copy`', async () => {
    const sqlite = { DATABASE_URL: `sqlite:${sourcePath()}` }
    const account = JSON.parse((await cli(['accounts', 'create', '--name', 'Acme', '--json'], sqlite)).out).id
    await cli(['keys', 'create', '--account', account, '--name', 'Site'], sqlite)

    const { code, stdout, stderr } = await runCommand(
      'npm',
      ['run', '--silent', 'assisters', '--', 'db', 'copy', '--from', `sqlite:${sourcePath()}`],
      { DATABASE_URL: targetUrl() },
    )
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
    expect(stdout).toBe(
      `Copied ${sourcePath()} into ${target.url}:\n  1 accounts\n  1 keys\n` +
        '  0 usage rows (0 requests, 0 prompt + 0 completion tokens)\n  0 dashboard owners\n',
    )
    expect(stdout).not.toContain(PASSWORD)
  })

  describe('refusals', () => {
    it.each<[string, () => string[], () => Record<string, string>, string, RegExp]>([
      [
        'a target that is not PostgreSQL',
        () => ['--from', `sqlite:${sourcePath()}`],
        () => ({ DATABASE_URL: `sqlite:${join(dir, 'other.db')}` }),
        'invalid_target',
        /set DATABASE_URL to the target postgres/,
      ],
      [
        'a source that is not SQLite',
        () => ['--from', targetUrl()],
        () => ({ DATABASE_URL: targetUrl() }),
        'invalid_source',
        /--from must name an SQLite file/,
      ],
      [
        'an in-memory source',
        () => ['--from', 'sqlite::memory:'],
        () => ({ DATABASE_URL: targetUrl() }),
        'invalid_source',
        /--from must name an SQLite file/,
      ],
      [
        'a source file that does not exist',
        () => ['--from', `sqlite:${join(dir, 'missing.db')}`],
        () => ({ DATABASE_URL: targetUrl() }),
        'invalid_source',
        /there is no file at/,
      ],
      [
        'an SQLite file that is not an Assisters database',
        () => ['--from', `sqlite:${join(dir, 'foreign.db')}`],
        () => ({ DATABASE_URL: targetUrl() }),
        'invalid_source',
        /is not an Assisters database/,
      ],
      [
        'a target out of reach',
        () => ['--from', `sqlite:${sourcePath()}`],
        () => ({ DATABASE_URL: `postgres://postgres:${PASSWORD}@127.0.0.1:1/${target.name}` }),
        'store_unavailable',
        /The database is unavailable/,
      ],
    ])('refuses %s with exit 1, a clear message and nothing written', async (_case, args, env, code, message) => {
      await cli(['accounts', 'create', '--name', 'Acme'], { DATABASE_URL: `sqlite:${sourcePath()}` })
      const foreign = new Database(join(dir, 'foreign.db'))
      foreign.exec('CREATE TABLE notes (text TEXT)')
      foreign.close()

      const text = await cli(['db', 'copy', ...args()], env())
      expect(text.status).toBe(1)
      expect(text.out).toBe('')
      expect(text.err).toMatch(message)
      expect(text.err.trimEnd().split('\n')).toHaveLength(1)
      const json = await cli(['db', 'copy', ...args(), '--json'], env())
      expect(JSON.parse(json.err).error).toMatchObject({ code, message: expect.stringMatching(message) })
      expect(text.err + json.err).not.toContain(PASSWORD)

      // The target is still empty: a later copy goes through.
      expect((await copy()).status).toBe(0)
    })

    it('asks for --from (a usage mistake, exit 2)', async () => {
      const { status, err } = await cli(['db', 'copy'], { DATABASE_URL: targetUrl() })
      expect(status).toBe(2)
      expect(err).toMatch(/^assisters: --from is required\n/)
    })
  })
})
