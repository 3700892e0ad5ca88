/**
 * Upstream faults over real sockets. The upstream is a real node:http server on loopback, driven per
 * test (msw is never started in this file), and the server is the real one with its real HTTP
 * upstream client. For each fault, streamed and not: the contract's exact answer, one warning in the
 * logs and no secret in them, no timer or socket left behind, and a normal answer right after.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer as createTcpServer, type AddressInfo } from 'node:net'
import { createGzip } from 'node:zlib'
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import {
  MODEL,
  UPSTREAM_KEY,
  completion,
  deferred,
  deltaChunk,
  eventData,
  eventReader,
  eventually,
  resourceCounts,
  sseEvents,
  usageChunk,
  startServer,
  within,
  type TestServer,
} from './harness.ts'
import { startUpstreamDouble } from '../support/upstream-double.ts'
import { sleep } from '../support/sleep.ts'

const TIMEOUT_MS = 400

/** The contract's answers to upstream trouble (CONTRACT.md section 3; README, Errors). */
interface ContractError {
  status: number
  code: string
}
const UPSTREAM_ERROR: ContractError = { status: 502, code: 'upstream_error' }
const UPSTREAM_TIMEOUT: ContractError = { status: 504, code: 'upstream_timeout' }
/** The whole error body: OpenAI's shape, no `param`, nothing else. */
const errorBody = ({ code }: ContractError) => ({ error: { message: expect.any(String), type: 'api_error', code } })
/** What an error answer must never carry from the upstream: its key, its words, where it lives. */
const UPSTREAM_INTERNALS = /sk-upstream|Incorrect API key|Bad Gateway|ECONN|socket hang up|aborted|127\.0\.0\.1/
const MODES = ['non-streamed', 'streamed'] as const
type Mode = (typeof MODES)[number]

/** The chat request as the upstream received it. */
interface UpstreamRequest {
  authorization: string | undefined
  body: { model?: string; stream?: boolean }
  /** Resolves when the upstream's side of this exchange has closed (answered, or hung up on). */
  closed: Promise<void>
  /** The relay's end of the upstream connection, to tell a pooled connection from a new one. */
  clientPort: number | undefined
}

/** How the upstream double answers one chat request, whose body it has read already. */
type Behaviour = (request: IncomingMessage, response: ServerResponse, body: UpstreamRequest['body']) => void

const contentOf = (event: string | undefined) => eventData(event).choices[0].delta.content
const frames = (...contents: string[]) => sseEvents(contents.map(deltaChunk), { done: false })
const beginEvents = (response: ServerResponse) => {
  response.writeHead(200, { 'content-type': 'text/event-stream' })
  response.flushHeaders()
}
/** An error body that echoes the key the upstream was sent, as a real upstream's 401 does. */
const leakyError = (request: IncomingMessage) =>
  JSON.stringify({ error: { message: `Incorrect API key provided: ${request.headers.authorization}`, type: 'server_error' } })

const healthy: Behaviour = (_request, response, body) => {
  if (body.stream) {
    beginEvents(response)
    response.end(sseEvents([deltaChunk('healthy')]))
  } else {
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end(JSON.stringify(completion('healthy')))
  }
}

type Counts = ReturnType<typeof resourceCounts>

interface Rig {
  server: TestServer
  key: string
  accountId: string
  /** The process's timers and sockets with the rig up and idle, before any chat. */
  idle: Counts
  /** Every chat request the upstream received, in order. */
  received: UpstreamRequest[]
  chat(mode: Mode): Promise<Response>
  /** From now on the upstream answers normally (started on the same port if nothing listened there). */
  heal(): Promise<void>
  /** Hangs up the upstream's idle keep-alive connections: one pooled connection is no leak. */
  closeIdle(): void
}

/** A port with nothing listening on it: bound, noted, closed. */
async function deadPort() {
  const probe = createTcpServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}

// The process's timers and sockets between tests, once vitest's reporter is quiet: it holds a timer
// for up to 100 ms after a task event (its updates are throttled), and nothing signals its end.
let between: Counts
beforeAll(async () => {
  // Two readings 150 ms apart that agree: a loaded machine can keep the reporter's timer longer.
  let last: Counts | undefined
  for (let tries = 0; tries < 20; tries++) {
    await sleep(150)
    const now = resourceCounts()
    if (last && now.Timeout === last.Timeout && now.TCPSocketWrap === last.TCPSocketWrap) break
    last = now
  }
  between = resourceCounts()
})

const same = (expected: Counts) => (counts: Counts) =>
  counts.Timeout === expected.Timeout && counts.TCPSocketWrap === expected.TCPSocketWrap

/** The real server relaying to a real upstream that answers with `fault` (or to nothing at all). */
async function startRig(fault: Behaviour | 'nothing listening', options: { pingMs?: number } = {}): Promise<Rig> {
  // Waits out vitest's reporter timer, and whatever an earlier (failed) test left running, so that
  // every test counts from a clean start and fails for its own leaks only.
  expect(await eventually(resourceCounts, same(between), 3 * TIMEOUT_MS), 'left behind by an earlier test').toEqual(between)
  let behaviour = fault === 'nothing listening' ? healthy : fault
  const received: UpstreamRequest[] = []
  const startUpstream = (port?: number) =>
    startUpstreamDouble((request, response) => {
      const closed = new Promise<void>((resolve) => response.once('close', resolve))
      let text = ''
      request.setEncoding('utf8')
      request.on('data', (chunk: string) => (text += chunk))
      request.on('end', () => {
        const body = JSON.parse(text)
        received.push({ authorization: request.headers.authorization, body, closed, clientPort: request.socket.remotePort })
        behaviour(request, response, body)
      })
    }, port)

  let upstream = fault === 'nothing listening' ? undefined : await startUpstream()
  const port = upstream?.port ?? (await deadPort())
  onTestFinished(() => upstream?.close())
  const server = await startServer(
    { UPSTREAM_BASE_URL: `http://127.0.0.1:${port}/v1`, UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS), RATE_LIMIT_RPM: '10000' },
    options.pingMs === undefined ? {} : { pingMs: options.pingMs },
    // Every request of the test on a connection of its own, so none is left pooled to be counted.
    { headers: { connection: 'close' } },
  )
  onTestFinished(() => server.close())
  const { key, accountId } = await server.createKey()
  // The rig's own intervals are counted from here; the admin requests' connections are closing.
  const idle = await eventually(resourceCounts, (counts) => counts.TCPSocketWrap === between.TCPSocketWrap)
  expect(idle.TCPSocketWrap, 'sockets still open with the rig idle').toBe(between.TCPSocketWrap)

  return {
    server,
    key,
    accountId,
    idle,
    received,
    chat: (mode) => server.chat(key, { model: MODEL, messages: [{ role: 'user', content: 'Hello' }], stream: mode === 'streamed' }),
    async heal() {
      behaviour = healthy
      upstream ??= await startUpstream(port)
    },
    closeIdle: () => upstream?.closeIdle(),
  }
}

/** Nothing left of the last exchange: no relay timer, no socket (past one idle pooled connection). */
async function expectNothingLeft(rig: Rig) {
  rig.closeIdle()
  // Sockets close within milliseconds; a leaked relay deadline (TIMEOUT_MS) would outlive this wait.
  expect(await eventually(resourceCounts, same(rig.idle), TIMEOUT_MS / 2)).toEqual(rig.idle)
}

/**
 * The same server answers the next request normally, through the same (now healthy) upstream, and
 * that answer too leaves nothing behind.
 */
async function expectKeepsServing(rig: Rig, mode: Mode) {
  await rig.heal()
  const response = await within(rig.chat(mode), 3000, 'a normal answer after the fault')
  expect(response.status).toBe(200)
  if (mode === 'streamed') {
    const events = await within(eventReader(response).rest(), 3000, 'the normal stream to end')
    expect(events).toHaveLength(2)
    expect(contentOf(events[0])).toBe('healthy')
    expect(events[1]).toBe('data: [DONE]')
  } else {
    expect((await response.json()).choices[0].message.content).toBe('healthy')
  }
  // Really over the socket: the upstream got our upstream key and model, not msw.
  expect(rig.received.at(-1)).toMatchObject({
    authorization: `Bearer ${UPSTREAM_KEY}`,
    body: { model: 'upstream-model', stream: mode === 'streamed' },
  })
  await expectNothingLeft(rig)
}

/** The fault was logged once, as a warning (not a bug), and no key reached the logs. */
function expectLoggedOnce(rig: Rig) {
  const text = rig.server.logs.join('')
  expect(text).not.toContain(UPSTREAM_KEY)
  expect(text).not.toMatch(/ask_[0-9A-Za-z]{4,}/)
  const notable = rig.server.logs.map((line) => JSON.parse(line)).filter((entry) => entry.level !== 'info')
  expect(notable).toEqual([expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/^upstream /) })])
}

/** After a fault: nothing left behind, the next answer served normally, and the fault logged once. */
async function expectRecovered(rig: Rig, mode: Mode) {
  await expectNothingLeft(rig)
  await expectKeepsServing(rig, mode)
  expectLoggedOnce(rig)
}

/** A JSON error answer: the contract's status and whole body, with none of the upstream's headers or words. */
async function expectErrorAnswer(response: Response, error: ContractError) {
  expect(response.status).toBe(error.status)
  expect(response.headers.get('content-type')).toMatch(/^application\/json/)
  expect(response.headers.get('retry-after')).toBeNull()
  expect(response.headers.get('retry-after-ms')).toBeNull()
  const text = await response.text()
  expect(JSON.parse(text)).toEqual(errorBody(error))
  expect(text).not.toMatch(UPSTREAM_INTERNALS)
}

/** A stream that began (200) and was cut off: `contents`, then our error event, then the end; no [DONE]. */
async function expectCutOff(events: ReturnType<typeof eventReader>, contents: string[], error: ContractError) {
  const all = await within(events.rest(), 3000, 'the broken stream to end')
  expect(all.slice(0, -1).map(contentOf)).toEqual(contents)
  expect(eventData(all.at(-1))).toEqual(errorBody(error))
  expect(all.at(-1)).not.toMatch(UPSTREAM_INTERNALS)
}

async function streamOf(response: Response) {
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
  return eventReader(response)
}

describe('nothing listening at the upstream address', () => {
  it.each(MODES)('answers 502 upstream_error to a %s request, and serves once the upstream is up', async (mode) => {
    const rig = await startRig('nothing listening')
    await expectErrorAnswer(await rig.chat(mode), UPSTREAM_ERROR)
    await expectRecovered(rig, mode)
  })
})

describe('an upstream that accepts but never answers', () => {
  it.each(MODES)('answers a %s request 504 upstream_timeout after UPSTREAM_TIMEOUT_MS and hangs up on it', async (mode) => {
    const rig = await startRig(() => {})
    const began = performance.now()
    // No byte came, so no stream began: a streamed request gets the JSON error too.
    await expectErrorAnswer(await rig.chat(mode), UPSTREAM_TIMEOUT)
    expect(performance.now() - began).toBeGreaterThanOrEqual(TIMEOUT_MS - 20)
    expect(performance.now() - began).toBeLessThan(TIMEOUT_MS + 1000)
    await within(rig.received[0]!.closed, 1000, 'the relay to hang up on the upstream')
    await expectRecovered(rig, mode)
  })
})

describe('an upstream connection reset part-way', () => {
  it('passes the events that came, then an upstream_error event, and ends without [DONE]', async () => {
    const reset = deferred()
    const rig = await startRig((request, response) => {
      beginEvents(response)
      response.write(frames('one', 'two'))
      void reset.promise.then(() => request.socket.resetAndDestroy())
    })
    const events = await streamOf(await rig.chat('streamed'))
    // Reset only once both events are through: an RST may throw away bytes still in flight.
    expect(contentOf(await events.next())).toBe('one')
    expect(contentOf(await events.next())).toBe('two')
    reset.resolve()
    await expectCutOff(events, [], UPSTREAM_ERROR)
    await expectRecovered(rig, 'streamed')
  })

  it('answers a non-streamed request 502 upstream_error when the reset cuts its JSON short', async () => {
    const rig = await startRig((request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      const json = JSON.stringify(completion('cut short'))
      response.write(json.slice(0, json.length / 2), () => request.socket.resetAndDestroy())
    })
    await expectErrorAnswer(await rig.chat('non-streamed'), UPSTREAM_ERROR)
    await expectRecovered(rig, 'non-streamed')
  })
})

describe('a gzip-compressed stream', () => {
  // The upstream is asked for no compression, but one that compresses anyway is decoded: its faults
  // must reach the relay through the decoder.
  it.each([
    ['its connection is reset', UPSTREAM_ERROR],
    ['it goes silent past UPSTREAM_TIMEOUT_MS', UPSTREAM_TIMEOUT],
  ] as const)('ends with an error event after the events that came when %s', async (what, error) => {
    const reset = deferred()
    const rig = await startRig((request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' })
      const gzip = createGzip()
      gzip.pipe(response)
      gzip.write(frames('one', 'two'))
      gzip.flush()
      if (what === 'its connection is reset') void reset.promise.then(() => request.socket.resetAndDestroy())
    })
    const events = await streamOf(await rig.chat('streamed'))
    expect(contentOf(await events.next())).toBe('one')
    expect(contentOf(await events.next())).toBe('two')
    reset.resolve()
    await expectCutOff(events, [], error)
    await within(rig.received[0]!.closed, 1000, 'the upstream exchange to be over')
    await expectRecovered(rig, 'streamed')
  })
})

describe('upstream error statuses', () => {
  it.each(MODES)('answers a %s request 502 upstream_error when the upstream answers 500, without its body', async (mode) => {
    const rig = await startRig((request, response) => {
      response.writeHead(500, { 'content-type': 'application/json' })
      response.end(leakyError(request))
    })
    await expectErrorAnswer(await rig.chat(mode), UPSTREAM_ERROR)
    await expectRecovered(rig, mode)
    // Not vacuous: the upstream's body, key and all, did reach the logs, redacted.
    expect(rig.server.logs.join('')).toContain('Incorrect API key provided: Bearer [redacted]')
  })

  it.each(MODES)('answers a %s request 502 upstream_error when the upstream answers 429, without its Retry-After', async (mode) => {
    const rig = await startRig((request, response) => {
      response.writeHead(429, { 'content-type': 'application/json', 'retry-after': '20', 'retry-after-ms': '20000' })
      response.end(leakyError(request))
    })
    // The upstream's limit is not this key's: passing its 429 or Retry-After on would misinform the visitor.
    await expectErrorAnswer(await rig.chat(mode), UPSTREAM_ERROR)
    await expectRecovered(rig, mode)
  })
})

describe('an upstream body that is not JSON', () => {
  const html = '<html><body>502 Bad Gateway</body></html>'
  const answerHtml: Behaviour = (_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' })
    response.end(html)
  }

  it('answers a non-streamed request 502 upstream_error', async () => {
    const rig = await startRig(answerHtml)
    await expectErrorAnswer(await rig.chat('non-streamed'), UPSTREAM_ERROR)
    await expectRecovered(rig, 'non-streamed')
  })

  it('answers a streamed request 502 upstream_error too, before any stream begins', async () => {
    const rig = await startRig(answerHtml)
    await expectErrorAnswer(await rig.chat('streamed'), UPSTREAM_ERROR)
    await expectRecovered(rig, 'streamed')
  })

  it('answers a streamed request 502 upstream_error when the upstream answers it with JSON', async () => {
    const rig = await startRig((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify(completion('not a stream')))
    })
    await expectErrorAnswer(await rig.chat('streamed'), UPSTREAM_ERROR)
    await expectRecovered(rig, 'streamed')
  })
})

describe('an upstream that ends early', () => {
  it('ends a stream that closed without [DONE] with an upstream_error event after the events that came', async () => {
    const rig = await startRig((_request, response) => {
      beginEvents(response)
      response.end(frames('one', 'two'))
    })
    await expectCutOff(await streamOf(await rig.chat('streamed')), ['one', 'two'], UPSTREAM_ERROR)
    await expectRecovered(rig, 'streamed')
  })

  it('answers a non-streamed request whose JSON ends half-way 502 upstream_error', async () => {
    const rig = await startRig((_request, response) => {
      const json = JSON.stringify(completion('half'))
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(json.slice(0, json.length / 2))
    })
    await expectErrorAnswer(await rig.chat('non-streamed'), UPSTREAM_ERROR)
    await expectRecovered(rig, 'non-streamed')
  })
})

describe('an upstream that goes silent part-way', () => {
  it('ends the stream with an upstream_timeout event once UPSTREAM_TIMEOUT_MS passes in silence', async () => {
    const rig = await startRig((_request, response) => {
      beginEvents(response)
      response.write(frames('one', 'two'))
    })
    const events = await streamOf(await rig.chat('streamed'))
    expect(contentOf(await events.next())).toBe('one')
    expect(contentOf(await events.next())).toBe('two')
    const silent = performance.now()
    await expectCutOff(events, [], UPSTREAM_TIMEOUT)
    expect(performance.now() - silent).toBeGreaterThanOrEqual(TIMEOUT_MS - 50)
    await within(rig.received[0]!.closed, 1000, 'the relay to hang up on the upstream')
    await expectRecovered(rig, 'streamed')
  })

  it('answers a non-streamed request 504 upstream_timeout when its JSON stops half-way', async () => {
    const rig = await startRig((_request, response) => {
      const json = JSON.stringify(completion('stalled'))
      response.writeHead(200, { 'content-type': 'application/json' })
      response.write(json.slice(0, json.length / 2))
    })
    await expectErrorAnswer(await rig.chat('non-streamed'), UPSTREAM_TIMEOUT)
    await within(rig.received[0]!.closed, 1000, 'the relay to hang up on the upstream')
    await expectRecovered(rig, 'non-streamed')
  })
})

describe('an upstream that holds its stream open after [DONE]', () => {
  it('records the answer’s usage at [DONE], while the upstream still holds on', async () => {
    const rig = await startRig((_request, response) => {
      beginEvents(response)
      response.write(sseEvents([deltaChunk('done'), usageChunk(11, 13)]))
    })
    await within(eventReader(await rig.chat('streamed')).rest(), 3000, 'the answer to end at [DONE]')
    // Reading usage flushes the server's buffer first; the upstream has not let go yet.
    const usage = await rig.server.admin('GET', `/admin/accounts/${rig.accountId}/usage`)
    expect(usage.body.data).toEqual([expect.objectContaining({ requests: 1, prompt_tokens: 11, completion_tokens: 13 })])
    await within(rig.received[0]!.closed, 1000, 'the relay to let the upstream go')
    await expectNothingLeft(rig)
  })

  it('finishes the answer at [DONE], sends nothing after it (pings included) and lets the upstream go', async () => {
    const rig = await startRig(
      (_request, response) => {
        beginEvents(response)
        response.write(sseEvents([deltaChunk('done')]))
      },
      { pingMs: 50 },
    )
    const events = await within(eventReader(await rig.chat('streamed')).rest(), 3000, 'the answer to end at [DONE]')
    expect(events.map((event) => (event === 'data: [DONE]' ? event : contentOf(event)))).toEqual(['done', 'data: [DONE]'])
    await within(rig.received[0]!.closed, 1000, 'the relay to let the upstream go')
    await expectNothingLeft(rig)
    await expectKeepsServing(rig, 'streamed')
    // A finished answer is no failure: nothing to warn about.
    expect(rig.server.logs.map((line) => JSON.parse(line)).filter((entry) => entry.level !== 'info')).toEqual([])
  })
})

/** Answers the first request, then hangs up on every later one that comes on a connection it has answered on before. */
const hangsUpOnPooled = (): Behaviour => {
  const answeredOn = new Set<unknown>()
  return (request, response, body) => {
    if (answeredOn.has(request.socket)) return void request.socket.destroy()
    answeredOn.add(request.socket)
    healthy(request, response, body)
  }
}

describe('an upstream that closes a pooled connection just as a request goes out (its keep-alive timeout)', () => {
  it.each(MODES)('sends a %s request again, once, on a new connection, and answers it', async (mode) => {
    const rig = await startRig(hangsUpOnPooled())
    expect((await rig.chat(mode)).status).toBe(200)
    await within(rig.received[0]!.closed, 1000, 'the first answer to end')
    const response = await rig.chat(mode)
    expect(response.status).toBe(200)
    expect(await response.text()).toContain('healthy')
    const ports = rig.received.map((request) => request.clientPort)
    expect(ports).toHaveLength(3)
    expect(ports[1]).toBe(ports[0])
    expect(ports[2]).not.toBe(ports[1])
    expect(rig.server.logs.map((line) => JSON.parse(line)).filter((entry) => entry.level !== 'info')).toEqual([])
  })

  it('does not send it a third time: a second hang-up, on the new connection, is the upstream_error', async () => {
    let requests = 0
    const rig = await startRig((request, response, body) =>
      ++requests === 1 ? healthy(request, response, body) : request.socket.destroy(),
    )
    expect((await rig.chat('non-streamed')).status).toBe(200)
    await within(rig.received[0]!.closed, 1000, 'the first answer to end')
    await expectErrorAnswer(await rig.chat('non-streamed'), UPSTREAM_ERROR)
    expect(rig.received).toHaveLength(3)
  })

  it('does not send again a request that a new connection lost: the upstream may have it', async () => {
    const rig = await startRig((request) => request.socket.destroy())
    await expectErrorAnswer(await rig.chat('non-streamed'), UPSTREAM_ERROR)
    expect(rig.received).toHaveLength(1)
  })
})

describe('a healthy upstream', () => {
  it.each(['streamed', 'non-streamed'] as const)('keeps one pooled upstream connection for %s answers one after another', async (mode) => {
    // As real servers often do, the end of the upstream's answer comes a moment after its last bytes.
    const rig = await startRig((request, response, body) => {
      const end = response.end.bind(response)
      response.end = ((chunk: string) => {
        response.write(chunk)
        setTimeout(end, 20)
        return response
      }) as typeof response.end
      healthy(request, response, body)
    })
    for (let i = 0; i < 3; i++) {
      const response = await rig.chat(mode)
      expect(response.status).toBe(200)
      await response.text()
      // The upstream's own answer ends a moment later; only then is its connection free again.
      await within(rig.received.at(-1)!.closed, 1000, 'the upstream answer to end')
    }
    expect(rig.received).toHaveLength(3)
    expect(new Set(rig.received.map((request) => request.clientPort)).size).toBe(1)
    await expectNothingLeft(rig)
  })
})
