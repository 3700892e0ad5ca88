import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runCli } from '../../server/cli.ts'
import { isWellFormedKey } from '../../server/keys.ts'
import type { Upstream } from '../../server/upstream.ts'
import { completion, freshDatabase, MODEL, runCommand, startServer, TEST_STORE } from './harness.ts'

let dir: string
let env: Record<string, string>
let database: Awaited<ReturnType<typeof freshDatabase>>
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'assisters-cli-'))
  database = await freshDatabase(dir, 'cli.db')
  env = { DATABASE_URL: database.url }
})
afterEach(async () => {
  await database.drop()
  rmSync(dir, { recursive: true, force: true })
})

/** Runs the CLI in-process, as `assisters <argv>` would, capturing both streams. */
async function cli(...argv: string[]) {
  let out = ''
  let err = ''
  const status = await runCli(argv, env, { out: (text) => (out += text), err: (text) => (err += text) })
  return { status, out, err }
}

/** Runs a command that must succeed with --json; returns its parsed output. */
async function json(...argv: string[]) {
  const result = await cli(...argv, '--json')
  if (result.status !== 0) throw new Error(`assisters ${argv.join(' ')} failed: ${result.err}`)
  expect(result.err).toBe('')
  return JSON.parse(result.out)
}

const createAccount = async (name = 'Acme') => (await json('accounts', 'create', '--name', name)).id as string
const createKey = async (account: string, ...flags: string[]) => json('keys', 'create', '--account', account, '--name', 'Website', ...flags)

const spawnCommand = (command: string, args: string[]) => runCommand(command, args, env)

describe('assisters accounts create', () => {
  it('creates an account and says its id', async () => {
    const { status, out, err } = await cli('accounts', 'create', '--name', 'Acme Inc')
    expect(status).toBe(0)
    expect(err).toBe('')
    expect(out).toMatch(/^Created account acct_[0-9A-Za-z]{16} \(Acme Inc\)\n$/)
  })

  it('prints the account as JSON with --json', async () => {
    const { status, out } = await cli('accounts', 'create', '--name', ' Acme ', '--json')
    expect(status).toBe(0)
    expect(JSON.parse(out)).toEqual({
      id: expect.stringMatching(/^acct_/),
      name: 'Acme',
      daily_token_limit: null,
      created_at: expect.any(String),
    })
  })
})

describe('assisters keys create', () => {
  it('creates the primary key with normalised domains, a rate limit and instructions', async () => {
    const account = await createAccount()
    const key = await createKey(
      account,
      '--domains',
      'https://Example.com/, *.Shop.Example.org. ,localhost:3000,127.0.0.1',
      '--rpm',
      '30',
      '--instructions',
      'Answer in French.',
    )
    expect(key).toMatchObject({
      account_id: account,
      name: 'Website',
      is_primary: true,
      allowed_domains: ['example.com', '*.shop.example.org', 'localhost:3000', '127.0.0.1'],
      rate_limit_rpm: 30,
      instructions: 'Answer in French.',
      revoked_at: null,
    })
    expect(key.key).toMatch(/^ask_[0-9A-Za-z]{42}$/)
    expect(isWellFormedKey(key.key)).toBe(true)
    expect(key.prefix).toBe(key.key.slice(0, 12))
    expect(key).not.toHaveProperty('hash')
  })

  it('uses RATE_LIMIT_RPM for a key without --rpm, and allows every origin without --domains', async () => {
    env.RATE_LIMIT_RPM = '90'
    const key = await createKey(await createAccount())
    expect(key).toMatchObject({ rate_limit_rpm: 90, allowed_domains: [], instructions: null })
  })

  it('shows the full key once in text, with a warning to store it', async () => {
    const account = await createAccount()
    const { status, out } = await cli('keys', 'create', '--account', account, '--name', 'Docs site')
    expect(status).toBe(0)
    const key = /ask_[0-9A-Za-z]+/.exec(out.split('\n\n')[1] ?? '')?.[0]
    expect(key && isWellFormedKey(key)).toBe(true)
    expect(out).toContain('Docs site')
    expect(out).toContain('[primary]')
    expect(out).toMatch(/only time the full key is shown/)
  })

  it('makes only the first key primary', async () => {
    const account = await createAccount()
    expect((await createKey(account)).is_primary).toBe(true)
    expect((await createKey(account)).is_primary).toBe(false)
  })
})

describe('assisters keys list, revoke and primary', () => {
  it('lists keys by prefix and never shows a full key, in text or JSON', async () => {
    const account = await createAccount()
    const first = await createKey(account, '--domains', 'example.com')
    const second = await json('keys', 'create', '--account', account, '--name', 'Staging')

    const text = await cli('keys', 'list', '--account', account)
    expect(text.status).toBe(0)
    const lines = text.out.trimEnd().split('\n')
    expect(lines).toHaveLength(2)
    expect(lines[0]).toContain(first.id)
    expect(lines[0]).toContain(`${first.prefix}…`)
    expect(lines[0]).toContain('[primary]')
    expect(lines[0]).toContain('example.com')
    expect(lines[1]).toContain('Staging')
    expect(lines[1]).toContain('any origin')
    expect(lines[1]).toContain('60/min')
    expect(text.out).not.toContain(first.key)
    expect(text.out).not.toContain(second.key)

    const listed = await json('keys', 'list', '--account', account)
    expect(listed.data.map((key: { id: string }) => key.id)).toEqual([first.id, second.id])
    for (const key of listed.data) {
      expect(key).not.toHaveProperty('key')
      expect(key).not.toHaveProperty('hash')
    }
    expect(JSON.stringify(listed)).not.toContain(first.key.slice(12))
  })

  it('says so when an account has no keys yet', async () => {
    const account = await createAccount()
    expect(await cli('keys', 'list', '--account', account)).toEqual({ status: 0, out: 'No keys yet.\n', err: '' })
    expect(await json('keys', 'list', '--account', account)).toEqual({ data: [] })
  })

  it('revokes a key idempotently, drops its primary flag and shows it as revoked', async () => {
    const account = await createAccount()
    const key = await createKey(account)
    const revoked = await json('keys', 'revoke', key.id)
    expect(revoked).toMatchObject({ id: key.id, is_primary: false, revoked_at: expect.any(String) })
    expect(await json('keys', 'revoke', key.id)).toEqual(revoked)

    const { out } = await cli('keys', 'list', '--account', account)
    expect(out).toContain(`revoked ${revoked.revoked_at}`)
    expect(out).not.toContain('primary')
  })

  it('makes another key primary, leaving exactly one', async () => {
    const account = await createAccount()
    const first = await createKey(account)
    const second = await createKey(account)
    const { status, out } = await cli('keys', 'primary', second.id)
    expect(status).toBe(0)
    expect(out).toMatch(new RegExp(`^Primary is now ${second.id} `))
    const { data } = await json('keys', 'list', '--account', account)
    expect(data.map((key: { id: string; is_primary: boolean }) => [key.id, key.is_primary])).toEqual([
      [first.id, false],
      [second.id, true],
    ])
  })
})

describe('assisters usage', () => {
  it('says there is no usage yet for a new account', async () => {
    const account = await createAccount()
    await createKey(account)
    expect(await cli('usage', '--account', account)).toEqual({ status: 0, out: 'No usage yet.\n', err: '' })
    expect(await json('usage', '--account', account)).toEqual({ data: [] })
  })
})

describe('assisters refusals (exit 1)', () => {
  // Each case starts with one key; this adds the other nine.
  const full = async (account: string) => {
    for (let i = 0; i < 9; i++) await createKey(account)
  }

  it.each<
    [string, (account: string, keyId: string) => Promise<unknown> | undefined, (account: string, keyId: string) => string[], RegExp[]]
  >([
    ['an unknown key id to revoke', () => {}, () => ['keys', 'revoke', 'key_doesnotexist'], [/Unknown key/]],
    ['an unknown key id to make primary', () => {}, () => ['keys', 'primary', 'key_doesnotexist'], [/Unknown key/]],
    ['an unknown account', () => {}, () => ['keys', 'list', '--account', 'acct_doesnotexist'], [/Unknown account/]],
    [
      'a wildcard over a public suffix',
      () => {},
      (account) => ['keys', 'create', '--account', account, '--name', 'k', '--domains', '*.com'],
      [/public suffix/, /allowed_domains/],
    ],
    [
      'a domain with a path',
      () => {},
      (account) => ['keys', 'create', '--account', account, '--name', 'k', '--domains', 'example.com/app'],
      [/has a path/, /allowed_domains/],
    ],
    [
      'an empty --domains (read as no entry, not as any origin)',
      () => {},
      (account) => ['keys', 'create', '--account', account, '--name', 'k', '--domains', ''],
      [/is empty/, /allowed_domains/],
    ],
    [
      'a rate limit of 0',
      () => {},
      (account) => ['keys', 'create', '--account', account, '--name', 'k', '--rpm', '0'],
      [/rate_limit_rpm/, /1 to/],
    ],
    ['a name with a control character', () => {}, (account) => ['keys', 'create', '--account', account, '--name', 'a\u001b[2Jb'], [/name/]],
    ['a missing account name', () => {}, () => ['accounts', 'create'], [/name/]],
    ['an 11th active key', full, (account) => ['keys', 'create', '--account', account, '--name', 'eleventh'], [/10 active keys/]],
    [
      'a revoked key to make primary',
      async (_account, keyId) => cli('keys', 'revoke', keyId),
      (_account, keyId) => ['keys', 'primary', keyId],
      [/revoked key cannot be made primary/],
    ],
  ])('refuses %s with exit 1 and says why on stderr', async (_case, prepare, argv, messages) => {
    const account = await createAccount()
    const { id } = await createKey(account)
    await prepare(account, id)
    const { status, out, err } = await cli(...argv(account, id))
    expect(status).toBe(1)
    expect(out).toBe('')
    expect(err).toMatch(/^assisters: /)
    for (const message of messages) expect(err).toMatch(message)
    expect(err).not.toContain('Usage:')
  })

  it('answers the 11th key with the key_limit_reached code in --json', async () => {
    const account = await createAccount()
    for (let i = 0; i < 10; i++) await createKey(account)
    const { status, out, err } = await cli('keys', 'create', '--account', account, '--name', 'eleventh', '--json')
    expect(status).toBe(1)
    expect(out).toBe('')
    expect(JSON.parse(err)).toEqual({
      error: { type: 'invalid_request_error', code: 'key_limit_reached', message: expect.stringContaining('10 active keys') },
    })
  })

  it('reports a bad domain as JSON naming allowed_domains with --json', async () => {
    const account = await createAccount()
    const { status, err } = await cli('keys', 'create', '--account', account, '--name', 'k', '--domains', 'ok.com,*.co.uk', '--json')
    expect(status).toBe(1)
    expect(JSON.parse(err).error).toMatchObject({
      code: 'invalid_body',
      param: 'allowed_domains',
      message: expect.stringContaining('*.co.uk'),
    })
    expect(await json('keys', 'list', '--account', account)).toEqual({ data: [] })
  })

  it.each([
    ['postgres://user:secret@db:99999/x', /DATABASE_URL is not a valid postgres/],
    ['mysql://x', /DATABASE_URL/],
  ])('stops on DATABASE_URL %s with exit 1 naming the variable', async (url, message) => {
    env.DATABASE_URL = url
    const { status, out, err } = await cli('keys', 'list', '--account', 'acct_x')
    expect(status).toBe(1)
    expect(out).toBe('')
    expect(err).toMatch(message)
    expect(err.trimEnd().split('\n')).toHaveLength(1)

    const asJson = await cli('keys', 'list', '--account', 'acct_x', '--json')
    expect(asJson.status).toBe(1)
    expect(JSON.parse(asJson.err).error).toMatchObject({ code: 'invalid_config', message: expect.stringContaining('DATABASE_URL') })
  })
})

describe('the environment', () => {
  it('ignores server-only settings, even bad ones, and still manages keys', async () => {
    Object.assign(env, { ADMIN_TOKEN: 'short', UPSTREAM_BASE_URL: 'http://x.test/v1', PORT: 'nope' })
    const account = await createAccount()
    expect((await cli('keys', 'list', '--account', account)).status).toBe(0)
  })

  it('gives keys without their own limit the RATE_LIMIT_RPM of its environment', async () => {
    env.RATE_LIMIT_RPM = '7'
    const account = await createAccount()
    await cli('keys', 'create', '--account', account, '--name', 'k')
    expect((await json('keys', 'list', '--account', account)).data[0].rate_limit_rpm).toBe(7)
  })
})

describe('assisters usage mistakes (exit 2)', () => {
  it.each<[string, (account: string) => string[], RegExp]>([
    ['an unknown command', () => ['frobnicate'], /Unknown command 'frobnicate'/],
    ['an unknown subcommand', () => ['keys', 'delete'], /Unknown command 'keys delete'/],
    ['a noun alone', () => ['keys'], /Unknown command 'keys'/],
    ['an unknown flag', (account) => ['keys', 'list', '--account', account, '--colour', 'red'], /--colour/],
    ['a missing --account', () => ['keys', 'create', '--name', 'k'], /--account is required/],
    ['a missing key id', () => ['keys', 'revoke'], /KEY_ID is required/],
    ['an extra argument', () => ['accounts', 'create', 'extra', '--name', 'x'], /Unexpected argument 'extra'/],
    ['a second key id', () => ['keys', 'revoke', 'key_a', 'key_b'], /Unexpected argument 'key_b'/],
    [
      'a non-numeric --rpm',
      (account) => ['keys', 'create', '--account', account, '--name', 'k', '--rpm', 'abc'],
      /--rpm must be a whole number/,
    ],
    [
      'a fractional --rpm',
      (account) => ['keys', 'create', '--account', account, '--name', 'k', '--rpm', '1.5'],
      /--rpm must be a whole number/,
    ],
    ['a flag missing its value', () => ['keys', 'list', '--account'], /--account/],
    ['no command at all', () => [], /No command given/],
  ])('answers %s with exit 2, the reason and the usage on stderr', async (_case, argv, message) => {
    const account = await createAccount()
    const { status, out, err } = await cli(...argv(account))
    expect(status).toBe(2)
    expect(out).toBe('')
    expect(err).toMatch(/^assisters: /)
    expect(err).toMatch(message)
    expect(err).toContain('Usage: assisters')
    expect(await json('keys', 'list', '--account', account)).toEqual({ data: [] })
  })

  it.each([
    ['an unknown command', ['frobnicate', '--json']],
    ['an unknown flag', ['keys', 'list', '--json', '--bogus']],
    ['no command', ['--json']],
  ])('reports %s as JSON on stderr with --json', async (_case, argv) => {
    const { status, out, err } = await cli(...argv)
    expect(status).toBe(2)
    expect(out).toBe('')
    expect(JSON.parse(err)).toEqual({ error: { type: 'usage_error', code: 'invalid_arguments', message: expect.any(String) } })
  })

  it.each([['--help'], ['-h']])('prints the usage on stdout and exits 0 for %s', async (flag) => {
    const { status, out, err } = await cli(flag)
    expect(status).toBe(0)
    expect(err).toBe('')
    expect(out).toMatch(/^Usage: assisters <command>/)
    for (const command of ['accounts create', 'keys create', 'keys list', 'keys revoke', 'keys primary', 'usage']) {
      expect(out).toContain(command)
    }
  })
})

describe('the real command', () => {
  it('prints only JSON on stdout for keys create --json, and exits 0', async () => {
    const account = await createAccount()
    const { code, stdout, stderr } = await spawnCommand('npm', [
      'run',
      '--silent',
      'assisters',
      '--',
      'keys',
      'create',
      '--account',
      account,
      '--name',
      'From npm',
      '--domains',
      'Example.com',
      '--json',
    ])
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const created = JSON.parse(stdout)
    expect(created.key).toMatch(/^ask_/)
    expect(isWellFormedKey(created.key)).toBe(true)
    expect(created).toMatchObject({ account_id: account, name: 'From npm', allowed_domains: ['example.com'] })
    expect((await json('keys', 'list', '--account', account)).data).toMatchObject([{ id: created.id, is_primary: true }])
  })

  it('prints nothing on stdout and a JSON error on stderr when refused, and exits 1', async () => {
    const { code, stdout, stderr } = await spawnCommand('npm', [
      'run',
      '--silent',
      'assisters',
      '--',
      'keys',
      'create',
      '--account',
      'acct_missing',
      '--name',
      'x',
      '--json',
    ])
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(JSON.parse(stderr)).toMatchObject({ error: { code: 'not_found', message: 'Unknown account' } })
  })

  it('never exceeds 10 active keys when several terminals create keys at once', async () => {
    const account = await createAccount()
    for (let i = 0; i < 8; i++) await createKey(account)
    const runs = await Promise.all(
      Array.from({ length: 3 }, (_, i) =>
        spawnCommand('node', ['--import', 'tsx', 'server/cli.ts', 'keys', 'create', '--account', account, '--name', `race ${i}`, '--json']),
      ),
    )
    expect(runs.map((run) => run.code).sort()).toEqual([0, 0, 1])
    const refused = runs.find((run) => run.code === 1)!
    expect(JSON.parse(refused.stderr).error.code).toBe('key_limit_reached')
    const { data } = await json('keys', 'list', '--account', account)
    expect(data).toHaveLength(10)
    expect(data.filter((key: { is_primary: boolean }) => key.is_primary)).toHaveLength(1)
  })
})

describe('the CLI and a running server', () => {
  it('share one database: a CLI key works at once, its revocation applies within a second, and usage shows up', async () => {
    const answer = JSON.stringify(completion('Bonjour', { prompt_tokens: 3, completion_tokens: 4 }))
    const upstream: Upstream = { send: async () => ({ status: 200, body: [Buffer.from(answer)] }), close() {} }
    const server = await startServer({ DATABASE_URL: env.DATABASE_URL!, UPSTREAM_BASE_URL: '' }, { upstream })
    try {
      const account = await createAccount()
      const key = await createKey(account, '--domains', 'localhost')
      const body = { model: MODEL, messages: [{ role: 'user', content: 'Hello' }] }

      const allowed = await server.chat(key.key, body, { origin: 'http://localhost:5173' })
      expect(allowed.status).toBe(200)
      expect((await allowed.json()).choices[0].message.content).toBe('Bonjour')
      expect((await server.chat(key.key, body, { origin: 'https://evil.example' })).status).toBe(403)

      // The server flushes usage on request; the CLI reads the same rows.
      expect((await server.admin('GET', `/admin/accounts/${account}/usage`)).status).toBe(200)
      expect(await json('usage', '--account', account)).toEqual({
        data: [{ key_id: key.id, day: new Date().toISOString().slice(0, 10), requests: 1, prompt_tokens: 3, completion_tokens: 4 }],
      })
      const { out } = await cli('usage', '--account', account)
      expect(out).toContain('1 request  3 prompt + 4 completion tokens')

      // SQLite: the next request. PostgreSQL: within a second, when the NOTIFY reaches the server's key cache.
      await json('keys', 'revoke', key.id)
      const refused = async () => (await server.chat(key.key, body, { origin: 'http://localhost:5173' })).status
      if (TEST_STORE === 'sqlite') expect(await refused()).toBe(401)
      else await expect.poll(refused, { timeout: 1_000, interval: 10 }).toBe(401)

      // And the other way round: a key made through the server's admin API is listed by the CLI.
      const viaServer = await server.createKey({ name: 'Via admin API' }, account)
      expect((await json('keys', 'list', '--account', account)).data.map((k: { id: string }) => k.id)).toEqual([key.id, viaServer.id])
    } finally {
      await server.close()
    }
  })
})

describe('assisters accounts list, keys update and owners (issue 14)', () => {
  it('lists every account, so a lost id can be found again', async () => {
    expect(await cli('accounts', 'list')).toEqual({ status: 0, out: 'No accounts yet.\n', err: '' })
    const first = await createAccount('First')
    const second = await createAccount('Second')
    expect((await json('accounts', 'list')).data.map((account: { id: string }) => account.id)).toEqual([first, second])
    const { out } = await cli('accounts', 'list')
    expect(out).toMatch(new RegExp(`^${first}  First  created .+\n${second}  Second  created .+\n$`))
  })

  it('updates only the options given; an empty --domains allows every origin, --rpm default follows RATE_LIMIT_RPM', async () => {
    const account = await createAccount()
    const key = await createKey(account, '--domains', 'a.example', '--rpm', '5', '--instructions', 'Be brief.')
    const renamed = await json('keys', 'update', key.id, '--name', 'Renamed')
    expect(renamed).toMatchObject({ name: 'Renamed', allowed_domains: ['a.example'], rate_limit_rpm: 5, instructions: 'Be brief.' })
    expect(
      await json('keys', 'update', key.id, '--domains', 'B.example,*.c.example', '--rpm', 'default', '--instructions', ''),
    ).toMatchObject({ allowed_domains: ['b.example', '*.c.example'], rate_limit_rpm: 60, instructions: null })
    expect(await json('keys', 'update', key.id, '--domains', '')).toMatchObject({ allowed_domains: [] })
    const { status, out } = await cli('keys', 'update', key.id, '--rpm', '9')
    expect(status).toBe(0)
    expect(out).toMatch(new RegExp(`^Updated ${key.id} .* 9/min, no visitor limit\n$`))
  })

  it.each([
    ['no change asked for', (id: string) => ['keys', 'update', id], 2, /at least one of/],
    ['no key id', () => ['keys', 'update', '--name', 'x'], 2, /KEY_ID is required/],
    ['an unknown key', () => ['keys', 'update', 'key_nope', '--name', 'x'], 1, /Unknown key/],
    ['a bad domain', (id: string) => ['keys', 'update', id, '--domains', '*.com'], 1, /public suffix/],
    ['a bad rate limit', (id: string) => ['keys', 'update', id, '--rpm', 'lots'], 2, /--rpm must be a whole number/],
  ])('refuses keys update with %s', async (_case, argv, code, message) => {
    const account = await createAccount()
    const key = await createKey(account)
    const { status, err } = await cli(...argv(key.id))
    expect(status).toBe(code)
    expect(err).toMatch(message)
  })

  it('stops on a PUBLIC_URL that is not an origin, naming the variable', async () => {
    env.PUBLIC_URL = 'https://dash.example.com/app'
    const { status, err } = await cli('accounts', 'list')
    expect(status).toBe(1)
    expect(err).toMatch(/^assisters: PUBLIC_URL must be an http or https origin/)
  })

  it('refuses to update a revoked key', async () => {
    const account = await createAccount()
    const key = await createKey(account)
    await cli('keys', 'revoke', key.id)
    const { status, err } = await cli('keys', 'update', key.id, '--name', 'x')
    expect(status).toBe(1)
    expect(err).toMatch(/revoked key cannot be changed/)
  })

  it('creates an owner with a one-time link on PUBLIC_URL (or localhost:PORT), lists owners, and gives a new link', async () => {
    const account = await createAccount()
    const { status, out } = await cli('owners', 'create', '--account', account, '--email', 'Ana@Example.com')
    expect(status).toBe(0)
    expect(out).toMatch(
      /^Created owner ana@example\.com \(owner_\w+\)\. Send them this link .* it works once, until \S+:\n\n {2}http:\/\/localhost:8787\/dashboard\/set-password#[\w-]{43}\n$/,
    )

    env.PUBLIC_URL = 'https://dash.example.com/'
    const linked = await json('owners', 'link', '--email', 'ana@example.com')
    expect(linked).toEqual({
      owner: expect.objectContaining({ email: 'ana@example.com', password_set: false }),
      set_password_url: expect.stringMatching(/^https:\/\/dash\.example\.com\/dashboard\/set-password#[\w-]{43}$/),
      expires_at: expect.any(String),
    })
    expect(Date.parse(linked.expires_at) - Date.now()).toBeGreaterThan(23 * 3600_000)
    expect((await json('owners', 'list', '--account', account)).data).toEqual([linked.owner])
    expect((await cli('owners', 'list', '--account', account)).out).toMatch(/ana@example\.com {2}waiting for the set-password link/)

    env.PORT = '9999'
    delete env.PUBLIC_URL
    expect((await json('owners', 'link', '--email', 'ana@example.com')).set_password_url).toMatch(/^http:\/\/localhost:9999\//)
  })

  it('removes an owner, who then cannot be found or removed again', async () => {
    const account = await createAccount()
    const link = await json('owners', 'create', '--account', account, '--email', 'gone@example.com')
    const { status, out } = await cli('owners', 'remove', link.owner.id)
    expect(status).toBe(0)
    expect(out).toBe(`Removed owner gone@example.com (${link.owner.id}): their sessions have ended.\n`)
    expect((await json('owners', 'list', '--account', account)).data).toEqual([])
    const again = await cli('owners', 'remove', link.owner.id)
    expect(again.status).toBe(1)
    expect(again.err).toMatch(/Unknown owner/)
    expect((await cli('owners', 'remove')).err).toMatch(/OWNER_ID is required/)
  })

  it.each([
    ['a bad email', (account: string) => ['owners', 'create', '--account', account, '--email', 'nope'], /email must be an address/],
    [
      'a taken email',
      (account: string) => ['owners', 'create', '--account', account, '--email', 'taken@example.com'],
      /already signs in with this email/,
    ],
    ['an unknown account', () => ['owners', 'create', '--account', 'acct_nope', '--email', 'x@example.com'], /Unknown account/],
    ['an unknown owner', () => ['owners', 'link', '--email', 'nobody@example.com'], /Unknown owner/],
    ['an unknown option', (account: string) => ['owners', 'list', '--account', account, '--public', 'x'], /Unknown option/],
  ])('refuses owners with %s', async (_case, argv, message) => {
    const account = await createAccount()
    await cli('owners', 'create', '--account', account, '--email', 'taken@example.com')
    const { status, err } = await cli(...argv(account))
    expect(status).toBeGreaterThan(0)
    expect(err).toMatch(message)
  })
})

describe('assisters key and account limits (issue 16)', () => {
  it('sets a key’s limits at creation and changes them; default and none put them back', async () => {
    const account = await createAccount()
    const key = await createKey(
      account,
      '--domains',
      'a.example',
      '--visitor-rpm',
      '4',
      '--daily-tokens',
      '900',
      '--system-messages',
      'refuse',
    )
    expect(key).toMatchObject({ visitor_rpm: 4, daily_token_limit: 900, allow_system_messages: false })
    expect(
      await json('keys', 'update', key.id, '--visitor-rpm', 'default', '--daily-tokens', 'none', '--system-messages', 'allow'),
    ).toMatchObject({
      visitor_rpm: 20,
      visitor_rpm_is_default: true,
      daily_token_limit: null,
      allow_system_messages: true,
    })
    const { out } = await cli('keys', 'update', key.id, '--visitor-rpm', '0', '--daily-tokens', '50', '--system-messages', 'refuse')
    expect(out).toMatch(/60\/min, no visitor limit, 50 tokens\/day, system messages refused\n$/)
  })

  it('sets and removes an account’s daily budget', async () => {
    const account = await createAccount('Budgeted')
    expect(await json('accounts', 'update', account, '--daily-tokens', '1000')).toMatchObject({ id: account, daily_token_limit: 1000 })
    expect((await cli('accounts', 'update', account, '--daily-tokens', 'none')).out).toBe(
      `Updated ${account}  Budgeted  no daily token budget\n`,
    )
    expect((await json('accounts', 'list')).data.find((a: { id: string }) => a.id === account).daily_token_limit).toBeNull()
  })

  it.each<[string, (account: string, keyId: string) => string[], number, RegExp]>([
    [
      'a word for --visitor-rpm',
      (_a, key) => ['keys', 'update', key, '--visitor-rpm', 'none'],
      2,
      /--visitor-rpm must be a whole number or 'default'/,
    ],
    [
      '--daily-tokens 1e3',
      (_a, key) => ['keys', 'update', key, '--daily-tokens', '1e3'],
      2,
      /--daily-tokens must be a whole number or 'none'/,
    ],
    // parseArgs reads -1 as an option of its own: refused before the value is looked at.
    ['a negative --daily-tokens', (_a, key) => ['keys', 'update', key, '--daily-tokens', '-1'], 2, /--daily-tokens/],
    [
      'a zero --daily-tokens',
      (_a, key) => ['keys', 'update', key, '--daily-tokens', '0'],
      1,
      /daily_token_limit must be a whole number from 1/,
    ],
    [
      '--system-messages yes',
      (_a, key) => ['keys', 'update', key, '--system-messages', 'yes'],
      2,
      /--system-messages must be 'allow' or 'refuse'/,
    ],
    [
      'an account update with nothing to change',
      (account) => ['accounts', 'update', account],
      2,
      /needs at least one of --name, --daily-tokens/,
    ],
    ['an account update of an unknown account', () => ['accounts', 'update', 'acct_nope', '--daily-tokens', '5'], 1, /Unknown account/],
    ['an account update without its id', () => ['accounts', 'update', '--daily-tokens', '5'], 2, /ACCOUNT_ID is required/],
    [
      'a too large --daily-tokens on an account',
      (account) => ['accounts', 'update', account, '--daily-tokens', '1000000001'],
      1,
      /daily_token_limit/,
    ],
  ])('refuses %s, changing nothing', async (_case, argv, exit, message) => {
    const account = await createAccount()
    const key = await createKey(account, '--visitor-rpm', '3', '--daily-tokens', '30')
    const { status, err } = await cli(...argv(account, key.id))
    expect(status).toBe(exit)
    expect(err).toMatch(message)
    expect((await json('keys', 'list', '--account', account)).data[0]).toMatchObject({
      visitor_rpm: 3,
      daily_token_limit: 30,
      allow_system_messages: true,
    })
    expect((await json('accounts', 'list')).data.find((a: { id: string }) => a.id === account).daily_token_limit).toBeNull()
  })
})
