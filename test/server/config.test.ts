import { availableParallelism } from 'node:os'
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
      workers: 1,
      metrics: undefined,
      limits: { maxBodyBytes: 1_048_576, maxMessages: 50, maxMessageChars: 16_000, maxOutputTokens: 1024 },
    })
  })

  it('treats a value that is empty after trimming as unset', () => {
    const blank = Object.fromEntries(
      ['PORT', 'HOST', 'DATABASE_URL', 'UPSTREAM_BASE_URL', 'UPSTREAM_TIMEOUT_MS', 'RATE_LIMIT_RPM', 'ADMIN_TOKEN', 'MAX_BODY_BYTES']
        .map((name) => [name, '  \t']),
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
      WORKERS: ' 3 ',
      METRICS_PORT: '9100',
      METRICS_HOST: '0.0.0.0',
    })
    expect(config).toEqual({
      port: 9000,
      host: '0.0.0.0',
      database: { kind: 'sqlite', path: '/var/lib/assisters/db.sqlite' },
      upstream: { baseUrl: 'https://api.openai.com/v1', apiKey: 'sk-abc', model: 'gpt-4o-mini' },
      upstreamTimeoutMs: 5000,
      rateLimitRpm: 120,
      adminToken: 'a-long-admin-token-123',
      workers: 3,
      metrics: { host: '0.0.0.0', port: 9100 },
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
    ['0', 0],
    ['1', 1],
    ['65535', 65535],
  ])('accepts PORT %s', (value, port) => {
    expect(loadConfig({ PORT: value }).port).toBe(port)
  })

  it('reads WORKERS=auto as one worker per core, and METRICS_HOST as loopback by default', () => {
    expect(loadConfig({ WORKERS: 'auto' }).workers).toBe(availableParallelism())
    expect(loadConfig({ METRICS_PORT: '9100' }).metrics).toEqual({ host: '127.0.0.1', port: 9100 })
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
    ['a postgres:// DATABASE_URL', { DATABASE_URL: 'postgres://user@db/assisters' }, 'DATABASE_URL', /not supported yet/],
    ['a postgresql:// DATABASE_URL', { DATABASE_URL: 'postgresql://db/assisters' }, 'DATABASE_URL', /not supported yet/],
    ['a mysql:// DATABASE_URL', { DATABASE_URL: 'mysql://x' }, 'DATABASE_URL', /sqlite:<path>/],
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
    ['WORKERS 0', { WORKERS: '0' }, 'WORKERS'],
    ['WORKERS 257', { WORKERS: '257' }, 'WORKERS'],
    ['WORKERS that is a word other than auto', { WORKERS: 'many' }, 'WORKERS', /or auto/],
    ['WORKERS 1.5', { WORKERS: '1.5' }, 'WORKERS'],
    ['METRICS_PORT 0', { METRICS_PORT: '0' }, 'METRICS_PORT'],
    ['METRICS_PORT abc', { METRICS_PORT: 'abc' }, 'METRICS_PORT'],
    ['METRICS_PORT equal to PORT', { PORT: '9000', METRICS_PORT: '9000' }, 'METRICS_PORT', /differ from PORT/],
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
