import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../server/config.ts'
import { runCommand } from './harness.ts'


const UPSTREAM = { UPSTREAM_BASE_URL: 'http://localhost:11434/v1', UPSTREAM_MODEL: 'llama3' }

/** The ConfigError that loadConfig throws for this environment (fails the test if it does not throw one). */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`)
}

describe('loadConfig', () => {
  it('uses the documented defaults for an empty environment', () => {
    expect(loadConfig({})).toEqual({
      port: 8787,
      host: '127.0.0.1',
      database: { kind: 'sqlite', path: 'data/assisters.db' },
      upstream: undefined,
      upstreamTimeoutMs: 60_000,
      rateLimitRpm: 60,
      adminToken: undefined,
      limits: { maxBodyBytes: 1_048_576, maxMessages: 50, maxMessageChars: 16_000, maxOutputTokens: 1024 },
    })
  })

  it('treats a value that is empty after trimming as unset', () => {
    const blank = Object.fromEntries(
      ['PORT', 'HOST', 'DATABASE_URL', 'DATABASE_POOL_SIZE', 'DATABASE_STATEMENT_TIMEOUT_MS', 'UPSTREAM_BASE_URL',
        'UPSTREAM_TIMEOUT_MS', 'RATE_LIMIT_RPM', 'ADMIN_TOKEN', 'MAX_BODY_BYTES'].map((name) => [name, '  \t']),
    )
    expect(loadConfig(blank)).toEqual(loadConfig({}))
  })

  it('reads every variable, trimming surrounding whitespace', () => {
    const config = loadConfig({
      PORT: ' 9000 ',
      HOST: '0.0.0.0',
      DATABASE_URL: 'sqlite:/var/lib/assisters/db.sqlite',
      UPSTREAM_BASE_URL: 'https://api.openai.com/v1/',
      UPSTREAM_MODEL: 'gpt-4o-mini',
      UPSTREAM_API_KEY: 'sk-abc',
      UPSTREAM_TIMEOUT_MS: '5000',
      RATE_LIMIT_RPM: '120',
      ADMIN_TOKEN: 'a-long-admin-token-123',
      MAX_BODY_BYTES: '2048',
      MAX_MESSAGES: '10',
      MAX_MESSAGE_CHARS: '500',
      MAX_OUTPUT_TOKENS: '256',
    })
    expect(config).toEqual({
      port: 9000,
      host: '0.0.0.0',
      database: { kind: 'sqlite', path: '/var/lib/assisters/db.sqlite' },
      upstream: { baseUrl: 'https://api.openai.com/v1', apiKey: 'sk-abc', model: 'gpt-4o-mini' },
      upstreamTimeoutMs: 5000,
      rateLimitRpm: 120,
      adminToken: 'a-long-admin-token-123',
      limits: { maxBodyBytes: 2048, maxMessages: 10, maxMessageChars: 500, maxOutputTokens: 256 },
    })
  })

  it.each([
    ['sqlite:data/assisters.db', 'data/assisters.db'],
    ['sqlite:./x.db', './x.db'],
    ['sqlite:/tmp/x.db', '/tmp/x.db'],
    ['sqlite:///tmp/x.db', '/tmp/x.db'],
    ['sqlite::memory:', ':memory:'],
  ])('reads DATABASE_URL %s as the SQLite file %s', (url, path) => {
    expect(loadConfig({ DATABASE_URL: url }).database).toEqual({ kind: 'sqlite', path })
  })

  it.each([
    ['postgres://assisters:secret@db.internal:5433/assisters'],
    ['postgresql://db.internal/assisters?sslmode=require'],
    ['postgres://user:p%40ss%23word@127.0.0.1/x'],
    ['postgres:///assisters?host=/var/run/postgresql&user=assisters'],
  ])('reads DATABASE_URL %s as PostgreSQL with the default pool and statement timeout', (url) => {
    expect(loadConfig({ DATABASE_URL: url }).database).toEqual({ kind: 'postgres', url, poolSize: 10, statementTimeoutMs: 5000 })
  })

  it('reads DATABASE_POOL_SIZE and DATABASE_STATEMENT_TIMEOUT_MS for PostgreSQL', () => {
    const env = { DATABASE_URL: 'postgres://db/x', DATABASE_POOL_SIZE: ' 25 ', DATABASE_STATEMENT_TIMEOUT_MS: '1500' }
    expect(loadConfig(env).database).toEqual({ kind: 'postgres', url: 'postgres://db/x', poolSize: 25, statementTimeoutMs: 1500 })
  })

  it.each([
    ['0', 0],
    ['1', 1],
    ['65535', 65535],
  ])('accepts PORT %s', (value, port) => {
    expect(loadConfig({ PORT: value }).port).toBe(port)
  })

  it('leaves the upstream key unset when UPSTREAM_API_KEY is (a local server needs none)', () => {
    expect(loadConfig(UPSTREAM).upstream).toEqual({ baseUrl: 'http://localhost:11434/v1', apiKey: undefined, model: 'llama3' })
  })

  it.each<[string, Record<string, string>, string, RegExp?]>([
    ['PORT above 65535', { PORT: '65536' }, 'PORT'],
    ['a negative PORT', { PORT: '-1' }, 'PORT'],
    ['a PORT that is not a number', { PORT: 'abc' }, 'PORT'],
    ['a fractional PORT', { PORT: '1.5' }, 'PORT'],
    ['a PORT in exponent notation', { PORT: '8e3' }, 'PORT'],
    ['a PORT with a sign', { PORT: '+80' }, 'PORT'],
    ['a mysql:// DATABASE_URL', { DATABASE_URL: 'mysql://x' }, 'DATABASE_URL', /sqlite:<path> or postgres:\/\//],
    ['a postgres:// URL that does not parse', { DATABASE_URL: 'postgres://user:pw@db:99999/x' }, 'DATABASE_URL', /%40/],
    ['a postgres:// URL with a fragment', { DATABASE_URL: 'postgres://user@db/x#part' }, 'DATABASE_URL', /%23/],
    ['a postgres:// URL with an unencoded # in the password', { DATABASE_URL: 'postgres://user:p#w@db/x' }, 'DATABASE_URL', /%23/],
    ['a postgres:// URL with no host', { DATABASE_URL: 'postgres:///assisters' }, 'DATABASE_URL', /no host/],
    ['DATABASE_POOL_SIZE 0', { DATABASE_POOL_SIZE: '0' }, 'DATABASE_POOL_SIZE'],
    ['DATABASE_POOL_SIZE 1001', { DATABASE_POOL_SIZE: '1001' }, 'DATABASE_POOL_SIZE'],
    ['DATABASE_POOL_SIZE ten', { DATABASE_POOL_SIZE: 'ten' }, 'DATABASE_POOL_SIZE'],
    ['DATABASE_STATEMENT_TIMEOUT_MS 99', { DATABASE_STATEMENT_TIMEOUT_MS: '99' }, 'DATABASE_STATEMENT_TIMEOUT_MS'],
    ['DATABASE_STATEMENT_TIMEOUT_MS 5s', { DATABASE_STATEMENT_TIMEOUT_MS: '5s' }, 'DATABASE_STATEMENT_TIMEOUT_MS'],
    ['DATABASE_STATEMENT_TIMEOUT_MS over ten minutes', { DATABASE_STATEMENT_TIMEOUT_MS: '600001' }, 'DATABASE_STATEMENT_TIMEOUT_MS'],
    ['sqlite: with no path', { DATABASE_URL: 'sqlite:' }, 'DATABASE_URL'],
    ['a DATABASE_URL with no scheme', { DATABASE_URL: 'nonsense' }, 'DATABASE_URL'],
    ['a bare path as DATABASE_URL', { DATABASE_URL: '/tmp/x.db' }, 'DATABASE_URL'],
    ['sqlite:// with a relative-looking path', { DATABASE_URL: 'sqlite://data/x.db' }, 'DATABASE_URL'],
    ['an UPSTREAM_BASE_URL that is not a URL', { ...UPSTREAM, UPSTREAM_BASE_URL: 'not a url' }, 'UPSTREAM_BASE_URL'],
    ['an ftp UPSTREAM_BASE_URL', { ...UPSTREAM, UPSTREAM_BASE_URL: 'ftp://x' }, 'UPSTREAM_BASE_URL', /http or https/],
    ['an UPSTREAM_BASE_URL with credentials', { ...UPSTREAM, UPSTREAM_BASE_URL: 'https://user:pw@api.example.com/v1' }, 'UPSTREAM_BASE_URL', /UPSTREAM_API_KEY/],
    ['an UPSTREAM_BASE_URL with a query', { ...UPSTREAM, UPSTREAM_BASE_URL: 'https://api.example.com/v1?key=x' }, 'UPSTREAM_BASE_URL'],
    ['an UPSTREAM_BASE_URL with a fragment', { ...UPSTREAM, UPSTREAM_BASE_URL: 'https://api.example.com/v1#x' }, 'UPSTREAM_BASE_URL'],
    ['UPSTREAM_BASE_URL without UPSTREAM_MODEL', { UPSTREAM_BASE_URL: 'https://api.example.com/v1' }, 'UPSTREAM_MODEL'],
    ['UPSTREAM_BASE_URL with a blank UPSTREAM_MODEL', { UPSTREAM_BASE_URL: 'https://api.example.com/v1', UPSTREAM_MODEL: ' ' }, 'UPSTREAM_MODEL'],
    ['UPSTREAM_TIMEOUT_MS 0', { UPSTREAM_TIMEOUT_MS: '0' }, 'UPSTREAM_TIMEOUT_MS'],
    ['UPSTREAM_TIMEOUT_MS abc', { UPSTREAM_TIMEOUT_MS: 'abc' }, 'UPSTREAM_TIMEOUT_MS'],
    ['RATE_LIMIT_RPM 0', { RATE_LIMIT_RPM: '0' }, 'RATE_LIMIT_RPM'],
    ['RATE_LIMIT_RPM -5', { RATE_LIMIT_RPM: '-5' }, 'RATE_LIMIT_RPM'],
    ['RATE_LIMIT_RPM 1e3', { RATE_LIMIT_RPM: '1e3' }, 'RATE_LIMIT_RPM'],
    ['an ADMIN_TOKEN shorter than 16 characters', { ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN', /at least 16/],
    ['an ADMIN_TOKEN with a space', { ADMIN_TOKEN: 'a long token with spaces' }, 'ADMIN_TOKEN'],
    ['MAX_BODY_BYTES under 1 KiB', { MAX_BODY_BYTES: '100' }, 'MAX_BODY_BYTES'],
    ['MAX_BODY_BYTES with a unit', { MAX_BODY_BYTES: '1mb' }, 'MAX_BODY_BYTES'],
    ['MAX_MESSAGES 0', { MAX_MESSAGES: '0' }, 'MAX_MESSAGES'],
    ['MAX_MESSAGE_CHARS abc', { MAX_MESSAGE_CHARS: 'abc' }, 'MAX_MESSAGE_CHARS'],
    ['MAX_OUTPUT_TOKENS 0', { MAX_OUTPUT_TOKENS: '0' }, 'MAX_OUTPUT_TOKENS'],
  ])('refuses %s with one line naming the variable', (_case, env, variable, why) => {
    const err = configError(env)
    expect(err.message).toContain(variable)
    expect(err.message).not.toContain('\n')
    if (why) expect(err.message).toMatch(why)
  })

  it.each([
    ['a valid URL', 'https://user:sk-secret-123@api.example.com/v1'],
    ['an invalid URL', 'https://user:sk-secret-123@api example.com/v1'],
  ])('never repeats the password in %s it refuses', (_case, url) => {
    const err = configError({ ...UPSTREAM, UPSTREAM_BASE_URL: url })
    expect(err.message).toContain('UPSTREAM_BASE_URL')
    expect(err.message).not.toContain('sk-secret-123')
  })

  it.each([
    ['a port out of range', 'postgres://assisters:pg-secret-123@db:99999/x'],
    ['a space in the host', 'postgres://assisters:pg-secret-123@db host/x'],
    ['an unencoded # in the password', 'postgres://assisters:pg-secret#123@db/x'],
    ['a password and no host', 'postgres://assisters:pg-secret-123@/x'],
  ])('never repeats a postgres password in a DATABASE_URL it refuses (%s)', (_case, url) => {
    const err = configError({ DATABASE_URL: url })
    expect(err.message).toContain('DATABASE_URL')
    expect(err.message).not.toContain('pg-secret')
  })
})

describe('npm run serve', () => {
  it('stops at once with exactly one line naming PORT when PORT is bad', async () => {
    const { code, stdout, stderr } = await runCommand('npm', ['run', '--silent', 'serve'], { PORT: '65536', DATABASE_URL: 'sqlite::memory:' }, 10_000)
    expect(code).toBe(1)
    expect(stdout).toBe('')
    const lines = stderr.trimEnd().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^assisters: PORT must be a whole number from 0 to 65535, got '65536'$/)
  })
})
