/**
 * Redis for tests, real and never mocked: the shared Redis on 127.0.0.1:6379 under a key prefix of
 * this run's own (its keys deleted afterwards), and private redis-server processes on free ports for
 * the tests that stop one. Without Redis the tests that need it fail in CI, saying how to start it,
 * and elsewhere skip loudly.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { connect, createServer, type AddressInfo } from 'node:net'
import { Redis } from 'ioredis'
import { afterAll } from 'vitest'

export const SHARED_REDIS_URL = process.env.REDIS_TEST_URL || 'redis://127.0.0.1:6379'
const REDIS_SERVER = '/usr/bin/redis-server'
const HOW_TO_START = `start it with: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no`

/** The shared Redis under a fresh prefix, or undefined (after a loud warning) when it is not there outside CI. */
export interface TestRedis {
  url: string
  /** e.g. `assisters-test:3f9a0c1b2d4e:`; every key a test writes must start with it. */
  prefix: string
  /** A plain client for looking at what the limiter wrote. */
  client: Redis
  /** The keys under the prefix right now. */
  keys(): Promise<string[]>
}

/**
 * Call at the top of a test file (`const redis = await useSharedRedis()`): registers an afterAll that
 * deletes every key under this run's prefix and closes the client.
 */
export async function useSharedRedis(): Promise<TestRedis | undefined> {
  const client = new Redis(SHARED_REDIS_URL, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.ping()
  } catch (err) {
    client.disconnect()
    missing(`Redis is not answering at ${SHARED_REDIS_URL} (${(err as Error).message}); ${HOW_TO_START}`)
    return undefined
  }
  const prefix = `assisters-test:${randomBytes(6).toString('hex')}:`
  const keys = async () => {
    const found: string[] = []
    let cursor = '0'
    do {
      const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      found.push(...batch)
      cursor = next
    } while (cursor !== '0')
    return found
  }
  afterAll(async () => {
    const left = await keys()
    if (left.length) await client.del(...left)
    client.disconnect()
  })
  return { url: SHARED_REDIS_URL, prefix, client, keys }
}

/** A redis-server of this test's own, which it may stop, pause and start again on the same port. */
export interface PrivateRedis {
  url: string
  port: number
  /** Stops it (SIGTERM, by pid) and waits for it to exit. */
  stop(): Promise<void>
  /** Starts it again on the same port, empty (unless it is running). */
  start(): Promise<void>
  /** SIGSTOP: the connection stays open but nothing answers, as with a hung server. */
  pause(): void
  resume(): void
}

/** Starts a private redis-server on a free port; stopped by its pid after the file's tests. */
export async function usePrivateRedis(options: { password?: string } = {}): Promise<PrivateRedis | undefined> {
  if (!existsSync(REDIS_SERVER)) {
    missing(`${REDIS_SERVER} is not installed (apt-get install -y redis-server)`)
    return undefined
  }
  const port = await freePort()
  let child: ChildProcess | undefined
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning']
  if (options.password) args.push('--requirepass', options.password)

  const start = async () => {
    if (child && child.exitCode === null) return
    const started = spawn(REDIS_SERVER, args, { stdio: 'ignore' })
    child = started
    await waitUntilListening(port, started)
  }
  const stop = async () => {
    const running = child
    child = undefined
    if (!running || running.exitCode !== null) return
    const exited = new Promise((resolve) => running.once('exit', resolve))
    running.kill('SIGCONT')
    running.kill('SIGTERM')
    await exited
  }
  afterAll(stop)
  await start()
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : ''
  return {
    url: `redis://${auth}127.0.0.1:${port}`,
    port,
    stop,
    start,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
  }
}

/** Without CI a missing service skips its tests with a warning; in CI it fails the file. */
function missing(message: string) {
  if (process.env.CI) throw new Error(`The Redis tests cannot run in CI. ${message}`)
  console.warn(`\n  SKIPPING the Redis tests. ${message}\n`)
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** Polls the port until the new server accepts connections (or fails if it exited). */
async function waitUntilListening(port: number, child: ChildProcess) {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${child.exitCode}`)
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => (socket.destroy(), resolve(true)))
      socket.once('error', () => resolve(false))
    })
    if (up) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`redis-server on port ${port} did not start within 10 s`)
}
