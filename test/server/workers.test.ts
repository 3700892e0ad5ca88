/**
 * WORKERS=2: the real `npm run serve` as a node:cluster primary with two workers sharing the port.
 * A worker that dies is replaced; SIGTERM lets an open stream finish before everything exits; one
 * scrape of METRICS_PORT sees both workers; the rate limit stays exact across them (Redis, under
 * this run's own prefix).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../bench/processes.ts'
import { useSharedRedis } from '../support/redis.ts'
import { createAccountKey, startServe, type ServeProcess } from '../support/serve.ts'
import { startUpstreamDouble } from '../support/upstream-double.ts'
import { ADMIN_TOKEN, MODEL, completion, deferred, deltaChunk, eventReader, sseEvents } from './harness.ts'

const redis = await useSharedRedis()
let dir: string
let upstream: Awaited<ReturnType<typeof startUpstreamDouble>>
let releaseStream = deferred()

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'assisters-workers-'))
  upstream = await startUpstreamDouble((req, res) => {
    let body = ''
    req.on('data', (chunk) => (body += chunk))
    req.on('end', async () => {
      if (!JSON.parse(body).stream) return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(completion('Hi')))
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(sseEvents([deltaChunk('Hel')], { done: false }))
      await releaseStream.promise
      res.end(sseEvents([deltaChunk('lo')]))
    })
  })
})
afterAll(async () => {
  await upstream.close()
  rmSync(dir, { recursive: true, force: true })
})

async function startCluster(env: Record<string, string> = {}): Promise<ServeProcess> {
  const server = await startServe({
    WORKERS: '2',
    REDIS_URL: redis!.url,
    REDIS_PREFIX: redis!.prefix,
    DATABASE_URL: `sqlite:${join(dir, `${Math.random().toString(36).slice(2)}.db`)}`,
    ADMIN_TOKEN,
    UPSTREAM_BASE_URL: upstream.baseUrl,
    UPSTREAM_MODEL: 'upstream-model',
    ...env,
  })
  await server.waitForLine(() => server.lines.filter((line) => line.msg === 'worker listening').length === 2)
  return server
}

const workerPids = (server: ServeProcess) =>
  server.lines.filter((line) => line.msg === 'worker listening').map((line) => line.pid as number)

const chat = (url: string, key: string, stream = false) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    // A new connection each time, so the primary spreads them over both workers.
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify({ model: MODEL, stream, messages: [{ role: 'user', content: 'Hi' }] }),
  })

describe.skipIf(!redis)('WORKERS=2', () => {
  it('keeps a key to exactly its limit across both workers', async () => {
    const server = await startCluster()
    try {
      const key = (await createAccountKey(server.url, ADMIN_TOKEN, { rate_limit_rpm: 10 })).key
      const statuses = await Promise.all(Array.from({ length: 40 }, async () => (await chat(server.url, key)).status))
      expect(statuses.filter((status) => status === 200)).toHaveLength(10)
      expect(statuses.filter((status) => status === 429)).toHaveLength(30)
    } finally {
      await server.stop()
    }
  })

  it('replaces a worker that dies, and keeps serving', async () => {
    const server = await startCluster()
    try {
      const [first] = workerPids(server)
      process.kill(first!, 'SIGKILL')
      const died = await server.waitForLine((line) => line.msg === 'worker died; starting a replacement')
      expect(died).toMatchObject({ pid: first, signal: 'SIGKILL' })
      await server.waitForLine(() => workerPids(server).length === 3, 15_000)
      const key = (await createAccountKey(server.url, ADMIN_TOKEN)).key
      for (let i = 0; i < 6; i++) expect((await chat(server.url, key)).status).toBe(200)
    } finally {
      await server.stop()
    }
  })

  it('adds up every worker in one scrape, on METRICS_PORT and on the API port', async () => {
    const metricsPort = await freePort()
    const server = await startCluster({ METRICS_PORT: String(metricsPort) })
    try {
      for (let i = 0; i < 10; i++) await fetch(`${server.url}/healthz`, { headers: { connection: 'close' } })
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
      expect(text).toContain('assisters_http_requests_total{route="/healthz",method="GET",status="200"} 10')
      // On the API port a worker answers, asking the primary for every worker's figures.
      for (let i = 0; i < 4; i++) {
        const scraped = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}`, connection: 'close' } })
        expect(await scraped.text()).toContain('assisters_http_requests_total{route="/healthz",method="GET",status="200"} 10')
      }
    } finally {
      await server.stop()
    }
  })

  it('on SIGTERM lets an open stream finish, then every process exits 0', async () => {
    releaseStream = deferred()
    const server = await startCluster()
    const key = (await createAccountKey(server.url, ADMIN_TOKEN)).key
    const events = eventReader(await chat(server.url, key, true))
    expect(await events.next()).toContain('Hel')
    const exited = server.stop('SIGTERM')
    await server.waitForLine((line) => line.msg === 'shutting down' && line.workers === 2)
    releaseStream.resolve()
    const rest = await events.rest()
    expect(rest.at(-1)).toBe('data: [DONE]')
    expect(await exited).toBe(0)
    for (const pid of workerPids(server)) expect(() => process.kill(pid, 0)).toThrow()
  })
})
