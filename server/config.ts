/**
 * The server's configuration, read from the environment once at start-up. A bad value throws a
 * ConfigError whose message is one line naming the variable.
 */
import { availableParallelism } from 'node:os'
import { parseTrustProxy, type TrustProxy } from './client-address.ts'

export class ConfigError extends Error {
  override name = 'ConfigError'
}

export interface Config {
  port: number
  host: string
  /** Where the store lives: an SQLite file (`:memory:` is allowed for tests) or a PostgreSQL database. */
  database: { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string; poolSize: number; statementTimeoutMs: number }
  /** Unset: the built-in offline demo responder answers. */
  upstream: { baseUrl: string; apiKey: string | undefined; model: string } | undefined
  upstreamTimeoutMs: number
  rateLimitRpm: number
  /** Which proxies' X-Forwarded-For / Forwarded to believe (TRUST_PROXY); unset: none, the socket's address is the client's. */
  trustProxy: TrustProxy | undefined
  /**
   * Requests per rolling minute from one visitor (VISITOR_RPM), for keys with allowed domains that set
   * no visitor_rpm of their own; 0: no such limit.
   */
  visitorRpm: number
  /** Keys the pseudonymous visitor id sent upstream as `user` (VISITOR_ID_SECRET); unset: a secret kept in the store. */
  visitorIdSecret: string | undefined
  /** Chat answers in flight at once per key (MAX_STREAMS_PER_KEY), streamed or not: each holds an upstream request. */
  maxStreamsPerKey: number
  /** Likewise per visitor of a key with allowed domains (MAX_STREAMS_PER_VISITOR). */
  maxStreamsPerVisitor: number
  /**
   * With Redis, how long a process's hold on a stream slot lasts unless it renews it (STREAM_LEASE_MS):
   * a process that dies frees its slots within this.
   */
  streamLeaseMs: number
  /** Where the rate limits live when several processes share them; unset: in this process's memory. */
  redis: RedisConfig | undefined
  /** Unset: the admin API answers 404. */
  adminToken: string | undefined
  /**
   * The origin browsers reach this server at (PUBLIC_URL), e.g. https://api.example.com: set-password
   * links start with it, and the dashboard accepts state-changing calls only from it. Unset: links
   * start with http://localhost:PORT and the dashboard accepts its own Host over http or https.
   */
  publicUrl: string | undefined
  /** SIGNUP=open: anyone may create an account and its first owner on the dashboard's sign-up page. */
  signupOpen: boolean
  /** Processes sharing the port (node:cluster); 1 runs the server in this process. */
  workers: number
  /** Unset: metrics only at GET /metrics on the API port, behind the admin token. */
  metrics: { host: string; port: number } | undefined
  /** Server-side policy on chat requests. */
  limits: {
    maxBodyBytes: number
    maxMessages: number
    maxMessageChars: number
    maxOutputTokens: number
  }
}

/** The shared rate limiter in Redis (rate-limit-redis.ts). */
export interface RedisConfig {
  /** redis:// or rediss://, possibly with a password: never log it. */
  url: string
  /** Starts every key, so several deployments can share one Redis. */
  prefix: string
  /** Longest wait for one limiter check. */
  timeoutMs: number
  /** When Redis cannot answer: `closed` refuses with 503; `local` limits each process by itself in memory. */
  failureMode: 'closed' | 'local'
}

type Env = Record<string, string | undefined>

/** Reads and checks every variable; throws ConfigError on the first bad one. */
export function loadConfig(env: Env): Config {
  const read = reader(env)
  const upstreamBaseUrl = read('UPSTREAM_BASE_URL')
  const port = portFrom(env, 'PORT', 8787)
  const metricsPort = read('METRICS_PORT') === undefined ? undefined : integer(read, 'METRICS_PORT', 0, 1, 65535)
  if (metricsPort !== undefined && metricsPort === port) throw new ConfigError('METRICS_PORT must differ from PORT')
  const redis = redisFrom(read)
  const workers = workersFrom(read('WORKERS'))
  if (workers > 1 && redis === undefined) {
    throw new ConfigError(
      `WORKERS=${workers} needs REDIS_URL: each worker would keep its own rate limits, and a key would get ${workers} times its limit`,
    )
  }
  return {
    port,
    host: read('HOST') ?? '127.0.0.1',
    database: databaseFrom(read('DATABASE_URL') ?? 'sqlite:data/assisters.db', read),
    upstream: upstreamBaseUrl === undefined ? undefined : upstreamFrom(upstreamBaseUrl, read),
    upstreamTimeoutMs: integer(read, 'UPSTREAM_TIMEOUT_MS', 60_000, 1, 600_000),
    rateLimitRpm: integer(read, 'RATE_LIMIT_RPM', 60, 1, 100_000),
    trustProxy: trustProxyFrom(read('TRUST_PROXY')),
    visitorRpm: integer(read, 'VISITOR_RPM', 20, 0, 100_000),
    visitorIdSecret: visitorIdSecretFrom(read('VISITOR_ID_SECRET')),
    maxStreamsPerKey: integer(read, 'MAX_STREAMS_PER_KEY', 100, 1, 100_000),
    maxStreamsPerVisitor: integer(read, 'MAX_STREAMS_PER_VISITOR', 10, 1, 100_000),
    streamLeaseMs: integer(read, 'STREAM_LEASE_MS', 30_000, 1_000, 600_000),
    redis,
    adminToken: adminTokenFrom(read('ADMIN_TOKEN')),
    signupOpen: signupFrom(read('SIGNUP')),
    publicUrl: publicUrlFrom(read('PUBLIC_URL')),
    workers,
    metrics: metricsPort === undefined ? undefined : { host: read('METRICS_HOST') ?? '127.0.0.1', port: metricsPort },
    limits: {
      maxBodyBytes: integer(read, 'MAX_BODY_BYTES', 1_048_576, 1024, 16_777_216),
      maxMessages: integer(read, 'MAX_MESSAGES', 50, 1, 1000),
      maxMessageChars: integer(read, 'MAX_MESSAGE_CHARS', 16_000, 1, 1_000_000),
      maxOutputTokens: integer(read, 'MAX_OUTPUT_TOKENS', 1024, 1, 1_000_000),
    },
  }
}

/** A port variable (0 picks a free one); the demo's DEMO_PORT follows the same rule as PORT. */
export function portFrom(env: Env, name: string, fallback: number): number {
  return integer(reader(env), name, fallback, 0, 65535)
}

/** An empty value counts as unset. */
const reader = (env: Env) => (name: string) => {
  const value = env[name]?.trim()
  return value === '' ? undefined : value
}

function integer(read: (name: string) => string | undefined, name: string, fallback: number, min: number, max: number) {
  const raw = read(name)
  if (raw === undefined) return fallback
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got '${raw.slice(0, 40)}'`)
  }
  return Number(raw)
}

function databaseFrom(url: string, read: (name: string) => string | undefined): Config['database'] {
  // Checked whatever the engine, so a typo fails at once rather than on the day PostgreSQL is switched on.
  const poolSize = integer(read, 'DATABASE_POOL_SIZE', 10, 1, 1000)
  const statementTimeoutMs = integer(read, 'DATABASE_STATEMENT_TIMEOUT_MS', 5000, 100, 600_000)
  const match = /^([a-z][a-z0-9+.-]*):(.*)$/i.exec(url)
  // `sqlite://data/x.db` would silently become the absolute path /data/x.db.
  if (match?.[1] === 'sqlite' && /^\/\/(?!\/)/.test(match[2]!)) {
    throw new ConfigError('DATABASE_URL must be sqlite:relative/path or sqlite:///absolute/path, not sqlite://…')
  }
  if (match?.[1] === 'sqlite' && match[2]) return { kind: 'sqlite', path: match[2].replace(/^\/\/(?=\/)/, '') }
  if (match?.[1] === 'postgres' || match?.[1] === 'postgresql') {
    checkPostgresUrl(url)
    return { kind: 'postgres', url, poolSize, statementTimeoutMs }
  }
  // Only the scheme of an unknown URL is shown: the rest may hold a password (mysql://user:password@…).
  const shown = match?.[2] ? `${match[1]!.slice(0, 20)}:…` : url.slice(0, 40)
  throw new ConfigError(`DATABASE_URL must look like sqlite:<path> or postgres://…, got '${shown}'`)
}

/** The URL is never echoed: it may hold a password. */
function checkPostgresUrl(url: string) {
  const problem = 'DATABASE_URL is not a valid postgres://user:password@host:port/database URL (not shown: it may hold a password)'
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new ConfigError(`${problem}; in the user name and password write @ : / ? # as %40 %3A %2F %3F %23`)
  }
  // A `#` is most often an unencoded character inside a password; the driver would cut the password there.
  if (parsed.hash) throw new ConfigError(`${problem}; a '#' must be written %23`)
  if (!parsed.hostname && !parsed.searchParams.get('host')) throw new ConfigError(`${problem}; it names no host`)
}

function upstreamFrom(raw: string, read: (name: string) => string | undefined): Config['upstream'] {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    // Echo the value to help, but never a password pasted into it.
    const shown = withoutCredentials(raw).slice(0, 80)
    throw new ConfigError(`UPSTREAM_BASE_URL must be an http or https URL, got '${shown}'`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`UPSTREAM_BASE_URL must be an http or https URL, got '${url.protocol}'`)
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new ConfigError('UPSTREAM_BASE_URL must not hold credentials, a query or a fragment; use UPSTREAM_API_KEY')
  }
  const model = read('UPSTREAM_MODEL')
  if (model === undefined) throw new ConfigError('UPSTREAM_MODEL must be set when UPSTREAM_BASE_URL is')
  return { baseUrl: url.href.replace(/\/+$/, ''), apiKey: read('UPSTREAM_API_KEY'), model }
}

/** A URL as it may be shown: anything between `//` and the last `@` (a user and password, even one with a `/`) hidden. */
const withoutCredentials = (raw: string) => raw.replace(/\/\/.*@/s, '//…@')

/** A count, or `auto` for one per core. */
function workersFrom(raw: string | undefined): number {
  if (raw === undefined) return 1
  if (raw === 'auto') return availableParallelism()
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 256) {
    throw new ConfigError(`WORKERS must be a whole number from 1 to 256, or auto, got '${raw.slice(0, 40)}'`)
  }
  return Number(raw)
}

function signupFrom(raw: string | undefined): boolean {
  if (raw === undefined || raw === 'closed') return false
  if (raw === 'open') return true
  throw new ConfigError(`SIGNUP must be open or closed, got '${raw.slice(0, 40)}'`)
}

/** An http(s) origin: no path, query, fragment or credentials; a trailing slash is dropped. */
function publicUrlFrom(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined
  const usage = `PUBLIC_URL must be an http or https origin such as https://api.example.com, got '${withoutCredentials(raw).slice(0, 80)}'`
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new ConfigError(usage)
  }
  if (
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.username ||
    url.password ||
    url.pathname !== '/' ||
    url.search ||
    url.hash
  ) {
    throw new ConfigError(usage)
  }
  return url.origin
}

/** ADMIN_TOKEN's rule: at least 16 characters, no spaces (the demo holds its saved token to it too). */
export const isAcceptableAdminToken = (token: string) => /^\S{16,}$/.test(token)

function adminTokenFrom(token: string | undefined) {
  if (token !== undefined && !isAcceptableAdminToken(token)) {
    throw new ConfigError('ADMIN_TOKEN must be at least 16 characters with no spaces')
  }
  return token
}

function trustProxyFrom(raw: string | undefined): TrustProxy | undefined {
  if (raw === undefined) return undefined
  try {
    return parseTrustProxy(raw)
  } catch (err) {
    throw new ConfigError(
      `TRUST_PROXY must be a hop count from 1 to 10 or a comma-separated list of IP addresses and CIDRs: ${(err as Error).message}`,
    )
  }
}

/** Never echoed: it is a secret. */
function visitorIdSecretFrom(secret: string | undefined) {
  if (secret !== undefined && !/^\S{32,}$/.test(secret)) {
    throw new ConfigError('VISITOR_ID_SECRET must be at least 32 characters with no spaces (or unset, to keep one in the database)')
  }
  return secret
}

/** REDIS_URL and its companions; the companions are checked even without REDIS_URL, so a typo never waits. */
function redisFrom(read: (name: string) => string | undefined): Config['redis'] {
  const prefix = read('REDIS_PREFIX') ?? 'assisters:'
  // No glob characters, so `SCAN MATCH <prefix>*` finds exactly one deployment's keys.
  if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(prefix)) {
    throw new ConfigError(`REDIS_PREFIX must be 1 to 64 letters, digits or ':_.-', got '${prefix.slice(0, 40)}'`)
  }
  const timeoutMs = integer(read, 'REDIS_TIMEOUT_MS', 500, 10, 60_000)
  const failureMode = read('REDIS_FAILURE_MODE') ?? 'closed'
  if (failureMode !== 'closed' && failureMode !== 'local') {
    throw new ConfigError(
      `REDIS_FAILURE_MODE must be closed (refuse with 503) or local (each process limits by itself), got '${failureMode.slice(0, 40)}'`,
    )
  }
  const url = read('REDIS_URL')
  return url === undefined ? undefined : { url: redisUrlFrom(url), prefix, timeoutMs, failureMode }
}

/** Echoes nothing after the scheme: the value may hold a password, even where it fails to parse. */
function redisUrlFrom(raw: string): string {
  const usage = 'REDIS_URL must look like redis://[[user]:password@]host[:port][/db] or rediss://…'
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new ConfigError(usage)
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError(`${usage}, not ${url.protocol.slice(0, 20)}`)
  }
  if (!url.hostname) throw new ConfigError(`${usage}: the host is missing`)
  if (!/^(\/\d{0,2})?$/.test(url.pathname)) throw new ConfigError(`${usage}: the path can only be a database number`)
  // ioredis reads client options from the query, which could undo the deadlines the limiter relies on.
  if (url.search || url.hash) throw new ConfigError(`${usage}: no query or fragment`)
  return raw
}
