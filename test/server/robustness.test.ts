/**
 * Robustness: what the server does with broken, slow, hostile or unlucky clients, over raw sockets,
 * and what the real process (server/main.ts) does under a burst of failures and on SIGTERM. After
 * every bad request the server must still answer GET /healthz.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import Database from 'better-sqlite3'
import { http, HttpResponse } from 'msw'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest'
import { createHandler } from '../../server/app.ts'
import { loadConfig } from '../../server/config.ts'
import { createLogger } from '../../server/log.ts'
import { createMetrics } from '../../server/metrics.ts'
import { createMemoryRateLimiter } from '../../server/rate-limit.ts'
import { createMemoryStreamSlots } from '../../server/stream-slots.ts'
import {
  ADMIN_TOKEN,
  MODEL,
  ROOT,
  UPSTREAM_URL,
  createUpstreamMock,
  deltaChunk,
  eventually,
  resourceCounts,
  startServer,
  type TestServer,
} from './harness.ts'
import { startUpstreamDouble } from '../support/upstream-double.ts'
import { exchange, rawRequest, type Exchange } from '../support/raw-http.ts'
import { sleep } from '../support/sleep.ts'

const MAX_BODY = 2048
const HEADERS_MS = 800
const REQUEST_MS = 1200
const UPSTREAM_TIMEOUT_MS = 400
const INVALID_KEY_BODY = {
  error: { message: 'Invalid API key provided', type: 'invalid_request_error', code: 'invalid_api_key' },
}

const request = (port: number, method: string, path: string, headers: [string, string][] = [], body?: string | Buffer) =>
  exchange(port, rawRequest(method, path, headers, body))

const json = (exchanged: Exchange) => JSON.parse(exchanged.body)

/** Text and raw bytes joined into one buffer, for bytes a string cannot carry (invalid UTF-8). */
const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))))

const chatBody = (fields: Record<string, unknown> = {}) =>
  JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hello' }], ...fields })

const chatHeaders = (key: string): [string, string][] => [
  ['Authorization', `Bearer ${key}`],
  ['Content-Type', 'application/json'],
]

async function expectHealthy(port: number) {
  const health = await request(port, 'GET', '/healthz')
  expect(health.status).toBe(200)
  expect(json(health)).toEqual({ status: 'ok' })
}

/** Creates an account and a key through the admin API over raw sockets (no keep-alive left behind). */
async function createKey(port: number, fields: Record<string, unknown> = {}): Promise<{ key: string; id: string }> {
  const admin: [string, string][] = [
    ['Authorization', `Bearer ${ADMIN_TOKEN}`],
    ['Content-Type', 'application/json'],
  ]
  const account = await request(port, 'POST', '/admin/accounts', admin, '{"name":"Robustness"}')
  const key = await request(
    port,
    'POST',
    `/admin/accounts/${json(account).id}/keys`,
    admin,
    JSON.stringify({ name: 'Robust key', ...fields }),
  )
  expect(key.status).toBe(201)
  return { key: json(key).key, id: json(key).id }
}

/** A streaming upstream body: the given events spaced out, then [DONE] (or an error part-way). */
function slowStream(pieces: string[], gapMs: number, options: { breakAfter?: number; hangAfter?: number } = {}) {
  const encoder = new TextEncoder()
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      for (const [index, piece] of pieces.entries()) {
        if (index === options.breakAfter) return controller.error(new Error('upstream connection lost'))
        if (index === options.hangAfter) return // silent from here on, never closed
        controller.enqueue(encoder.encode(`data: ${JSON.stringify(deltaChunk(piece))}\n\n`))
        await sleep(gapMs)
      }
      controller.enqueue(encoder.encode('data: [DONE]\n\n'))
      controller.close()
    },
  })
}

// ---------------------------------------------------------------------------------------------
// The in-process server

const upstream = createUpstreamMock()
let server: TestServer
let port: number
let key: string

beforeAll(async () => {
  upstream.listen()
  server = await startServer(
    { MAX_BODY_BYTES: String(MAX_BODY), UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS), RATE_LIMIT_RPM: '10000' },
    { timeouts: { headersMs: HEADERS_MS, requestMs: REQUEST_MS } },
  )
  port = Number(new URL(server.url).port)
  key = (await createKey(port)).key
})
afterEach(() => upstream.mock.resetHandlers())
afterAll(async () => {
  await server?.close()
  upstream.mock.close()
})

const errorLogsSince = (mark: number) => server.logs.slice(mark).filter((line) => JSON.parse(line).level === 'error')

describe('malformed HTTP', () => {
  const healthz = (head: string) => `GET /healthz HTTP/1.1\r\nHost: x\r\n${head}\r\n`

  it.each<[string, number, string | Buffer]>([
    ['a request line that is not HTTP', 400, 'GARBAGE\r\n\r\n'],
    ['a header line without a colon', 400, 'GET /healthz HTTP/1.1\r\nHost: x\r\nthis is not a header\r\n\r\n'],
    ['a header with a space before its colon', 400, 'GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n'],
    ['headers over 16 KiB', 431, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`],
    ['many small headers adding up to over 16 KiB', 431, healthz(Array.from({ length: 1200 }, (_, i) => `X-H${i}: aaaaaaaa\r\n`).join(''))],
    ['a request target over 16 KiB', 431, `GET /${'a'.repeat(17 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`],
    ['a NUL byte in the method', 400, 'GE\0T /healthz HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a NUL byte in the request target', 400, 'GET /heal\0thz HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a NUL byte in a header value', 400, healthz('X-A: a\0b\r\n')],
    ['raw bytes that are not UTF-8 in the request target', 400, bytes('GET /', [0xff, 0xfe, 0xc3], ' HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['a space inside the request target', 400, 'GET /heal thz HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a method HTTP does not know', 400, 'BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['an unknown HTTP version', 400, 'GET /healthz HTTP/3.0\r\nHost: x\r\n\r\n'],
    ['an HTTP/2 connection preface', 400, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
    ['bare LF line endings', 400, 'GET /healthz HTTP/1.1\nHost: x\n\n'],
    ['a lone CR inside the headers', 400, healthz('X-A: a\rX-B: b\r\n')],
    ['a folded (obs-fold) header line', 400, healthz('X-A: a\r\n b\r\n')],
    ['an HTTP/1.1 request without Host', 400, 'GET /healthz HTTP/1.1\r\nX-A: a\r\n\r\n'],
  ])('answers %s with a JSON %i, closes the connection and keeps serving', async (_what, status, raw) => {
    const answer = await exchange(port, raw)
    expect(answer.status).toBe(status)
    expect(answer.headers['content-type']).toMatch(/^application\/json/)
    expect(answer.headers.connection).toBe('close')
    expect(json(answer).error).toMatchObject({ type: 'invalid_request_error', code: 'bad_request', message: expect.any(String) })
    expect(answer.closed).toBe(true)
    await expectHealthy(port)
  })

  // Ambiguous body framing is how requests are smuggled past a proxy: refuse it outright, before any body is read.
  it.each<[string, (key: string) => string]>([
    [
      'Content-Length and Transfer-Encoding together',
      (k) =>
        `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${k}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    ],
    [
      'two different Content-Length headers',
      (k) =>
        `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${k}\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
    ],
    [
      'a negative Content-Length',
      (k) => `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${k}\r\nContent-Length: -1\r\n\r\n{}`,
    ],
    [
      'a Transfer-Encoding other than chunked',
      (k) => `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${k}\r\nTransfer-Encoding: gzip\r\n\r\n{}`,
    ],
    [
      'a chunked body with a chunk size that is not hex',
      (k) =>
        `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${k}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    ],
  ])('answers a chat request with %s with a JSON 400, closes the connection and logs no server error', async (_what, build) => {
    const mark = server.logs.length
    const answer = await exchange(port, build(key))
    expect(answer.status).toBe(400)
    expect(json(answer).error).toMatchObject({ type: 'invalid_request_error', code: 'bad_request' })
    // One answer only: the handler that had begun must not write a second one after the parser's.
    expect(answer.raw.match(/HTTP\/1\.1 /g)).toHaveLength(1)
    expect(answer.closed).toBe(true)
    await sleep(50)
    expect(errorLogsSince(mark)).toEqual([])
    // A request whose handler had begun (the bad chunk) is logged with the 400 sent, not 200 or 499.
    const logged = server.logs.slice(mark).map((line) => JSON.parse(line))
    const chats = logged.filter((each) => each.msg === 'request' && each.path === '/v1/chat/completions')
    for (const entry of chats) expect(entry.status).toBe(400)
    await expectHealthy(port)
  })

  it('closes a CONNECT (a proxy tunnel request) without answering, and keeps serving', async () => {
    const answer = await exchange(port, 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n')
    expect(answer.raw).toBe('')
    expect(answer.closed).toBe(true)
    expect(answer.ms).toBeLessThan(1000)
    await expectHealthy(port)
  })

  it('frees a refused connection even when the client never hangs up', async () => {
    // Connections closed by earlier tests finish closing on the server's side a moment after the client's.
    const before = await eventually(
      () => resourceCounts().TCPSocketWrap,
      (count) => count === 0,
    )
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
    socket.on('data', () => {})
    const ended = new Promise((resolve) => socket.once('end', resolve))
    socket.write('GARBAGE\r\n\r\n')
    await ended
    // Our half-open client socket stays; the server's side of it must not.
    const after = await eventually(
      () => resourceCounts().TCPSocketWrap,
      (count) => count === before + 1,
    )
    socket.destroy()
    expect(after).toBe(before + 1)
    await expectHealthy(port)
  })

  it('never splices an error into a response already streaming on the same connection', async () => {
    upstream.mock.use(
      http.post(
        UPSTREAM_URL,
        () => new HttpResponse(slowStream(['one ', 'two ', 'three ', 'four'], 80), { headers: { 'content-type': 'text/event-stream' } }),
      ),
    )
    const answer = await exchange(port, async (socket, received) => {
      socket.write(rawRequest('POST', '/v1/chat/completions', chatHeaders(key), chatBody({ stream: true })))
      await eventually(received, (text) => text.includes('"content":"one "'), 2000)
      socket.write('GARBAGE\r\n\r\n')
    })
    expect(answer.status).toBe(200)
    expect(answer.raw).toContain('"content":"one "')
    // Nothing but the stream on this connection: no second status line anywhere in it.
    expect(answer.raw.match(/HTTP\/1\.1 /g)).toHaveLength(1)
    expect(answer.closed).toBe(true)
    await expectHealthy(port)
  })
})

describe('slow clients', () => {
  it('cuts off a client trickling its headers with 408 while serving others normally', async () => {
    const trickle = exchange(port, async (socket) => {
      for (const byte of 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa') {
        if (socket.destroyed || !socket.writable) return
        socket.write(byte)
        await sleep(300)
      }
    })
    for (let i = 0; i < 3; i++) {
      await expectHealthy(port)
      await sleep(200)
    }
    const cut = await trickle
    expect(cut.status).toBe(408)
    expect(json(cut).error.type).toBe('invalid_request_error')
    expect(cut.closed).toBe(true)
    // headersTimeout plus at most one check interval, not Node's default 30 s check.
    expect(cut.ms).toBeGreaterThanOrEqual(HEADERS_MS - 50)
    expect(cut.ms).toBeLessThan(HEADERS_MS + 1000)
  })

  it('cuts off a client trickling its body with 408, and logs no server error for it', async () => {
    const mark = server.logs.length
    const cut = await exchange(port, async (socket) => {
      const head = rawRequest('POST', '/v1/chat/completions', [...chatHeaders(key), ['Content-Length', '200']])
      socket.write(head)
      for (let i = 0; i < 20; i++) {
        if (socket.destroyed || !socket.writable) return
        socket.write(' ')
        await sleep(300)
      }
    })
    expect(cut.status).toBe(408)
    expect(cut.closed).toBe(true)
    expect(cut.ms).toBeLessThan(REQUEST_MS + 1000)
    await sleep(50)
    expect(errorLogsSince(mark)).toEqual([])
    await expectHealthy(port)
  })

  it('cuts off clients trickling one byte a second, headers or body, at the deadlines though bytes keep coming', async () => {
    // Longer deadlines than the shared server's, so that a byte a second lands several times before each.
    const headersMs = 2000
    const requestMs = 3000
    const slow = await startServer({ RATE_LIMIT_RPM: '10000' }, { timeouts: { headersMs, requestMs } })
    onTestFinished(() => slow.close())
    const slowPort = Number(new URL(slow.url).port)
    const slowKey = (await createKey(slowPort)).key
    const sent = { headers: 0, body: 0 }
    const trickle = async (socket: Socket, what: keyof typeof sent, text: string) => {
      for (const byte of text) {
        if (socket.destroyed || !socket.writable) return
        socket.write(byte)
        sent[what]++
        await sleep(1000)
      }
    }
    const [headers, body] = await Promise.all([
      exchange(slowPort, (socket) => trickle(socket, 'headers', 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'), 10_000),
      exchange(
        slowPort,
        (socket) => {
          socket.write(rawRequest('POST', '/v1/chat/completions', [...chatHeaders(slowKey), ['Content-Length', '100']]))
          return trickle(socket, 'body', chatBody())
        },
        10_000,
      ),
      // Everyone else is served meanwhile.
      (async () => {
        for (let i = 0; i < 4; i++) {
          await expectHealthy(slowPort)
          await sleep(500)
        }
      })(),
    ])
    expect(headers.status).toBe(408)
    expect(body.status).toBe(408)
    for (const cut of [headers, body]) {
      expect(json(cut).error).toMatchObject({ type: 'invalid_request_error', code: 'bad_request' })
      expect(cut.closed).toBe(true)
    }
    // Bytes kept arriving well inside any idle timeout; only the total time counted.
    expect(sent.headers).toBeGreaterThanOrEqual(2)
    expect(sent.body).toBeGreaterThanOrEqual(3)
    expect(headers.ms).toBeGreaterThanOrEqual(headersMs - 50)
    expect(headers.ms).toBeLessThan(headersMs + 1000)
    expect(body.ms).toBeGreaterThanOrEqual(requestMs - 50)
    expect(body.ms).toBeLessThan(requestMs + 1000)
    // The request the handler had begun is logged with the 408 the client got, not as a client that left.
    const chats = slow.logs.map((line) => JSON.parse(line)).filter((entry) => entry.path === '/v1/chat/completions')
    expect(chats).toEqual([expect.objectContaining({ status: 408, finished: false })])
    await expectHealthy(slowPort)
  })

  it('cuts off a visitor who stops reading a stream once the upstream idle deadline passes', async () => {
    // A real upstream writing 64 KiB events as fast as the relay takes them.
    const event = `data: ${JSON.stringify(deltaChunk('x'.repeat(64 * 1024)))}\n\n`
    const double = await startUpstreamDouble((request, response) => {
      request.resume()
      response.writeHead(200, { 'content-type': 'text/event-stream' })
      const pump = () => {
        while (!response.destroyed && response.write(event));
      }
      response.on('drain', pump)
      pump()
    })
    onTestFinished(() => double.close())
    const relay = await startServer({ UPSTREAM_BASE_URL: double.baseUrl, UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS) })
    onTestFinished(() => relay.close())
    const relayPort = Number(new URL(relay.url).port)
    const relayKey = (await createKey(relayPort)).key

    const socket = connect(relayPort, '127.0.0.1')
    socket.write(rawRequest('POST', '/v1/chat/completions', chatHeaders(relayKey), chatBody({ stream: true })))
    // Never read: the kernel buffers fill, the server's writes back up, and the relay waits for a drain.
    // (A paused socket cannot see the server hang up either, so the server's own logs tell.)
    socket.pause()
    const entries = () => relay.logs.map((line) => JSON.parse(line))
    await vi.waitFor(() => expect(entries().find((entry) => entry.path === '/v1/chat/completions')).toBeDefined(), {
      timeout: 5000,
    })
    expect(entries()).toContainEqual(expect.objectContaining({ msg: 'upstream timed out' }))
    expect(entries()).toContainEqual(expect.objectContaining({ path: '/v1/chat/completions', finished: false }))
    socket.destroy()
    await expectHealthy(relayPort)
  })
})

describe('pipelined requests and closing answers', () => {
  const admin: [string, string][] = [['Authorization', `Bearer ${ADMIN_TOKEN}`]]
  /** A request on a keep-alive connection, to go behind another in the same write. */
  const pipelined = (method: string, path: string, headers: [string, string][] = []) =>
    [
      `${method} ${path} HTTP/1.1`,
      'Host: 127.0.0.1',
      ...headers.map(([name, value]) => `${name}: ${value}`),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n')
  /** The chat request line and headers, kept alive, with its own framing header. */
  const chatHead = (framing: [string, string]) =>
    [
      `POST /v1/chat/completions HTTP/1.1`,
      'Host: 127.0.0.1',
      ...chatHeaders(key).map(([name, value]) => `${name}: ${value}`),
      framing.join(': '),
      '',
      '',
    ].join('\r\n')
  const stillWorks = async (victim: string) => {
    const answer = await request(port, 'POST', '/v1/chat/completions', chatHeaders(victim), chatBody())
    expect(answer.status).toBe(200)
  }
  beforeEach(() => upstream.mock.use(http.post(UPSTREAM_URL, () => HttpResponse.json({ choices: [] }))))

  it('runs nothing pipelined behind a declared length over the limit, and the client sees the 413, not a reset', async () => {
    const victim = await createKey(port)
    // Far more than the socket buffers hold: the server must read on (discarding) while the 413 goes out.
    const body = Buffer.alloc(16 * 1024 * 1024, ' ')
    const sendErrors: unknown[] = []
    const answer = await exchange(port, (socket) => {
      socket.write(chatHead(['Content-Length', String(body.length)]))
      socket.write(body, (err) => err && sendErrors.push(err))
      socket.write(pipelined('POST', `/admin/keys/${victim.id}/revoke`, admin), (err) => err && sendErrors.push(err))
    })
    expect(answer.status).toBe(413)
    expect(json(answer).error.code).toBe('request_too_large')
    expect(answer.headers.connection).toBe('close')
    expect(answer.error).toBeUndefined()
    expect(sendErrors).toEqual([])
    // One answer only, and the revocation behind it never happened.
    expect(answer.raw.match(/HTTP\/1\.1 \d{3} /g)).toHaveLength(1)
    await stillWorks(victim.key)
  })

  it('runs nothing pipelined behind a chunked body that grows over the limit', async () => {
    const victim = await createKey(port)
    const chunk = `100\r\n${' '.repeat(256)}\r\n`
    const answer = await exchange(
      port,
      chatHead(['Transfer-Encoding', 'chunked']) +
        chunk.repeat((MAX_BODY / 256) * 2) +
        '0\r\n\r\n' +
        pipelined('POST', `/admin/keys/${victim.id}/revoke`, admin),
    )
    expect(answer.status).toBe(413)
    expect(answer.headers.connection).toBe('close')
    expect(answer.raw.match(/HTTP\/1\.1 \d{3} /g)).toHaveLength(1)
    await stillWorks(victim.key)
  })

  it("does not spend a key's limit on a chat request pipelined behind a closing answer", async () => {
    const victim = await createKey(port, { rate_limit_rpm: 1 })
    const answer = await exchange(
      port,
      chatHead(['Content-Length', String(MAX_BODY + 1)]) +
        ' '.repeat(MAX_BODY + 1) +
        pipelined('GET', '/v1/models', [['Authorization', `Bearer ${victim.key}`]]),
    )
    expect(answer.status).toBe(413)
    expect(answer.raw.match(/HTTP\/1\.1 \d{3} /g)).toHaveLength(1)
    await stillWorks(victim.key) // its one request a minute is still there
  })

  it('still answers pipelined requests on a connection that stays open, in order', async () => {
    const answer = await exchange(port, pipelined('GET', '/healthz') + pipelined('GET', '/nowhere') + rawRequest('GET', '/healthz'))
    expect(answer.raw.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 404', 'HTTP/1.1 200'])
  })
})

describe('Expect: 100-continue', () => {
  /** Sends the head, waits for the server's first answer, and sends the body only after a 100 Continue. */
  const expectContinue = (headers: [string, string][]) =>
    exchange(port, async (socket, received) => {
      const body = chatBody()
      socket.write(
        rawRequest('POST', '/v1/chat/completions', [...headers, ['Expect', '100-continue'], ['Content-Length', String(body.length)]]),
      )
      while (!received()) await sleep(5)
      if (received().startsWith('HTTP/1.1 100 Continue\r\n')) socket.write(body)
    })

  it('invites the body once the key, the origin and the rate limit have passed', async () => {
    upstream.mock.use(http.post(UPSTREAM_URL, () => HttpResponse.json({ choices: [] })))
    const answer = await expectContinue(chatHeaders(key))
    expect(answer.raw).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /)
  })

  it.each<[string, () => Promise<[string, string][]>, number]>([
    ['a bad key', async () => chatHeaders('ask_nope'), 401],
    [
      'an origin the key does not allow',
      async () => [...chatHeaders((await createKey(port, { allowed_domains: ['example.com'] })).key), ['Origin', 'https://evil.test']],
      403,
    ],
    [
      'a full rate-limit window',
      async () => {
        const limited = (await createKey(port, { rate_limit_rpm: 1 })).key
        await request(port, 'GET', '/v1/models', [['Authorization', `Bearer ${limited}`]])
        return chatHeaders(limited)
      },
      429,
    ],
  ])('never invites %s to upload', async (_name, headers, status) => {
    const answer = await expectContinue(await headers())
    expect(answer.status).toBe(status)
    expect(answer.raw).not.toContain('100 Continue')
  })
})

describe('request bodies', () => {
  it('answers 413 to a declared Content-Length over the limit without waiting for the body', async () => {
    const head = rawRequest('POST', '/v1/chat/completions', [...chatHeaders(key), ['Content-Length', String(MAX_BODY * 50)]])
    const answer = await exchange(port, head) // the body is never sent
    expect(answer.status).toBe(413)
    expect(json(answer).error).toMatchObject({ code: 'request_too_large', type: 'invalid_request_error' })
    expect(json(answer).error.message).toContain(String(MAX_BODY))
    expect(answer.closed).toBe(true)
    expect(answer.ms).toBeLessThan(1000)
    await expectHealthy(port)
  })

  it('answers 413 and closes the connection when a chunked body grows past the limit', async () => {
    let sent = 0
    const answer = await exchange(port, async (socket, received) => {
      socket.write(rawRequest('POST', '/v1/chat/completions', [...chatHeaders(key), ['Transfer-Encoding', 'chunked']]))
      while (sent < MAX_BODY * 100 && !received() && socket.writable) {
        socket.write(`100\r\n${' '.repeat(256)}\r\n`)
        sent += 256
        await sleep(5)
      }
    })
    expect(answer.status).toBe(413)
    expect(json(answer).error.code).toBe('request_too_large')
    expect(answer.headers.connection).toBe('close')
    expect(answer.closed).toBe(true)
    // It stopped reading soon after the limit rather than swallowing the whole upload.
    expect(sent).toBeLessThan(MAX_BODY * 10)
    await expectHealthy(port)
  })

  it('reads a body of exactly the limit, and refuses one byte more with 413, whether its length is declared or chunked', async () => {
    // A JSON array padded with spaces: past the size check, it fails the chat-request check instead.
    const padded = (size: number) => '[' + ' '.repeat(size - 2) + ']'
    const chunked = (body: string) =>
      exchange(port, async (socket) => {
        socket.write(rawRequest('POST', '/v1/chat/completions', [...chatHeaders(key), ['Transfer-Encoding', 'chunked']]))
        for (let at = 0; at < body.length; at += 500) {
          const piece = body.slice(at, at + 500)
          socket.write(`${piece.length.toString(16)}\r\n${piece}\r\n`)
          await sleep(2)
        }
        socket.write('0\r\n\r\n')
      })
    for (const send of [(body: string) => request(port, 'POST', '/v1/chat/completions', chatHeaders(key), body), chunked]) {
      const fits = await send(padded(MAX_BODY))
      expect(fits.status).toBe(400)
      expect(json(fits).error).toMatchObject({ code: 'invalid_body', param: 'body' })
      const over = await send(padded(MAX_BODY + 1))
      expect(over.status).toBe(413)
      expect(json(over).error.code).toBe('request_too_large')
    }
    await expectHealthy(port)
  })

  it.each([
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 'UTF-8'],
    ['UTF-8 with an overlong encoding of "/"', bytes('{"a":"', [0xc0, 0xaf], '"}'), 'UTF-8'],
    ['UTF-8 encoding a lone surrogate', bytes('{"a":"', [0xed, 0xa0, 0x80], '"}'), 'UTF-8'],
    ['UTF-8 cut off inside a character', bytes('{"a":"', [0xe2, 0x82]), 'UTF-8'],
    ['Latin-1 rather than UTF-8', bytes('{"model":"assisters-chat-v1","messages":[{"role":"user","content":"caf', [0xe9], '"}]}'), 'UTF-8'],
    ['not JSON', '{"model":', 'not valid JSON'],
    ['JSON with a raw NUL inside a string', '{"a":"\0"}', 'not valid JSON'],
    ['empty', '', 'empty'],
  ])('answers a body that is %s with 400 invalid_json', async (_what, body, says) => {
    const answer = await request(port, 'POST', '/v1/chat/completions', chatHeaders(key), body)
    expect(answer.status).toBe(400)
    expect(json(answer).error).toMatchObject({ code: 'invalid_json', type: 'invalid_request_error' })
    expect(json(answer).error.message).toContain(says)
    await expectHealthy(port)
  })

  it.each([
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/jsonp',
    'application/json; charset=iso-8859-1',
    'application/json; charset=utf-16',
    'application/json, text/plain',
    'application/json-patch+json',
  ])('answers Content-Type %s with 400 invalid_json naming the expected type', async (type) => {
    const headers: [string, string][] = [
      ['Authorization', `Bearer ${key}`],
      ['Content-Type', type],
    ]
    const answer = await request(port, 'POST', '/v1/chat/completions', headers, chatBody())
    expect(answer.status).toBe(400)
    expect(json(answer).error.code).toBe('invalid_json')
    expect(json(answer).error.message).toContain('application/json')
  })

  it.each([
    ['gzip', gzipSync(chatBody())],
    ['br', Buffer.from(chatBody())],
    ['deflate, gzip', Buffer.from(chatBody())],
  ])('answers a body sent with Content-Encoding %s with 400 invalid_json saying to send it uncompressed', async (encoding, body) => {
    const answer = await request(port, 'POST', '/v1/chat/completions', [...chatHeaders(key), ['Content-Encoding', encoding]], body)
    expect(answer.status).toBe(400)
    expect(json(answer).error).toMatchObject({ code: 'invalid_json', type: 'invalid_request_error' })
    expect(json(answer).error.message).toContain('Content-Encoding')
  })

  it('takes a body sent with Content-Encoding: identity as it is', async () => {
    const answer = await request(port, 'POST', '/v1/chat/completions', [...chatHeaders(key), ['Content-Encoding', 'identity']], '[]')
    expect(answer.status).toBe(400)
    expect(json(answer).error).toMatchObject({ code: 'invalid_body', param: 'body' })
  })

  it.each(['Application/JSON', 'application/json;charset="UTF-8"', ' application/json ; charset=utf-8', 'application/json; charset=utf8'])(
    'takes Content-Type %j as JSON',
    async (type) => {
      const headers: [string, string][] = [
        ['Authorization', `Bearer ${key}`],
        ['Content-Type', type],
      ]
      // Past the content-type check, the array fails the next one: the chat request's shape.
      const answer = await request(port, 'POST', '/v1/chat/completions', headers, '[]')
      expect(answer.status).toBe(400)
      expect(json(answer).error).toMatchObject({ code: 'invalid_body', param: 'body' })
    },
  )

  it.each(['[]', '[{"model":"assisters-chat-v1"}]', '42', 'null', '"hello"', 'true'])(
    'answers JSON that is not an object (%s) with 400 invalid_body on param body',
    async (body) => {
      const answer = await request(port, 'POST', '/v1/chat/completions', chatHeaders(key), body)
      expect(answer.status).toBe(400)
      expect(json(answer).error).toMatchObject({ code: 'invalid_body', param: 'body', type: 'invalid_request_error' })
    },
  )
})

describe('Authorization spellings', () => {
  it('refuses two Authorization headers with 401, even when both carry the valid key', async () => {
    const headers: [string, string][] = [
      ['Authorization', `Bearer ${key}`],
      ['Authorization', `Bearer ${key}`],
    ]
    const answer = await request(port, 'GET', '/v1/models', headers)
    expect(answer.status).toBe(401)
    expect(json(answer)).toEqual(INVALID_KEY_BODY)
    expect(answer.body).toBe(JSON.stringify(INVALID_KEY_BODY))
  })

  const spellings: [string, number, (key: string) => string][] = [
    ['the canonical form', 200, (k) => `Bearer ${k}`],
    ['a lower-case scheme', 200, (k) => `bearer ${k}`],
    ['an upper-case scheme', 200, (k) => `BEARER ${k}`],
    ['two spaces after the scheme', 200, (k) => `Bearer  ${k}`],
    ['trailing spaces (trimmed by HTTP)', 200, (k) => `Bearer ${k}   `],
    ['leading spaces (trimmed by HTTP)', 200, (k) => `   Bearer ${k}`],
    ['a trailing tab (trimmed by HTTP)', 200, (k) => `Bearer ${k}\t`],
    ['a tab after the scheme', 401, (k) => `Bearer\t${k}`],
    ['a non-breaking space after the scheme', 401, (k) => `Bearer\u00a0${k}`],
    ['the key in quotes', 401, (k) => `Bearer "${k}"`],
    ['the key in lower case (keys are case-sensitive)', 401, (k) => `Bearer ${k.toLowerCase()}`],
    ['a comma after the key', 401, (k) => `Bearer ${k},`],
    ['no space after the scheme', 401, (k) => `Bearer${k}`],
    ['another scheme', 401, (k) => `Token ${k}`],
    ['Basic credentials', 401, (k) => `Basic ${Buffer.from(`${k}:`).toString('base64')}`],
    ['an extra word after the key', 401, (k) => `Bearer ${k} extra`],
    ['a comma-joined second key', 401, (k) => `Bearer ${k}, Bearer ${k}`],
    ['the key alone', 401, (k) => k],
    ['the scheme alone', 401, () => 'Bearer'],
    ['an empty value', 401, () => ''],
    ['a key with its last character changed', 401, (k) => `Bearer ${k.slice(0, -1)}${k.endsWith('A') ? 'B' : 'A'}`],
    ['a key without the ask_ prefix', 401, (k) => `Bearer ${k.slice(4)}`],
  ]

  it.each(spellings)('with %s, answers %i on both public API routes alike', async (_what, status, spell) => {
    const auth: [string, string][] = [['Authorization', spell(key)]]
    const models = await request(port, 'GET', '/v1/models', auth)
    // Chat is never relayed here: a good key stops at the (deliberately) bad body, past the key check.
    const chat = await request(port, 'POST', '/v1/chat/completions', [...auth, ['Content-Type', 'application/json']], '[]')
    expect(models.status).toBe(status)
    expect(chat.status).toBe(status === 200 ? 400 : 401)
    if (status === 401) {
      expect(json(models)).toEqual(INVALID_KEY_BODY)
      expect(json(chat)).toEqual(INVALID_KEY_BODY)
    }
  })

  it.each<[string, (key: string) => [string, string][]]>([
    [
      'the valid key, then an empty one',
      (k) => [
        ['Authorization', `Bearer ${k}`],
        ['Authorization', ''],
      ],
    ],
    [
      'an empty one, then the valid key',
      (k) => [
        ['Authorization', ''],
        ['Authorization', `Bearer ${k}`],
      ],
    ],
    [
      'the valid key, then another scheme',
      (k) => [
        ['Authorization', `Bearer ${k}`],
        ['Authorization', 'Basic eDp5'],
      ],
    ],
  ])('refuses two Authorization headers, %s, with 401', async (_what, headers) => {
    const answer = await request(port, 'GET', '/v1/models', headers(key))
    expect(answer.status).toBe(401)
    expect(answer.body).toBe(JSON.stringify(INVALID_KEY_BODY))
  })

  it('refuses a request with no Authorization header at all with the exact 401 body', async () => {
    const answer = await request(port, 'GET', '/v1/models')
    expect(answer.status).toBe(401)
    expect(json(answer)).toEqual(INVALID_KEY_BODY)
  })
})

describe('header values that are not UTF-8', () => {
  const ORIGIN_BODY = {
    error: { message: 'Request origin not allowed for this API key', type: 'invalid_request_error', code: 'origin_not_allowed' },
  }
  let restricted: string
  beforeAll(async () => {
    restricted = (await createKey(port, { allowed_domains: ['site.example'] })).key
  })

  const get = (path: string, ...headerLines: (string | number[])[]) =>
    exchange(port, bytes(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n`, ...headerLines, '\r\n'))

  it('refuses a key with bytes that are not UTF-8 with the exact 401 body', async () => {
    const answer = await get('/v1/models', `Authorization: Bearer ${key.slice(0, -2)}`, [0xff, 0xfe], '\r\n')
    expect(answer.status).toBe(401)
    expect(answer.body).toBe(JSON.stringify(INVALID_KEY_BODY))
    await expectHealthy(port)
  })

  it.each<[string, (string | number[])[]]>([
    ['a byte that is never UTF-8 after the allowed host', ['https://site.example', [0xff]]],
    ['a lone continuation byte after the allowed host', ['https://site.example', [0x80]]],
    ['a character cut off after the allowed host', ['https://site.example', [0xc3]]],
    // Cyrillic е for the Latin e: an IDN spoof sent raw, where a browser would send punycode.
    ['the raw UTF-8 of a look-alike letter inside the host', ['https://sit', [0xd0, 0xb5], '.example']],
  ])('refuses an Origin with %s with the exact 403 body', async (_what, origin) => {
    const answer = await get('/v1/models', `Authorization: Bearer ${restricted}\r\nOrigin: `, ...origin, '\r\n')
    expect(answer.status).toBe(403)
    expect(answer.body).toBe(JSON.stringify(ORIGIN_BODY))
    await expectHealthy(port)
  })

  it('ignores such bytes in a header it does not read', async () => {
    const answer = await get('/healthz', 'X-Note: caf', [0xe9, 0xff, 0x80], '\r\n')
    expect(answer.status).toBe(200)
    expect(json(answer)).toEqual({ status: 'ok' })
  })
})

describe('unknown routes and methods', () => {
  it.each([
    ['GET', '/'],
    ['GET', '/v1'],
    ['GET', '/v1/chat/completions/extra'],
    ['POST', '/v1/completions'],
    ['GET', '/V1/MODELS'],
    ['GET', '/%00'],
    ['OPTIONS', '/nope'],
    // An absolute-form target goes by its path (below), which here is unknown; asterisk-form is refused.
    ['GET', 'http://127.0.0.1/nope'],
    ['OPTIONS', '*'],
  ])('answers %s %s with 404 not_found', async (method, path) => {
    const answer = await request(port, method, path, [['Origin', 'https://site.example']])
    expect(answer.status).toBe(404)
    expect(json(answer).error).toMatchObject({ code: 'not_found', type: 'invalid_request_error' })
  })

  it.each([
    ['GET', '/v1/chat/completions', 'POST, OPTIONS'],
    ['DELETE', '/v1/chat/completions', 'POST, OPTIONS'],
    ['PUT', '/v1/models', 'GET, HEAD, OPTIONS'],
    ['POST', '/healthz', 'GET, HEAD, OPTIONS'],
    ['PATCH', '/widget.js', 'GET, HEAD, OPTIONS'],
  ])('answers %s %s with 405 method_not_allowed and Allow: %s', async (method, path, allow) => {
    const answer = await request(port, method, path)
    expect(answer.status).toBe(405)
    expect(answer.headers.allow).toBe(allow)
    expect(json(answer).error).toMatchObject({ code: 'method_not_allowed', type: 'invalid_request_error' })
  })

  it('routes a request target in absolute form by its path and query, as its origin form (RFC 9112 §3.2.2)', async () => {
    const originForm = await request(port, 'GET', '/v1/models', chatHeaders(key))
    expect(originForm.status).toBe(200)
    const mark = server.logs.length
    for (const target of [`http://127.0.0.1:${port}/v1/models`, `HTTPS://127.0.0.1:${port}/v1/models?x=1`]) {
      const answer = await request(port, 'GET', target, chatHeaders(key))
      expect([target, answer.status, json(answer)]).toEqual([target, 200, json(originForm)])
    }
    // Not a proxy: the authority is ignored, never fetched, and the answer is this server's own.
    const elsewhere = await request(port, 'GET', `http://evil.example/v1/models/${MODEL}`, chatHeaders(key))
    expect([elsewhere.status, json(elsewhere).id]).toEqual([200, MODEL])
    expect(json(await request(port, 'GET', `http://127.0.0.1:${port}`))).toMatchObject({ error: { code: 'not_found' } })
    // Host rules as for any request: HTTP/1.1 without Host is still a 400.
    expect((await exchange(port, `GET http://127.0.0.1:${port}/healthz HTTP/1.1\r\nConnection: close\r\n\r\n`)).status).toBe(400)
    await sleep(20)
    const logged = server.logs.slice(mark).map((line) => JSON.parse(line))
    expect(logged.filter((entry) => entry.msg === 'request').map((entry) => entry.path)).toEqual([
      '/v1/models',
      '/v1/models',
      `/v1/models/${MODEL}`,
      '/',
    ])
  })

  it('answers a long unknown URL with 404, logging only the start of its path', async () => {
    const mark = server.logs.length
    const path = `/${'a'.repeat(12 * 1024)}?q=${'b'.repeat(1024)}`
    const answer = await request(port, 'GET', path)
    expect(answer.status).toBe(404)
    await sleep(20)
    const logged = server.logs
      .slice(mark)
      .map((line) => JSON.parse(line))
      .find((entry) => entry.msg === 'request')
    expect(logged).toMatchObject({ status: 404, path: `/${'a'.repeat(199)}` })
  })

  it('answers OPTIONS on a known route with a 204 preflight (unlike an unknown one)', async () => {
    const answer = await request(port, 'OPTIONS', '/v1/chat/completions', [['Origin', 'https://site.example']])
    expect(answer.status).toBe(204)
  })
})

describe('open handles', () => {
  const failures: [string, () => Response | Promise<Response>, boolean][] = [
    ['an upstream 500', () => HttpResponse.json({ error: { message: 'boom' } }, { status: 500 }), false],
    ['an unreachable upstream', () => HttpResponse.error(), false],
    ['an upstream that never answers', () => new Promise<Response>(() => {}), false],
    [
      'an upstream stream that breaks part-way',
      () => new HttpResponse(slowStream(['a ', 'b ', 'c '], 20, { breakAfter: 2 }), { headers: { 'content-type': 'text/event-stream' } }),
      true,
    ],
    // One event first: msw sends a mocked answer's headers only with its first bytes.
    [
      'an upstream stream that goes silent',
      () => new HttpResponse(slowStream(['a ', 'b '], 0, { hangAfter: 1 }), { headers: { 'content-type': 'text/event-stream' } }),
      true,
    ],
  ]

  it.each(failures)('leaves no timer or socket behind after %s', async (_what, answer, stream) => {
    upstream.mock.use(http.post(UPSTREAM_URL, answer))
    // vitest's own reporting holds a timer for up to 100 ms after a test starts; let it go first.
    await sleep(150)
    const before = resourceCounts()
    const result = await request(port, 'POST', '/v1/chat/completions', chatHeaders(key), chatBody({ stream }))
    if (stream) {
      expect(result.status).toBe(200)
      expect(result.body).toMatch(/data: \{"error":\{.*"type":"api_error"/)
      expect(result.body).not.toContain('[DONE]')
    } else {
      expect([502, 504]).toContain(result.status)
      expect(json(result).error.type).toBe('api_error')
    }
    // Sockets close within milliseconds; a leaked relay timer (UPSTREAM_TIMEOUT_MS) would outlive this wait.
    const settled = (counts: typeof before) => counts.Timeout === before.Timeout && counts.TCPSocketWrap === before.TCPSocketWrap
    const after = await eventually(resourceCounts, settled, UPSTREAM_TIMEOUT_MS / 2)
    expect(after).toEqual(before)
  })
})

// ---------------------------------------------------------------------------------------------
// A broken part inside the pipeline

describe('internal errors', () => {
  let broken: Server
  let brokenPort: number
  const lines: string[] = []
  const limiter = createMemoryRateLimiter()

  beforeAll(async () => {
    const handle = createHandler({
      config: loadConfig({ ADMIN_TOKEN }),
      // Stands in for a store whose database went away under it.
      authenticate: async () => {
        throw new Error('SQLITE_IOERR: disk I/O error at /var/lib/assisters/data.db')
      },
      limiter,
      budget: { check: async () => undefined, add() {}, close: async () => {} },
      accountTokenLimit: async () => null,
      streams: createMemoryStreamSlots(),
      activity: { origin() {}, refused() {}, flush: async () => {}, close: async () => {} },
      relay: async () => {
        throw new Error('the relay is never reached here')
      },
      visitorId: () => 'never-asked',
      serveWidget: async () => {
        throw new Error('the widget is never served here')
      },
      servePanel: async () => {
        throw new Error('the panel is never served here')
      },
      handleDashboard: async () => {
        throw new Error('the dashboard is never reached here')
      },
      handleAdmin: async () => {
        throw new Error('the admin API is never reached here')
      },
      handleMetrics: async () => {
        throw new Error('the metrics are never reached here')
      },
      readiness: async () => {
        throw new Error('readiness is never asked here')
      },
      metrics: createMetrics(),
      log: createLogger({ write: (line) => lines.push(line) }),
    })
    broken = createServer((req, res) => void handle(req, res))
    await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve))
    brokenPort = (broken.address() as { port: number }).port
  })
  afterAll(async () => {
    await limiter.close()
    await new Promise((resolve) => broken.close(resolve))
  })

  it('answers 500 internal_error without a stack, logs it once, and keeps serving', async () => {
    for (let round = 1; round <= 2; round++) {
      const answer = await request(brokenPort, 'GET', '/v1/models', [['Authorization', `Bearer ${key}`]])
      expect(answer.status).toBe(500)
      expect(json(answer)).toEqual({
        error: {
          message: 'The server had an error while processing your request',
          type: 'api_error',
          code: 'internal_error',
        },
      })
      expect(answer.body).not.toMatch(/SQLITE|stack|\bat |\.ts:/)
      await sleep(20)
      const errors = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 'error')
      expect(errors).toHaveLength(round)
      expect(errors[round - 1].err.message).toContain('SQLITE_IOERR')
      expect(lines.join('')).not.toContain(key)
    }
    await expectHealthy(brokenPort)
  })
})

// ---------------------------------------------------------------------------------------------
// The real process

interface Spawned {
  child: ChildProcess
  port: number
  /** Parsed stdout lines so far. */
  logs: () => Record<string, unknown>[]
  stdout: () => string
  stderr: () => string
  exited: Promise<number | null>
}

const children: ChildProcess[] = []

/** Starts `node --import tsx server/main.ts` with only these variables, and waits for its "listening" line. */
async function spawnServer(env: Record<string, string>): Promise<Spawned> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk) => (stdout += chunk))
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const logs = () =>
    stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
  const listening = await eventually(
    () => (stdout.includes('"listening"') ? logs().find((entry) => entry.msg === 'listening') : undefined),
    (entry) => entry !== undefined || child.exitCode !== null,
    10_000,
  )
  if (!listening) throw new Error(`server did not start: ${stderr}`)
  return { child, port: Number(new URL(String(listening.url)).port), logs, stdout: () => stdout, stderr: () => stderr, exited }
}

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

describe('the real process', () => {
  // Made when the first test of this block runs, so a filtered run that skips them leaves nothing behind.
  let dir: string
  beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), 'assisters-robust-'))))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('says once at start-up when no model is configured, and when the widget is not built', async () => {
    const app = await spawnServer({ PORT: '0', DATABASE_URL: `sqlite:${join(dir, 'notes.db')}` })
    await expectHealthy(app.port)
    const warnings = app
      .logs()
      .filter((entry) => entry.level === 'warn')
      .map((entry) => String(entry.msg))
    expect(warnings.filter((msg) => msg.startsWith('no model configured'))).toHaveLength(1)
    // Whichever state this checkout is in: the note is there exactly when dist/widget.js is not.
    const notBuilt = warnings.filter((msg) => msg.startsWith('the widget is not built'))
    expect(notBuilt).toHaveLength(existsSync(join(ROOT, 'dist/widget.js')) ? 0 : 1)
    app.child.kill('SIGTERM')
    expect(await app.exited).toBe(0)
  })

  it('survives a burst of failing, aborted and malformed requests, logging JSON lines without secrets', async () => {
    const app = await spawnServer({
      PORT: '0',
      DATABASE_URL: `sqlite:${join(dir, 'burst.db')}`,
      ADMIN_TOKEN,
      UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1',
      UPSTREAM_MODEL: 'm',
      UPSTREAM_API_KEY: 'sk-secret-xyz',
      RATE_LIMIT_RPM: '10000',
    })
    // A model is configured here, so start-up did not say otherwise.
    expect(app.logs().filter((entry) => String(entry.msg).startsWith('no model configured'))).toEqual([])
    const { key: liveKey } = await createKey(app.port)
    const chat = (fields: Record<string, unknown>) =>
      request(app.port, 'POST', '/v1/chat/completions', chatHeaders(liveKey), chatBody(fields))
    const abandoned = () =>
      exchange(app.port, (socket) => {
        socket.write(rawRequest('POST', '/v1/chat/completions', chatHeaders(liveKey), chatBody({ stream: true })))
        socket.destroy()
      })
    const halfSent = () =>
      exchange(app.port, async (socket) => {
        socket.write(rawRequest('POST', '/v1/chat/completions', [...chatHeaders(liveKey), ['Content-Length', '500']]))
        socket.write('{"model":')
        await sleep(30)
        socket.destroy()
      })

    const burst = await Promise.all(
      Array.from({ length: 8 }, () => [
        chat({}),
        chat({ stream: true }),
        chat({ messages: [{ role: 'user', content: 'my key is sk-secret-xyz' }] }),
        abandoned(),
        halfSent(),
        exchange(app.port, 'GARBAGE\r\n\r\n'),
        request(app.port, 'GET', `/${liveKey}`),
        request(app.port, 'GET', '/v1/models', [['Authorization', 'Bearer sk-secret-xyz']]),
      ]).flat(),
    )
    const failed = burst.filter((answer) => answer.status === 502)
    expect(failed).toHaveLength(24)
    for (const answer of failed) {
      expect(json(answer).error).toMatchObject({ type: 'api_error', code: 'upstream_error' })
      expect(answer.body).not.toMatch(/sk-secret|127\.0\.0\.1:9|ECONNREFUSED|fetch failed/)
    }
    expect(burst.filter((answer) => answer.status === 404)).toHaveLength(8)
    expect(burst.filter((answer) => answer.status === 401)).toHaveLength(8)
    expect(burst.filter((answer) => answer.status === 400)).toHaveLength(8)
    expect(burst.every((answer) => answer.status === undefined || answer.status < 500 || answer.status === 502)).toBe(true)

    await sleep(100)
    expect(app.child.exitCode).toBeNull()
    await expectHealthy(app.port)

    const logs = app.logs() // throws if any stdout line is not JSON
    // Abandoned requests may or may not get as far as the upstream before their visitor is gone.
    expect(logs.filter((entry) => entry.msg === 'upstream unreachable').length).toBeGreaterThanOrEqual(24)
    expect(logs.filter((entry) => entry.level === 'error')).toEqual([])
    expect(logs.some((entry) => /unhandled/i.test(String(entry.msg)))).toBe(false)
    expect(app.stdout()).not.toContain(liveKey)
    expect(app.stdout()).not.toMatch(/ask_[0-9A-Za-z]{6}/)
    expect(app.stdout()).not.toContain('sk-secret-xyz')
    expect(app.stdout()).not.toContain(ADMIN_TOKEN)
    expect(app.stderr()).toBe('')

    app.child.kill('SIGTERM')
    expect(await app.exited).toBe(0)
  }, 15_000)

  it('on SIGTERM finishes the open stream, refuses new connections, flushes usage and exits 0', async () => {
    const database = join(dir, 'shutdown.db')
    const app = await spawnServer({ PORT: '0', DATABASE_URL: `sqlite:${database}`, ADMIN_TOKEN })
    const { key: liveKey, id } = await createKey(app.port)

    let signalled = false
    const stream = exchange(
      app.port,
      async (socket, received) => {
        socket.write(rawRequest('POST', '/v1/chat/completions', chatHeaders(liveKey), chatBody({ stream: true })))
        await eventually(received, (text) => text.includes('"content":"Hello! "'), 3000)
        app.child.kill('SIGTERM')
        signalled = true
      },
      10_000,
    )

    const shuttingDown = await eventually(() => app.logs().some((entry) => entry.msg === 'shutting down'), Boolean, 3000)
    expect(shuttingDown).toBe(true)
    expect(signalled).toBe(true)
    await sleep(50)
    const late = await exchange(app.port, rawRequest('GET', '/healthz'))
    expect(late.error).toBe('ECONNREFUSED')
    expect(app.child.exitCode).toBeNull() // still finishing the stream

    const finished = await stream
    expect(finished.status).toBe(200)
    expect(finished.body).toContain('"content":"responder**, "')
    expect(finished.body.endsWith('data: [DONE]\n\n')).toBe(true)
    expect(finished.body).not.toContain('"error"')

    expect(await app.exited).toBe(0)
    expect(app.logs().map((entry) => entry.msg)).toEqual(expect.arrayContaining(['shutting down', 'stopped']))

    // Closed cleanly: the WAL was checkpointed away, the file is sound, and usage made it to disk.
    expect(existsSync(`${database}-wal`)).toBe(false)
    const db = new Database(database)
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
      const usage = db.prepare('SELECT requests, prompt_tokens, completion_tokens FROM usage WHERE key_id = ?').all(id) as {
        requests: number
        prompt_tokens: number
        completion_tokens: number
      }[]
      expect(usage).toHaveLength(1)
      expect(usage[0]!.requests).toBe(1)
      expect(usage[0]!.completion_tokens).toBeGreaterThan(10)
    } finally {
      db.close()
    }
  }, 15_000)
})
