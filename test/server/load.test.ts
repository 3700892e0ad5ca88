/**
 * Load: 200 clients at once for 10 s against the real server (real SQLite file, msw as a quick
 * upstream), each firing a mix of valid, malformed-key, unknown-key, revoked-key, wrong-origin and
 * over-limit chat requests. Every response must be the one the contract gives its category, nothing
 * may fail with a 5xx or at the connection, and the limited key must admit exactly its limit.
 *
 * The clients are raw keep-alive sockets rather than node:http: lighter on a two-core machine that
 * also runs the server, and out of msw's reach (it intercepts node:http in this process).
 */
import { connect } from 'node:net'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { generateKey } from '../../server/keys.ts'
import { answerJson, completion, createUpstreamMock, MODEL, startServer, type TestServer } from './harness.ts'

const CLIENTS = 200
const DURATION_MS = 10_000
/** The over-limit key's requests per minute. The run is far shorter than the 60 s window, so exactly this many get through. */
const LIMIT = 30
const HIGH_LIMIT = 100_000
const SITE = 'https://site.example'

const INVALID_KEY_BODY = JSON.stringify({
  error: { message: 'Invalid API key provided', type: 'invalid_request_error', code: 'invalid_api_key' },
})
const ORIGIN_BODY = JSON.stringify({
  error: { message: 'Request origin not allowed for this API key', type: 'invalid_request_error', code: 'origin_not_allowed' },
})

type Category = 'valid' | 'overLimit' | 'wrongOrigin' | 'malformedKey' | 'unknownKey' | 'revokedKey'
/** Each client walks this list from its own starting point, so every category is always in flight. */
const MIX: Category[] = ['valid', 'valid', 'overLimit', 'wrongOrigin', 'malformedKey', 'unknownKey', 'revokedKey']

interface Reply {
  status: number
  headers: Record<string, string>
  body: string
}

/**
 * One keep-alive HTTP/1.1 connection, one request at a time. Every answer this server gives on these
 * routes is JSON with a Content-Length; anything else fails the request like a broken connection.
 */
function openConnection(port: number) {
  const socket = connect(port, '127.0.0.1')
  socket.setNoDelay(true)
  let buffer: Buffer = Buffer.alloc(0)
  let pending: { resolve(reply: Reply): void; reject(err: Error): void } | undefined
  let failure: Error | undefined

  const fail = (err: Error) => {
    failure ??= err
    pending?.reject(failure)
    pending = undefined
  }
  socket.on('error', fail)
  socket.on('close', () => fail(new Error('the server closed the connection')))
  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk
    const end = buffer.indexOf('\r\n\r\n')
    if (end === -1 || !pending) return
    const [statusLine = '', ...lines] = buffer.subarray(0, end).toString('latin1').split('\r\n')
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
    }
    const length = Number(headers['content-length'])
    if (!Number.isInteger(length)) return fail(new Error(`an answer without Content-Length: ${statusLine}`))
    if (buffer.length < end + 4 + length) return
    const body = buffer.subarray(end + 4, end + 4 + length).toString('utf8')
    buffer = buffer.subarray(end + 4 + length)
    const done = pending
    pending = undefined
    done.resolve({ status: Number(statusLine.split(' ')[1]), headers, body })
  })

  return {
    send(request: Buffer): Promise<Reply> {
      if (failure) return Promise.reject(failure)
      return new Promise((resolve, reject) => {
        pending = { resolve, reject }
        socket.write(request)
      })
    },
    close: () => socket.destroy(),
  }
}

/** A whole chat request; kept as bytes, built once per category. */
function chatRequest(authorization: string, origin: string) {
  const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hello' }] })
  return Buffer.from(
    'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
      `Authorization: ${authorization}\r\nOrigin: ${origin}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  )
}

const upstream = createUpstreamMock()
let server: TestServer
let port: number
const requests = {} as Record<Category, Buffer>

beforeAll(async () => {
  upstream.listen()
  upstream.mock.use(answerJson(completion('Hi')))
  // All 200 clients share one loopback address: one visitor, whose own limit is visitor-limit.test.ts's subject.
  server = await startServer({ VISITOR_RPM: '0' })
  port = Number(new URL(server.url).port)

  const fields = (rate_limit_rpm: number, domain = 'site.example') => ({ allowed_domains: [domain], rate_limit_rpm })
  const valid = await server.createKey(fields(HIGH_LIMIT))
  const limited = await server.createKey(fields(LIMIT), valid.accountId)
  const elsewhere = await server.createKey(fields(HIGH_LIMIT, 'other.example'), valid.accountId)
  const revoked = await server.createKey(fields(HIGH_LIMIT), valid.accountId)
  expect((await server.admin('POST', `/admin/keys/${revoked.id}/revoke`)).status).toBe(200)
  // The last character is part of the checksum, so any other one makes the key malformed.
  const malformed = valid.key.slice(0, -1) + (valid.key.endsWith('A') ? 'B' : 'A')

  const bearer = (key: string) => `Bearer ${key}`
  requests.valid = chatRequest(bearer(valid.key), SITE)
  requests.overLimit = chatRequest(bearer(limited.key), SITE)
  requests.wrongOrigin = chatRequest(bearer(elsewhere.key), SITE)
  requests.malformedKey = chatRequest(bearer(malformed), SITE)
  requests.unknownKey = chatRequest(bearer(generateKey()), SITE)
  requests.revokedKey = chatRequest(bearer(revoked.key), SITE)
})

afterAll(async () => {
  await server?.close()
  upstream.mock.close()
})

/** What is wrong with a reply for its category, or undefined when it is the contract's answer. */
function mismatch(category: Category, reply: Reply): string | undefined {
  const { status, headers, body } = reply
  const expected = (want: number, exact?: string) =>
    status === want && (exact === undefined || body === exact) ? undefined : `${category}: ${status} ${body.slice(0, 200)}`
  // Errors too carry the CORS grant, so the widget can read them.
  if (headers['access-control-allow-origin'] !== SITE) return `${category}: no CORS grant on a ${status}`
  switch (category) {
    case 'valid': {
      if (status !== 200) return expected(200)
      const answer = JSON.parse(body)
      if (answer.model !== MODEL || answer.choices?.[0]?.message?.content !== 'Hi') return `valid: unexpected answer ${body}`
      return headers['x-ratelimit-limit-requests'] === String(HIGH_LIMIT) ? undefined : 'valid: no rate-limit headers'
    }
    case 'overLimit': {
      if (status === 200) return headers['x-ratelimit-limit-requests'] === String(LIMIT) ? undefined : 'overLimit: no rate-limit headers'
      if (status !== 429) return expected(429)
      const { error } = JSON.parse(body)
      if (
        error?.type !== 'rate_limit_error' ||
        error.code !== 'rate_limit_exceeded' ||
        !error.message.includes(`${LIMIT} requests per minute`)
      ) {
        return `overLimit: 429 body ${body}`
      }
      const seconds = Number(headers['retry-after'])
      const ms = Number(headers['retry-after-ms'])
      const sound = Number.isInteger(seconds) && seconds >= 1 && seconds <= 60 && Number.isInteger(ms) && Math.ceil(ms / 1000) === seconds
      if (!sound) return `overLimit: Retry-After ${headers['retry-after']}, retry-after-ms ${headers['retry-after-ms']}`
      return headers['x-ratelimit-remaining-requests'] === '0' ? undefined : 'overLimit: 429 with admissions remaining'
    }
    case 'wrongOrigin':
      return expected(403, ORIGIN_BODY)
    case 'malformedKey':
    case 'unknownKey':
    case 'revokedKey':
      return expected(401, INVALID_KEY_BODY)
  }
}

it(
  `answers ${CLIENTS} concurrent clients for ${DURATION_MS / 1000} s with the contract's status for every request`,
  async () => {
    const counts = Object.fromEntries(MIX.map((category) => [category, {}])) as Record<Category, Record<number, number>>
    const wrong: string[] = []
    let wrongCount = 0
    const connectionErrors: string[] = []
    /** x-ratelimit-remaining-requests of each admitted over-limit request. */
    const remaining: number[] = []

    const deadline = Date.now() + DURATION_MS
    const client = async (index: number) => {
      let connection = openConnection(port)
      for (let n = index; Date.now() < deadline; n++) {
        const category = MIX[n % MIX.length]!
        let reply: Reply
        try {
          reply = await connection.send(requests[category])
        } catch (err) {
          connectionErrors.push(`${category}: ${(err as Error).message}`)
          connection.close()
          connection = openConnection(port)
          continue
        }
        counts[category][reply.status] = (counts[category][reply.status] ?? 0) + 1
        const problem = mismatch(category, reply)
        if (problem && wrongCount++ < 20) wrong.push(problem)
        if (category === 'overLimit' && reply.status === 200) remaining.push(Number(reply.headers['x-ratelimit-remaining-requests']))
      }
      connection.close()
    }
    await Promise.all(Array.from({ length: CLIENTS }, (_, index) => client(index)))

    const total = Object.values(counts)
      .flatMap((byStatus) => Object.values(byStatus))
      .reduce((a, b) => a + b, 0)
    const summary = `${total} requests: ${JSON.stringify(counts)}`
    expect(connectionErrors.slice(0, 20), summary).toEqual([])
    expect(wrong, `${summary}; ${wrongCount} wrong in all`).toEqual([])
    const statuses = (category: Category) => Object.keys(counts[category]).map(Number)
    for (const category of MIX)
      expect(
        statuses(category).every((status) => status < 500),
        summary,
      ).toBe(true)

    expect(statuses('valid'), summary).toEqual([200])
    expect(statuses('wrongOrigin'), summary).toEqual([403])
    for (const category of ['malformedKey', 'unknownKey', 'revokedKey'] as const) expect(statuses(category), summary).toEqual([401])
    expect(statuses('overLimit').sort(), summary).toEqual([200, 429])
    // Exactly the limit admitted, each on a distinct count: no two admissions decided on the same state.
    expect(counts.overLimit[200], summary).toBe(LIMIT)
    expect(remaining.sort((a, b) => a - b)).toEqual([...Array(LIMIT).keys()])
    // Every category was really under load, not starved by the others (a few hundred each is usual here).
    for (const category of MIX)
      expect(
        Object.values(counts[category]).reduce((a, b) => a + b, 0),
        summary,
      ).toBeGreaterThan(2 * LIMIT)

    // Still refused afterwards: the window has not moved, and the server still answers.
    const after = openConnection(port)
    try {
      expect((await after.send(requests.overLimit)).status).toBe(429)
      expect((await after.send(requests.valid)).status).toBe(200)
    } finally {
      after.close()
    }
    const errors = server.logs.map((line) => JSON.parse(line)).filter((entry) => entry.level === 'error')
    expect(errors).toEqual([])
  },
  DURATION_MS + 30_000,
)
