/**
 * What an operator watches: GET /metrics behind the admin token (or alone on METRICS_PORT) in
 * Prometheus' text format, counting what really happened on the server, and GET /readyz.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest'
import { http, HttpResponse } from 'msw'
import { createLogger } from '../../server/log.ts'
import { listenForScrapes } from '../../server/metrics-endpoint.ts'
import { createMetrics } from '../../server/metrics.ts'
import { exchange, rawRequest } from '../support/raw-http.ts'
import { usePrivateRedis } from '../support/redis.ts'
import {
  ADMIN_TOKEN,
  MODEL,
  UPSTREAM_URL,
  answerJson,
  completion,
  createUpstreamMock,
  deferred,
  deltaChunk,
  eventReader,
  sseEvents,
  startServer,
  type TestServer,
} from './harness.ts'

const upstream = createUpstreamMock()
const privateRedis = await usePrivateRedis()
let server: TestServer

beforeAll(async () => {
  upstream.listen()
  server = await startServer({}, { pingMs: 60_000 })
})
afterEach(() => upstream.mock.resetHandlers())
afterAll(async () => {
  await server.close()
  upstream.mock.close()
})

const scrape = async (token = ADMIN_TOKEN) => {
  const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() }
}

/** The value of one sample, e.g. value(text, 'assisters_open_streams'); 0 when absent. */
function value(text: string, sample: string): number {
  const line = text.split('\n').find((each) => each.startsWith(sample + ' '))
  return line ? Number(line.slice(sample.length + 1)) : 0
}

const requests = (route: string, method: string, status: number) =>
  `assisters_http_requests_total{route="${route}",method="${method}",status="${status}"}`

describe('GET /metrics on the API port', () => {
  it('answers only the admin token: 401 without it or with a wrong one, 404 when the server has none', async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401)
    expect((await scrape('wrong-token-0123456789')).status).toBe(401)
    const noAdmin = await startServer({ ADMIN_TOKEN: '' })
    try {
      const answer = await fetch(`${noAdmin.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
      expect(answer.status).toBe(404)
      expect(await answer.json()).toMatchObject({ error: { code: 'not_found' } })
    } finally {
      await noAdmin.close()
    }
  })

  it("speaks Prometheus' text format, with the process's own figures", async () => {
    const { status, type, text } = await scrape()
    expect(status).toBe(200)
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(text).toContain('# TYPE assisters_http_requests_total counter')
    expect(value(text, 'process_resident_memory_bytes')).toBeGreaterThan(0)
  })

  it('counts requests by route and status, relays, limiter decisions and upstream failures', async () => {
    const { key } = await server.createKey({ rate_limit_rpm: 2 })
    const before = (await scrape()).text
    upstream.mock.use(answerJson(completion('Hi')))
    expect((await server.chat(key)).status).toBe(200)
    upstream.mock.use(http.post(UPSTREAM_URL, () => HttpResponse.json({ error: 'down' }, { status: 500 })))
    expect((await server.chat(key)).status).toBe(502)
    expect((await server.chat(key)).status).toBe(429)
    expect((await fetch(`${server.url}/no/such/path/ask_secret`)).status).toBe(404)

    const after = (await scrape()).text
    const grew = (sample: string) => value(after, sample) - value(before, sample)
    expect(grew(requests('/v1/chat/completions', 'POST', 200))).toBe(1)
    expect(grew(requests('/v1/chat/completions', 'POST', 502))).toBe(1)
    expect(grew(requests('/v1/chat/completions', 'POST', 429))).toBe(1)
    expect(grew(requests('unmatched', 'GET', 404))).toBe(1)
    expect(grew('assisters_rate_limit_decisions_total{decision="admitted"}')).toBe(2)
    expect(grew('assisters_rate_limit_decisions_total{decision="refused"}')).toBe(1)
    expect(grew('assisters_upstream_failures_total{kind="error"}')).toBe(1)
    expect(grew('assisters_relay_duration_seconds_count{stream="false"}')).toBe(1)
    expect(grew('assisters_relay_first_byte_seconds_count{stream="false"}')).toBe(1)
    // A raw path never becomes a label: labels would grow without bound, and could carry a secret.
    expect(after).not.toContain('/no/such/path')
    expect(after).not.toContain('ask_')
  })

  it('logs and counts a client that left before any status was sent as 499, not 200', async () => {
    const { key } = await server.createKey()
    const port = Number(new URL(server.url).port)
    const asked = deferred()
    const answer = deferred()
    upstream.mock.use(
      http.post(UPSTREAM_URL, async () => {
        asked.resolve()
        await answer.promise
        return HttpResponse.json(completion('too late'))
      }),
    )
    onTestFinished(() => answer.resolve())
    const headers: [string, string][] = [
      ['Authorization', `Bearer ${key}`],
      ['Content-Type', 'application/json'],
    ]
    const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] })
    const before = (await scrape()).text
    // Mid-body: the head promises more bytes than ever come.
    await exchange(port, (socket) => {
      socket.write(`${rawRequest('POST', '/v1/chat/completions', headers).toString().slice(0, -2)}Content-Length: 100\r\n\r\n{"model"`)
      setTimeout(() => socket.destroy(), 100)
    })
    // Before the answer: the whole request went, and the client left while the upstream was thinking.
    await exchange(port, async (socket) => {
      socket.write(rawRequest('POST', '/v1/chat/completions', headers, body))
      await asked.promise
      socket.destroy()
    })
    const entries = () => server.logs.map((line) => JSON.parse(line)).filter((entry) => entry.path === '/v1/chat/completions')
    await vi.waitFor(() => expect(entries().filter((entry) => entry.finished === false)).toHaveLength(2))
    for (const entry of entries().filter((each) => each.finished === false)) expect(entry.status).toBe(499)
    const after = (await scrape()).text
    const grew = (sample: string) => value(after, sample) - value(before, sample)
    expect(grew(requests('/v1/chat/completions', 'POST', 499))).toBe(2)
    expect(grew(requests('/v1/chat/completions', 'POST', 200))).toBe(0)
  })

  it('shows a stream as open while it runs, and its time to first event', async () => {
    const { key } = await server.createKey()
    const release = deferred()
    upstream.mock.use(
      http.post(UPSTREAM_URL, () => {
        const encoder = new TextEncoder()
        const body = new ReadableStream({
          async start(controller) {
            controller.enqueue(encoder.encode(sseEvents([deltaChunk('Hel')], { done: false })))
            await release.promise
            controller.enqueue(encoder.encode(sseEvents([deltaChunk('lo')])))
            controller.close()
          },
        })
        return new HttpResponse(body, { headers: { 'content-type': 'text/event-stream' } })
      }),
    )
    const before = (await scrape()).text
    const events = eventReader(await server.chat(key, { model: MODEL, messages: [{ role: 'user', content: 'Hi' }], stream: true }))
    await events.next()
    const during = (await scrape()).text
    expect(value(during, 'assisters_open_streams')).toBe(1)
    expect(
      value(during, 'assisters_relay_first_byte_seconds_count{stream="true"}') -
        value(before, 'assisters_relay_first_byte_seconds_count{stream="true"}'),
    ).toBe(1)
    release.resolve()
    await events.rest()
    const after = (await scrape()).text
    expect(value(after, 'assisters_open_streams')).toBe(0)
    expect(
      value(after, 'assisters_relay_duration_seconds_count{stream="true"}') -
        value(before, 'assisters_relay_duration_seconds_count{stream="true"}'),
    ).toBe(1)
  })
})

describe('METRICS_PORT', () => {
  it('serves GET /metrics and nothing else, with no token', async () => {
    const metrics = createMetrics()
    metrics.request('/healthz', 'GET', 200)
    const scrapes = await listenForScrapes(
      () => metrics.registry.metrics(),
      { host: '127.0.0.1', port: 0 },
      createLogger({ write: () => {} }),
    )
    try {
      const answer = await fetch(scrapes.url)
      expect(answer.status).toBe(200)
      expect(value(await answer.text(), requests('/healthz', 'GET', 200))).toBe(1)
      const head = await fetch(scrapes.url, { method: 'HEAD' })
      expect([head.status, await head.text()]).toEqual([200, ''])
      expect((await fetch(scrapes.url.replace('/metrics', '/admin/accounts'))).status).toBe(404)
      // The request target in absolute form (RFC 9112 §3.2.2), the scrape URL itself, is the same request.
      expect((await exchange(Number(new URL(scrapes.url).port), rawRequest('GET', scrapes.url))).status).toBe(200)
      const post = await fetch(scrapes.url, { method: 'POST' })
      expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD'])
    } finally {
      await scrapes.close()
    }
  })
})

describe('GET /readyz', () => {
  it('is 200 naming each dependency it asked, for anyone (a load balancer has no key)', async () => {
    const answer = await fetch(`${server.url}/readyz`)
    expect(answer.status).toBe(200)
    expect(answer.headers.get('cache-control')).toBe('no-store')
    expect(await answer.json()).toEqual({ status: 'ok', checks: { database: 'ok' } })
  })
})

describe.skipIf(!privateRedis)('GET /readyz with Redis', () => {
  it('is 503 naming redis while Redis is down, counts the failures, and 200 again once it is back', async () => {
    const redis = privateRedis!
    const withRedis = await startServer({ REDIS_URL: redis.url, REDIS_PREFIX: 'readyz:', REDIS_TIMEOUT_MS: '200' })
    try {
      const ready = async () => {
        const answer = await fetch(`${withRedis.url}/readyz`)
        return [answer.status, await answer.json()]
      }
      expect(await ready()).toEqual([200, { status: 'ok', checks: { database: 'ok', redis: 'ok' } }])
      await redis.stop()
      expect(await ready()).toEqual([503, { status: 'unavailable', checks: { database: 'ok', redis: 'unavailable' } }])
      const scraped = await fetch(`${withRedis.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
      expect(value(await scraped.text(), 'assisters_redis_errors_total')).toBeGreaterThanOrEqual(1)
      await redis.start()
      await expect.poll(ready, { timeout: 10_000 }).toEqual([200, { status: 'ok', checks: { database: 'ok', redis: 'ok' } }])
    } finally {
      await withRedis.close()
    }
  })

  it('stays 200 with Redis down when REDIS_FAILURE_MODE=local (each process limits by itself), naming it degraded', async () => {
    const redis = privateRedis!
    const local = await startServer({
      REDIS_URL: redis.url,
      REDIS_PREFIX: 'readyz-local:',
      REDIS_TIMEOUT_MS: '200',
      REDIS_FAILURE_MODE: 'local',
    })
    try {
      await redis.stop()
      const answer = await fetch(`${local.url}/readyz`)
      expect([answer.status, await answer.json()]).toEqual([200, { status: 'ok', checks: { database: 'ok', redis: 'degraded' } }])
    } finally {
      await redis.start()
      await local.close()
    }
  })
})
