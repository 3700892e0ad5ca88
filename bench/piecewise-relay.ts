/**
 * A relay that does what ours must do to every chat request and no more, with each of our server's
 * pieces switched on by name, using the server's own modules for them. Without pieces it reads and
 * parses the body, sends it on with our server's upstream client, reads the answer and renames its model: the least a
 * relay that looks at what it relays can do. Started as its own process:
 * `piecewise-relay.ts <port> <upstream origin> <sqlite file>`, with PIECES a comma-separated list of
 * key, limit, headers, abort, log, metrics, body, policy, visitor, account, slots and usage
 * (relay-pieces.ts says what each one is).
 */
import { randomUUID } from 'node:crypto'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import { readJsonBody } from '../server/body.ts'
import { BENCH_SERVER_ENV } from './bench-keys.ts'
import { toChatRequest } from '../server/chat-request.ts'
import { clientAddress, visitorOf } from '../server/client-address.ts'
import { loadConfig } from '../server/config.ts'
import { hashKey } from '../server/keys.ts'
import { createLogger } from '../server/log.ts'
import { createMetrics } from '../server/metrics.ts'
import { createMemoryRateLimiter, rateLimitHeaders } from '../server/rate-limit.ts'
import { openSqliteStore } from '../server/store/sqlite.ts'
import { createHttpUpstream } from '../server/upstream.ts'
import { createMemoryStreamSlots } from '../server/stream-slots.ts'
import { createUsageRecorder } from '../server/usage.ts'
import { createVisitorIds } from '../server/visitor-id.ts'

const [port, upstreamOrigin, sqliteFile] = process.argv.slice(2)
const pieces = new Set((process.env.PIECES ?? '').split(',').filter(Boolean))
const upstream = new URL(String(upstreamOrigin))
// Our server's own upstream client (its pool, and its one retry of a request a pooled connection lost).
const upstreamClient = createHttpUpstream({ baseUrl: `${upstream.origin}/v1`, apiKey: undefined, model: 'bench-model' })
/** The signal of a relay that never aborts (without the `abort` piece). */
const NEVER = new AbortController().signal
const store = ['key', 'account', 'usage'].some((piece) => pieces.has(piece)) ? openSqliteStore(String(sqliteFile)) : undefined
const limiter = pieces.has('limit') || pieces.has('visitor') ? createMemoryRateLimiter() : undefined
const log = pieces.has('log') ? createLogger() : undefined
const metrics = pieces.has('metrics') ? createMetrics() : undefined
// Our server's bench settings: caps on answers in progress that one load generator never reaches.
const config = loadConfig(BENCH_SERVER_ENV)
const slots = pieces.has('slots') ? createMemoryStreamSlots() : undefined
const usage = pieces.has('usage') ? createUsageRecorder(store!, createLogger({ write: () => {} })) : undefined
const visitorIds = createVisitorIds(config.visitorIdSecret ?? 'bench-visitor-id-secret')
/** The bench's key (one per run, its record read once per run here when `key` is off). */
let known: Awaited<ReturnType<NonNullable<typeof store>['findKeyByHash']>>
const MODEL_FIELD = /("model"\s*:\s*)"(?:[^"\\]|\\.)*"/

async function readText(stream: AsyncIterable<Buffer | string>): Promise<string> {
  let text = ''
  for await (const piece of stream) text += piece
  return text
}

async function relay(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now()
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' }
  let keyId: string | undefined
  if (pieces.has('headers')) {
    Object.assign(headers, {
      'x-request-id': randomUUID(),
      'access-control-allow-origin': String(req.headers.origin),
      'access-control-expose-headers':
        'x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests, retry-after, retry-after-ms, x-request-id',
      vary: 'Origin',
      'cache-control': 'no-store',
    })
  }
  if (log || metrics) {
    res.once('close', () => {
      log?.info('request', {
        requestId: headers['x-request-id'],
        method: req.method,
        path: req.url,
        status: res.statusCode,
        ms: Math.round(performance.now() - started),
        keyId,
        finished: res.writableFinished,
      })
      metrics?.request('/v1/chat/completions', req.method ?? '', res.statusCode)
    })
  }
  const parsed = pieces.has('body') ? await readJsonBody(req, res, config.limits.maxBodyBytes) : JSON.parse(await readText(req))
  const token = String(req.headers.authorization).slice('Bearer '.length)
  if (store && (pieces.has('key') || !known)) known = await store.findKeyByHash(hashKey(token))
  keyId = known?.id ?? 'bench'
  const visitor = ['visitor', 'slots', 'policy'].some((piece) => pieces.has(piece)) ? visitorOf(clientAddress(req, undefined)) : ''
  if (pieces.has('visitor')) await limiter!.hit(`${keyId}:${visitor}`, 100_000)
  if (pieces.has('limit')) {
    const decision = await limiter!.hit(keyId, 100_000)
    metrics?.limiterDecision(decision.allowed)
    Object.assign(headers, rateLimitHeaders(decision))
  }
  if (pieces.has('account')) await store!.accountTokenLimit(known!.account_id)
  const slot = await slots?.acquire(keyId, visitor, { key: config.maxStreamsPerKey, visitor: config.maxStreamsPerVisitor })
  const body = pieces.has('policy')
    ? toChatRequest(parsed, config.limits, { instructions: null, allowSystemMessages: false, user: visitorIds(keyId, visitor) }).body
    : (parsed as Record<string, unknown>)
  let abort: AbortController | undefined
  let deadline: NodeJS.Timeout | undefined
  if (pieces.has('abort')) {
    abort = new AbortController()
    const controller = abort
    res.on('close', () => res.writableFinished || controller.abort())
    deadline = setTimeout(() => controller.abort(), 60_000)
  }
  try {
    const answer = await upstreamClient.send(body, abort?.signal ?? NEVER)
    const text = (await readText(answer.body as AsyncIterable<Buffer>)).replace(MODEL_FIELD, '$1"assisters-chat-v1"')
    metrics?.relayed(false, (performance.now() - started) / 1000)
    metrics?.firstByte(false, (performance.now() - started) / 1000)
    if (usage) {
      // As our relay does: the answer parsed whole, to check it and read its usage.
      const counted = (JSON.parse(text) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage
      usage.request(keyId)
      usage.tokens(keyId, counted.prompt_tokens, counted.completion_tokens)
    }
    res.writeHead(answer.status, { ...headers, 'content-length': Buffer.byteLength(text) })
    res.end(text)
  } finally {
    clearTimeout(deadline)
    if (slot && 'release' in slot) slot.release()
  }
}

const server = http.createServer((req, res) => {
  relay(req, res).catch((err: Error) => {
    // On stderr, so a refused run names its cause (the bench keeps it in the relay's log file).
    console.error(`piecewise relay: ${err.message}`)
    if (!res.headersSent) res.writeHead(502)
    res.end()
  })
})
server.keepAliveTimeout = 60_000
// Exits through process.exit, so the log's last batch is written, as our server's is.
process.on('SIGTERM', () => process.exit(0))
server.listen(Number(port), '127.0.0.1')
