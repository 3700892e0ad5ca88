import { createServer, type AddressInfo } from 'node:net'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
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
      trustProxy: undefined,
      visitorRpm: 20,
      visitorIdSecret: undefined,
      maxStreamsPerKey: 100,
      maxStreamsPerVisitor: 10,
      streamLeaseMs: 30_000,
      redis: undefined,
      adminToken: undefined,
      signupOpen: false,
      workers: 1,
      metrics: undefined,
      limits: { maxBodyBytes: 1_048_576, maxMessages: 50, maxMessageChars: 16_000, maxOutputTokens: 1024 },
    })
  })

  it('treats a value that is empty after trimming as unset', () => {
    const blank = Object.fromEntries(
      [
        'PORT',
        'HOST',
        'DATABASE_URL',
        'DATABASE_POOL_SIZE',
        'DATABASE_STATEMENT_TIMEOUT_MS',
        'UPSTREAM_BASE_URL',
        'UPSTREAM_TIMEOUT_MS',
        'RATE_LIMIT_RPM',
        'VISITOR_RPM',
        'MAX_STREAMS_PER_KEY',
        'MAX_STREAMS_PER_VISITOR',
        'STREAM_LEASE_MS',
        'ADMIN_TOKEN',
        'MAX_BODY_BYTES',
        'REDIS_URL',
        'REDIS_PREFIX',
        'REDIS_TIMEOUT_MS',
        'REDIS_FAILURE_MODE',
        'WORKERS',
        'METRICS_PORT',
        'METRICS_HOST',
        'TRUST_PROXY',
        'VISITOR_ID_SECRET',
      ].map((name) => [name, '  \t']),
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
      VISITOR_RPM: ' 0 ',
      MAX_STREAMS_PER_KEY: '40',
      MAX_STREAMS_PER_VISITOR: '4',
      STREAM_LEASE_MS: '15000',
      ADMIN_TOKEN: 'a-long-admin-token-123',
      MAX_BODY_BYTES: '2048',
      MAX_MESSAGES: '10',
      MAX_MESSAGE_CHARS: '500',
      MAX_OUTPUT_TOKENS: '256',
      WORKERS: ' 3 ',
      METRICS_PORT: '9100',
      METRICS_HOST: '0.0.0.0',
      REDIS_URL: ' redis://:secret@redis.internal:6380/2 ',
      REDIS_PREFIX: 'shop-eu:',
      REDIS_TIMEOUT_MS: '250',
      REDIS_FAILURE_MODE: 'local',
      TRUST_PROXY: ' 2 ',
      VISITOR_ID_SECRET: 'a-visitor-id-secret-of-32-chars-or-more',
    })
    expect(config).toEqual({
      port: 9000,
      host: '0.0.0.0',
      database: { kind: 'sqlite', path: '/var/lib/assisters/db.sqlite' },
      upstream: { baseUrl: 'https://api.openai.com/v1', apiKey: 'sk-abc', model: 'gpt-4o-mini' },
      upstreamTimeoutMs: 5000,
      rateLimitRpm: 120,
      trustProxy: { hops: 2 },
      visitorRpm: 0,
      visitorIdSecret: 'a-visitor-id-secret-of-32-chars-or-more',
      maxStreamsPerKey: 40,
      maxStreamsPerVisitor: 4,
      streamLeaseMs: 15_000,
      redis: { url: 'redis://:secret@redis.internal:6380/2', prefix: 'shop-eu:', timeoutMs: 250, failureMode: 'local' },
      adminToken: 'a-long-admin-token-123',
      signupOpen: false,
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

  it('reads WORKERS=auto as one worker per core, and METRICS_HOST as loopback by default', () => {
    expect(loadConfig({ WORKERS: 'auto', REDIS_URL: 'redis://127.0.0.1' }).workers).toBe(availableParallelism())
    expect(loadConfig({ METRICS_PORT: '9100' }).metrics).toEqual({ host: '127.0.0.1', port: 9100 })
  })

  it.each([
    ['redis://127.0.0.1:6379'],
    ['redis://localhost'],
    ['rediss://default:pa%40ss@cache.example.com:6380/0'],
    ['redis://[::1]:6379/15'],
  ])('accepts REDIS_URL %s, with the documented defaults for its companions', (url) => {
    expect(loadConfig({ REDIS_URL: url }).redis).toEqual({ url, prefix: 'assisters:', timeoutMs: 500, failureMode: 'closed' })
  })

  it('leaves Redis out (the limiter in memory) when only its companions are set', () => {
    expect(loadConfig({ REDIS_PREFIX: 'x:', REDIS_TIMEOUT_MS: '100', REDIS_FAILURE_MODE: 'local' }).redis).toBeUndefined()
  })

  it('reads PUBLIC_URL as an origin, its trailing slash dropped; unset by default', () => {
    expect(loadConfig({}).publicUrl).toBeUndefined()
    expect([loadConfig({}).signupOpen, loadConfig({ SIGNUP: 'open' }).signupOpen, loadConfig({ SIGNUP: 'closed' }).signupOpen]).toEqual([
      false,
      true,
      false,
    ])
    expect(loadConfig({ PUBLIC_URL: 'https://Dash.Example.com/' }).publicUrl).toBe('https://dash.example.com')
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
    ['a PUBLIC_URL with a path', { PUBLIC_URL: 'https://x.example/app' }, 'PUBLIC_URL', /origin/],
    ['a SIGNUP that is neither open nor closed', { SIGNUP: 'yes' }, 'SIGNUP', /open or closed/],
    ['a PUBLIC_URL with credentials', { PUBLIC_URL: 'https://u:p@x.example' }, 'PUBLIC_URL'],
    ['a PUBLIC_URL that is not http', { PUBLIC_URL: 'ftp://x.example' }, 'PUBLIC_URL'],
    ['a PUBLIC_URL that is not a URL', { PUBLIC_URL: 'x.example' }, 'PUBLIC_URL'],
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
    [
      'an UPSTREAM_BASE_URL with credentials',
      { ...UPSTREAM, UPSTREAM_BASE_URL: 'https://user:pw@api.example.com/v1' },
      'UPSTREAM_BASE_URL',
      /UPSTREAM_API_KEY/,
    ],
    ['an UPSTREAM_BASE_URL with a query', { ...UPSTREAM, UPSTREAM_BASE_URL: 'https://api.example.com/v1?key=x' }, 'UPSTREAM_BASE_URL'],
    ['an UPSTREAM_BASE_URL with a fragment', { ...UPSTREAM, UPSTREAM_BASE_URL: 'https://api.example.com/v1#x' }, 'UPSTREAM_BASE_URL'],
    ['UPSTREAM_BASE_URL without UPSTREAM_MODEL', { UPSTREAM_BASE_URL: 'https://api.example.com/v1' }, 'UPSTREAM_MODEL'],
    [
      'UPSTREAM_BASE_URL with a blank UPSTREAM_MODEL',
      { UPSTREAM_BASE_URL: 'https://api.example.com/v1', UPSTREAM_MODEL: ' ' },
      'UPSTREAM_MODEL',
    ],
    ['UPSTREAM_TIMEOUT_MS 0', { UPSTREAM_TIMEOUT_MS: '0' }, 'UPSTREAM_TIMEOUT_MS'],
    ['UPSTREAM_TIMEOUT_MS abc', { UPSTREAM_TIMEOUT_MS: 'abc' }, 'UPSTREAM_TIMEOUT_MS'],
    ['RATE_LIMIT_RPM 0', { RATE_LIMIT_RPM: '0' }, 'RATE_LIMIT_RPM'],
    ['RATE_LIMIT_RPM -5', { RATE_LIMIT_RPM: '-5' }, 'RATE_LIMIT_RPM'],
    ['RATE_LIMIT_RPM 1e3', { RATE_LIMIT_RPM: '1e3' }, 'RATE_LIMIT_RPM'],
    ['VISITOR_RPM -1', { VISITOR_RPM: '-1' }, 'VISITOR_RPM'],
    ['VISITOR_RPM 2.5', { VISITOR_RPM: '2.5' }, 'VISITOR_RPM'],
    ['VISITOR_RPM 100001', { VISITOR_RPM: '100001' }, 'VISITOR_RPM'],
    ['VISITOR_RPM off', { VISITOR_RPM: 'off' }, 'VISITOR_RPM'],
    ['MAX_STREAMS_PER_KEY 0', { MAX_STREAMS_PER_KEY: '0' }, 'MAX_STREAMS_PER_KEY', /from 1 to 100000/],
    ['MAX_STREAMS_PER_KEY 2.5', { MAX_STREAMS_PER_KEY: '2.5' }, 'MAX_STREAMS_PER_KEY'],
    ['MAX_STREAMS_PER_KEY over 100000', { MAX_STREAMS_PER_KEY: '100001' }, 'MAX_STREAMS_PER_KEY'],
    ['MAX_STREAMS_PER_VISITOR 0', { MAX_STREAMS_PER_VISITOR: '0' }, 'MAX_STREAMS_PER_VISITOR'],
    ['MAX_STREAMS_PER_VISITOR -1', { MAX_STREAMS_PER_VISITOR: '-1' }, 'MAX_STREAMS_PER_VISITOR'],
    ['MAX_STREAMS_PER_VISITOR ten', { MAX_STREAMS_PER_VISITOR: 'ten' }, 'MAX_STREAMS_PER_VISITOR'],
    ['STREAM_LEASE_MS under a second', { STREAM_LEASE_MS: '999' }, 'STREAM_LEASE_MS', /from 1000 to 600000/],
    ['STREAM_LEASE_MS with a unit', { STREAM_LEASE_MS: '30s' }, 'STREAM_LEASE_MS'],
    ['an ADMIN_TOKEN shorter than 16 characters', { ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN', /at least 16/],
    ['an ADMIN_TOKEN with a space', { ADMIN_TOKEN: 'a long token with spaces' }, 'ADMIN_TOKEN'],
    ['MAX_BODY_BYTES under 1 KiB', { MAX_BODY_BYTES: '100' }, 'MAX_BODY_BYTES'],
    ['MAX_BODY_BYTES with a unit', { MAX_BODY_BYTES: '1mb' }, 'MAX_BODY_BYTES'],
    ['MAX_MESSAGES 0', { MAX_MESSAGES: '0' }, 'MAX_MESSAGES'],
    ['MAX_MESSAGE_CHARS abc', { MAX_MESSAGE_CHARS: 'abc' }, 'MAX_MESSAGE_CHARS'],
    ['MAX_OUTPUT_TOKENS 0', { MAX_OUTPUT_TOKENS: '0' }, 'MAX_OUTPUT_TOKENS'],
    ['WORKERS 2 without REDIS_URL', { WORKERS: '2' }, 'WORKERS=2 needs REDIS_URL', /2 times its limit/],
    ['WORKERS 0', { WORKERS: '0' }, 'WORKERS'],
    ['WORKERS 257', { WORKERS: '257' }, 'WORKERS'],
    ['WORKERS that is a word other than auto', { WORKERS: 'many' }, 'WORKERS', /or auto/],
    ['WORKERS 1.5', { WORKERS: '1.5' }, 'WORKERS'],
    ['METRICS_PORT 0', { METRICS_PORT: '0' }, 'METRICS_PORT'],
    ['METRICS_PORT abc', { METRICS_PORT: 'abc' }, 'METRICS_PORT'],
    ['METRICS_PORT equal to PORT', { PORT: '9000', METRICS_PORT: '9000' }, 'METRICS_PORT', /differ from PORT/],
    ['a REDIS_URL that is not a URL', { REDIS_URL: 'localhost:6379' }, 'REDIS_URL', /redis:\/\//],
    ['an http:// REDIS_URL', { REDIS_URL: 'http://localhost:6379' }, 'REDIS_URL', /not http:/],
    ['a REDIS_URL without a host', { REDIS_URL: 'redis://:6379' }, 'REDIS_URL'],
    ['a REDIS_URL with a port out of range', { REDIS_URL: 'redis://localhost:70000' }, 'REDIS_URL'],
    ['a REDIS_URL with a path', { REDIS_URL: 'redis://localhost/cache' }, 'REDIS_URL', /database number/],
    ['a REDIS_URL with a query', { REDIS_URL: 'redis://localhost?enableOfflineQueue=true' }, 'REDIS_URL', /no query/],
    ['a REDIS_URL with a fragment', { REDIS_URL: 'redis://localhost#x' }, 'REDIS_URL'],
    ['a REDIS_PREFIX with a glob character', { REDIS_PREFIX: 'app*' }, 'REDIS_PREFIX'],
    ['a REDIS_PREFIX with a space', { REDIS_PREFIX: 'my app:' }, 'REDIS_PREFIX'],
    ['a REDIS_PREFIX longer than 64 characters', { REDIS_PREFIX: 'p'.repeat(65) }, 'REDIS_PREFIX'],
    ['REDIS_TIMEOUT_MS under 10', { REDIS_TIMEOUT_MS: '5' }, 'REDIS_TIMEOUT_MS'],
    ['REDIS_TIMEOUT_MS with a unit', { REDIS_TIMEOUT_MS: '500ms' }, 'REDIS_TIMEOUT_MS'],
    ['REDIS_FAILURE_MODE open (which would read as no limit)', { REDIS_FAILURE_MODE: 'open' }, 'REDIS_FAILURE_MODE', /closed .* or local/],
    ['REDIS_FAILURE_MODE in capitals', { REDIS_FAILURE_MODE: 'CLOSED' }, 'REDIS_FAILURE_MODE'],
    ['TRUST_PROXY 0 (which reads as trusting no proxy: leave it unset)', { TRUST_PROXY: '0' }, 'TRUST_PROXY', /from 1 to 10/],
    ['TRUST_PROXY 11 hops', { TRUST_PROXY: '11' }, 'TRUST_PROXY', /from 1 to 10/],
    ['TRUST_PROXY true', { TRUST_PROXY: 'true' }, 'TRUST_PROXY', /'true' is neither an IP address nor a CIDR/],
    ['TRUST_PROXY with a prefix too long for IPv4', { TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY', /0 to 32/],
    ['TRUST_PROXY with a prefix too long for IPv6', { TRUST_PROXY: 'fd00::/129' }, 'TRUST_PROXY', /0 to 128/],
    ['TRUST_PROXY with an empty entry', { TRUST_PROXY: '10.0.0.1,,10.0.0.2' }, 'TRUST_PROXY', /empty entry/],
    ['TRUST_PROXY with a host name', { TRUST_PROXY: 'proxy.internal' }, 'TRUST_PROXY'],
    ['TRUST_PROXY with a bracketed IPv6 address', { TRUST_PROXY: '[::1]' }, 'TRUST_PROXY'],
    ['a VISITOR_ID_SECRET under 32 characters', { VISITOR_ID_SECRET: 'short-secret' }, 'VISITOR_ID_SECRET', /at least 32/],
    ['a VISITOR_ID_SECRET with a space', { VISITOR_ID_SECRET: 'a long secret with spaces in it, 40 chars' }, 'VISITOR_ID_SECRET'],
  ])('refuses %s with one line naming the variable', (_case, env, variable, why) => {
    const err = configError(env)
    expect(err.message).toContain(variable)
    expect(err.message).not.toContain('\n')
    if (why) expect(err.message).toMatch(why)
  })

  it.each([
    ['a valid URL', 'https://user:sk-secret-123@api.example.com/v1'],
    ['an invalid URL', 'https://user:sk-secret-123@api example.com/v1'],
    ['an invalid URL with a / in the password', 'https://user:sk-secret-123/x@api.example.com/v1'],
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

describe('DATABASE_URL and PUBLIC_URL errors', () => {
  it.each([
    ['a mysql:// URL', { DATABASE_URL: 'mysql://root:db-secret-123@db/app' }],
    ['a misspelt postgres:// URL', { DATABASE_URL: 'postgre://assisters:db-secret-123@db/app' }],
    ['a PUBLIC_URL with credentials', { PUBLIC_URL: 'https://admin:db-secret-123@x.example' }],
    ['a PUBLIC_URL that is not a URL, with credentials', { PUBLIC_URL: 'https://admin:db-secret/123@x example' }],
  ])('never repeat the password in %s', (_case, env) => {
    const err = configError(env)
    expect(err.message).toContain(Object.keys(env)[0])
    expect(err.message).not.toContain('db-secret')
  })

  it('still shows a value with no password in it', () => {
    expect(configError({ DATABASE_URL: 'mysql://x' }).message).toContain("got 'mysql:…'")
    expect(configError({ DATABASE_URL: 'nonsense' }).message).toContain("got 'nonsense'")
  })
})

describe('VISITOR_ID_SECRET errors', () => {
  it('never repeat the secret', () => {
    const err = configError({ VISITOR_ID_SECRET: 'hunter2-but-too-short' })
    expect(err.message).toContain('VISITOR_ID_SECRET')
    expect(err.message).not.toContain('hunter2')
  })
})

describe('REDIS_URL errors', () => {
  it.each([
    ['a URL with another scheme', 'http://user:hunter2-redis-pw@cache:6379'],
    ['a URL that does not parse', 'redis://:hunter2-redis-pw@cache:99999'],
    ['a password with a slash', 'redis://:hunter2/redis-pw@cache:6379'],
    ['a URL with a query', 'redis://:hunter2-redis-pw@cache:6379?db=1'],
    ['a URL with a path', 'redis://:hunter2-redis-pw@cache:6379/x'],
    ['no scheme at all', ':hunter2-redis-pw@cache:6379'],
  ])('never repeat any part of the password in %s', (_case, url) => {
    const err = configError({ REDIS_URL: url })
    expect(err.message).toContain('REDIS_URL')
    expect(err.message).not.toMatch(/hunter2|redis-pw/)
  })
})

describe('npm run serve', () => {
  it('stops at once with exactly one line naming PORT when PORT is bad', async () => {
    const { code, stdout, stderr } = await runCommand(
      'npm',
      ['run', '--silent', 'serve'],
      { PORT: '65536', DATABASE_URL: 'sqlite::memory:' },
      10_000,
    )
    expect(code).toBe(1)
    expect(stdout).toBe('')
    const lines = stderr.trimEnd().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^assisters: PORT must be a whole number from 0 to 65535, got '65536'$/)
  })

  it.each([
    ['a file that is not a database', (dir: string) => join(dir, 'notes.txt'), /file is not a database/],
    ['a folder', (dir: string) => dir, /unable to open database file/],
    ['a path through a file', (dir: string) => join(dir, 'notes.txt', 'assisters.db'), /EEXIST|ENOTDIR/],
  ])('stops with one line naming DATABASE_URL when its SQLite file is %s', async (_case, pathIn, why) => {
    const dir = mkdtempSync(join(tmpdir(), 'assisters-db-'))
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
    const text = 'Not a database, but text that must stay as it is.\n'.repeat(20)
    writeFileSync(join(dir, 'notes.txt'), text)
    const path = pathIn(dir)
    const { code, stderr } = await runCommand('npm', ['run', '--silent', 'serve'], { PORT: '0', DATABASE_URL: `sqlite:${path}` }, 10_000)
    expect(code).toBe(1)
    const lines = stderr.trimEnd().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(`assisters: could not start: DATABASE_URL sqlite:${path} cannot be used: `)
    expect(lines[0]).toMatch(why)
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe(text)
  })

  it('stops with one line naming HOST and PORT when it cannot listen there', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const { port } = taken.address() as AddressInfo
    try {
      const { code, stderr } = await runCommand(
        'npm',
        ['run', '--silent', 'serve'],
        { HOST: '127.0.0.1', PORT: String(port), DATABASE_URL: 'sqlite::memory:' },
        10_000,
      )
      expect(code).toBe(1)
      const lines = stderr.trimEnd().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(
        new RegExp(`^assisters: could not start: cannot listen on HOST 127\\.0\\.0\\.1 and PORT ${port}: .*EADDRINUSE`),
      )
    } finally {
      taken.close()
    }
  })
})
