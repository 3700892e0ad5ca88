/**
 * One Redis connection on a request's path, as the rate limiter, the answer slots and the token
 * budgets each keep: a deadline on every command, no offline queue, no retries, and outages told
 * once (one warning when Redis stops answering, one line when it answers again), with the URL's
 * password kept out of every line.
 */
import { Redis, type RedisOptions } from 'ioredis'
import type { Logger } from './log.ts'

/** Reconnect attempts back off to at most this far apart, so recovery is noticed within it. */
export const RECONNECT_MAX_MS = 2_000

export interface RedisConnectionOptions {
  /** redis:// or rediss://, possibly with a password. */
  url: string
  /** Longest wait for one command. */
  timeoutMs: number
  /** Lua scripts to load as commands of the client. */
  scripts?: RedisOptions['scripts']
  log: Logger
  /** Names the user in log lines: "rate limiter", "stream slots", "token budget". */
  name: string
  /** What the user does while Redis cannot answer, and what that means for requests, for the warning. */
  failureMode: 'closed' | 'local'
  meaning: string
  /**
   * Whether the connection's own drops and reconnects are told (the rate limiter's are); the others
   * tell an outage only when a command of theirs fails, so one outage is one warning, not three.
   */
  watchConnection: boolean
  /** Called for every command Redis failed to answer (the metrics count them). */
  onFailure?: () => void
}

export interface RedisConnection<R extends Redis> {
  redis: R
  /** Runs `work` within the deadline; until the first connection is up, waits for it within the deadline. */
  withDeadline<T>(work: () => Promise<T>): Promise<T>
  /** A command failed: counted, and a warning unless this outage was told already. */
  failed(err: unknown): void
  /** An error's message with the URL's password hidden. */
  reason(err: unknown): string
  /** A command was answered: a line if that ends an outage. */
  answered(): void
  /** QUIT when Redis takes it, else drops the connection; nothing is told after. */
  close(): Promise<void>
}

/** The connection settings of every Redis client on a request's path: a deadline on each command, never a queue. */
export function clientOptions(timeoutMs: number): RedisOptions {
  return {
    // Fail at once while disconnected instead of queueing requests for later: the deadline is the point.
    enableOfflineQueue: false,
    // A command cut off by a dropped connection fails now; it is never sent again after a reconnect.
    maxRetriesPerRequest: 0,
    commandTimeout: timeoutMs,
    // Connecting is not on any request's path (requests fail at once meanwhile), so it may take longer.
    connectTimeout: Math.max(timeoutMs, 2_000),
    // Reconnects for ever, backing off to one attempt every RECONNECT_MAX_MS.
    retryStrategy: (attempt) => Math.min(attempt * 100, RECONNECT_MAX_MS),
  }
}

/** The password (and its percent-decoded form) from a Redis URL, to keep out of every message and log line. */
export function urlSecrets(url: string): string[] {
  const { password } = new URL(url)
  if (!password) return []
  let decoded = password
  try {
    decoded = decodeURIComponent(password)
  } catch {}
  return [password, decoded]
}

export function connectRedis<R extends Redis>(options: RedisConnectionOptions): RedisConnection<R> {
  const { timeoutMs, log, name } = options
  const secrets = urlSecrets(options.url)
  const safe = (err: unknown) =>
    secrets.reduce((text, secret) => text.split(secret).join('[redacted]'), err instanceof Error ? err.message : String(err))
  const redis = new Redis(options.url, { ...clientOptions(timeoutMs), scripts: options.scripts }) as R

  let down = false
  let closed = false
  const markDown = (err: unknown) => {
    if (down || closed) return
    down = true
    log.warn(`${name}: Redis is unavailable`, { reason: safe(err), failureMode: options.failureMode, meaning: options.meaning })
  }
  const answered = () => {
    if (!down || closed) return
    down = false
    log.info(`${name}: Redis is available again`)
  }
  // Without a listener ioredis prints every failed reconnect attempt to the console.
  redis.on('error', options.watchConnection ? markDown : () => {})
  if (options.watchConnection) redis.on('ready', answered)

  let firstReady: Promise<void> | undefined = new Promise((resolve) => redis.once('ready', resolve))
  void firstReady.then(() => (firstReady = undefined))

  return {
    redis,
    withDeadline(work) {
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs)
      })
      const attempt = async () => {
        if (firstReady && !down) await firstReady
        return work()
      }
      return Promise.race([attempt(), late]).finally(() => clearTimeout(timer))
    },
    failed(err) {
      options.onFailure?.()
      markDown(err)
    },
    reason: safe,
    answered,
    async close() {
      closed = true
      await redis.quit().catch(() => redis.disconnect())
    },
  }
}
