/**
 * The request pipeline, top to bottom in the contract's order. Every stage throws an HttpError;
 * the one catch at the end writes it.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ActivityRecorder } from './activity.ts'
import type { AuthenticatedKey } from './authenticate.ts'
import { readJsonBody } from './body.ts'
import { PUBLIC_MODEL, toChatRequest } from './chat-request.ts'
import { clientAddress, visitorOf } from './client-address.ts'
import type { Config } from './config.ts'
import { answerPreflight, applyCors } from './cors.ts'
import {
  dailyTokenLimitReached,
  keyChecksExceeded,
  methodNotAllowed,
  modelNotKnown,
  notFound,
  originNotAllowed,
  rateLimitExceeded,
  sendError,
  visitorRateLimitExceeded,
  tooManyStreams,
} from './errors.ts'
import type { Logger } from './log.ts'
import type { Metrics } from './metrics.ts'
import { rateLimitHeaders, type RateLimiter } from './rate-limit.ts'
import type { Relay } from './relay.ts'
import { sendJson } from './respond.ts'
import type { VisitorIds } from './visitor-id.ts'
import { visitorLimitOf, visitorWindow } from './visitor-limit.ts'
import type { StreamSlots } from './stream-slots.ts'
import type { BudgetLimits, TokenBudget } from './token-budget.ts'
import { PANEL_PATH } from './widget-asset.ts'

export interface HandlerDeps {
  config: Config
  authenticate(authorization: readonly string[] | undefined): Promise<AuthenticatedKey>
  limiter: RateLimiter
  /** Today's tokens of each key and account against their daily budgets. */
  budget: TokenBudget
  /** The daily token budget of an account (null: none); store.accountTokenLimit says how fresh. */
  accountTokenLimit(accountId: string): Promise<number | null>
  /** Caps on chat answers in flight at once, per key and per visitor. */
  streams: StreamSlots
  /** Where each key is used from, and its refusals, for the owner's dashboard. */
  activity: ActivityRecorder
  relay: Relay
  /** The pseudonymous id of a key's visitor, sent upstream as `user`. */
  visitorId: VisitorIds
  serveWidget(req: IncomingMessage, res: ServerResponse): Promise<void>
  /** GET /panel-<hash>.js, the panel the loader fetches on intent. */
  servePanel(req: IncomingMessage, res: ServerResponse): Promise<void>
  handleAdmin(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>
  /** Everything under /dashboard: its own rules (same origin, cookie sessions, no CORS). */
  handleDashboard(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>
  handleMetrics(req: IncomingMessage, res: ServerResponse): Promise<void>
  /** Each dependency /readyz reports on, by name ('database', 'redis'), as ok or not. */
  readiness(): Promise<Readiness>
  metrics: Metrics
  log: Logger
}

export interface Readiness {
  ready: boolean
  checks: Record<string, 'ok' | 'degraded' | 'unavailable'>
}

/** What a route learns that the access log wants. */
interface Context {
  keyId?: string
}

type Route = (req: IncomingMessage, res: ServerResponse, context: Context) => Promise<void>

const MODEL = { id: PUBLIC_MODEL, object: 'model', created: 1767225600, owned_by: 'assisters' }
const MODELS = { object: 'list', data: [MODEL] }
const MODEL_PATH = '/v1/models/'
const PANEL_ROUTE = '/panel-{file}'
/** The suffix of a key's id that names its window of key checks in the limiter, apart from its chat window. */
const KEY_CHECKS = ':key-checks'
/** Likewise for the sightings of refused origins a key records. */
const REFUSED_ORIGINS = ':refused-origins'

/** Statuses written straight to the socket (server.ts's clientError) under a request a handler had begun. */
const rawStatuses = new WeakMap<ServerResponse, number>()

/** Records that `status` went out on `res`'s socket without `res`, as Node's 408 for a body too slow. */
export const answeredOnSocket = (res: ServerResponse, status: number) => void rawStatuses.set(res, status)

/**
 * The status a request is logged and counted with: the one sent, or 499 (nginx's "client closed
 * request") when the client left before any status went out; `res.statusCode` alone says 200 then.
 */
const statusSent = (res: ServerResponse) => (res.headersSent ? res.statusCode : (rawStatuses.get(res) ?? 499))
const isDashboard = (path: string) => path === '/dashboard' || path.startsWith('/dashboard/')

export function createHandler(deps: HandlerDeps) {
  const { config, authenticate, limiter, relay, metrics, log } = deps

  /**
   * Checks 1 to 3: a live key, used from an origin it allows. Origins are recorded only within the
   * key's rate (a key is public: made-up Origins must not flood its list of where it ran). A refused
   * one here, within a window of its own, as large as the key's limit, so the widget's key check on
   * opening shows a site that copied the key, too; an allowed one once the caller's limit check passed.
   */
  const admit = async (req: IncomingMessage, context: Context) => {
    const key = await authenticate(req.headersDistinct.authorization)
    context.keyId = key.record.id
    if (!key.origins.allows(req.headersDistinct.origin)) {
      deps.activity.refused(key.record.id, 'origin_not_allowed')
      const limit = key.record.rate_limit_rpm ?? config.rateLimitRpm
      // The answer is 403 whatever the limiter says (or if it cannot answer).
      const decision = await limiter.hit(`${key.record.id}${REFUSED_ORIGINS}`, limit).catch(() => undefined)
      if (decision?.allowed) deps.activity.origin(key.record.id, req.headersDistinct.origin, false)
      throw originNotAllowed()
    }
    return key
  }

  /** Who is asking: the client's address (through the proxies TRUST_PROXY names), an IPv6 one by its /64. */
  const visitorAt = (req: IncomingMessage) => visitorOf(clientAddress(req, config.trustProxy))

  /**
   * One visitor's share of the key, checked before the key's own limit so that a visitor's excess
   * never spends the key's window (and so never crowds out the site's other visitors).
   */
  const limitVisitor = async (visitor: string, key: AuthenticatedKey): Promise<string | undefined> => {
    const limit = visitorLimitOf(key.record, config.visitorRpm)
    if (limit === 0) return undefined
    const window = visitorWindow(key.record.id, visitor)
    const decision = await limiter.hit(window, limit)
    if (decision.allowed) return window
    metrics.limiterDecision(false)
    deps.activity.refused(key.record.id, 'visitor_rate_limited')
    throw visitorRateLimitExceeded(limit, rateLimitHeaders(decision))
  }

  /** Check 4, after the visitor's share: the key's rate limit; on success the rate-limit headers go on the answer. */
  const withinRate = async (req: IncomingMessage, res: ServerResponse, key: AuthenticatedKey, visitor = visitorAt(req)) => {
    const visitorAdmitted = await limitVisitor(visitor, key)
    const limit = key.record.rate_limit_rpm ?? config.rateLimitRpm
    const decision = await limiter.hit(key.record.id, limit)
    metrics.limiterDecision(decision.allowed)
    const headers = rateLimitHeaders(decision)
    if (!decision.allowed) {
      // Refused requests count in no window (contract section 6): the visitor's gets its place back.
      if (visitorAdmitted) await limiter.unhit(visitorAdmitted)
      deps.activity.refused(key.record.id, 'rate_limited')
      throw rateLimitExceeded(limit, headers)
    }
    deps.activity.origin(key.record.id, req.headersDistinct.origin, true)
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value)
    return key
  }

  /** Checks 1 to 4: a live key, used from an origin it allows, within its visitor's share and its rate limit. */
  const authorize = async (req: IncomingMessage, res: ServerResponse, context: Context) => withinRate(req, res, await admit(req, context))

  /**
   * The daily token budgets of the key and of its account (issue 16), before the rate limits: refused
   * requests must not count against a minute window, the key's (contract section 6) or a visitor's,
   * which they would if a window admitted them first; and the client is told of the reset at 00:00
   * UTC, not sent back to retry in a minute. Chat only: the other routes spend no tokens.
   */
  const withinBudget = async (key: AuthenticatedKey): Promise<BudgetLimits> => {
    const { id, account_id: accountId, daily_token_limit: keyLimit } = key.record
    const limits = { keyId: id, accountId, keyLimit, accountLimit: await deps.accountTokenLimit(accountId) }
    const spent = await deps.budget.check(limits)
    if (spent) {
      deps.activity.refused(id, 'daily_token_limit')
      throw dailyTokenLimitReached(spent.scope, spent.limit, spent.retryAfterMs)
    }
    return limits
  }

  /**
   * A slot for one answer in flight, within the key's cap and, for a widget's key, its visitor's; else
   * 429. A key without allowed domains is a server's key, all of whose requests come from one address.
   */
  const holdSlot = async (visitor: string, key: AuthenticatedKey) => {
    const slot = await deps.streams.acquire(key.record.id, key.record.allowed_domains.length > 0 ? visitor : undefined, {
      key: config.maxStreamsPerKey,
      visitor: config.maxStreamsPerVisitor,
    })
    if ('release' in slot) return slot.release
    deps.activity.refused(key.record.id, 'too_many_streams')
    throw tooManyStreams(slot.full, slot.full === 'key' ? config.maxStreamsPerKey : config.maxStreamsPerVisitor)
  }

  const chatCompletions: Route = async (req, res, context) => {
    const key = await admit(req, context)
    const budgets = await withinBudget(key)
    // Worked out once: the visitor's window, the upstream's `user` and the answer's slot all name it.
    const visitor = visitorAt(req)
    await withinRate(req, res, key, visitor)
    const input = await readJsonBody(req, res, config.limits.maxBodyBytes)
    const policy = {
      instructions: key.record.instructions,
      allowSystemMessages: key.record.allow_system_messages,
      user: deps.visitorId(key.record.id, visitor),
    }
    const chat = toChatRequest(input, config.limits, policy)
    // After the body's checks, so a bad request never takes a slot; given back however the answer ends.
    const release = await holdSlot(visitor, key)
    try {
      // The visitor may have left while the slot was being taken: the relay would never hear of it.
      if (!res.destroyed) await relay(res, chat, key.record.id, (tokens) => deps.budget.add(budgets, tokens))
    } finally {
      release()
    }
  }

  const models: Route = async (req, res, context) => {
    await authorize(req, res, context)
    sendJson(res, 200, MODELS)
  }

  // What OpenAI clients call for `models.retrieve(id)`.
  const model: Route = async (req, res, context) => {
    await authorize(req, res, context)
    const id = (req.url ?? '').split('?', 1)[0]!.slice(MODEL_PATH.length)
    if (id !== PUBLIC_MODEL) throw modelNotKnown(id)
    sendJson(res, 200, MODEL)
  }

  /**
   * GET /v1/key: whether this key may be used from the requesting page (checks 1 to 3, the contract's
   * 401 and 403 bodies), which the widget asks on opening, so a refused origin shows before anyone
   * types. It never spends the key's chat limit; its own window, as large as that limit and kept
   * apart from it, holds a flood of checks to the rate the owner already accepts for chat, at the
   * cost of one limiter hit (the widget treats a refusal here as "can't tell" and carries on).
   */
  const keyCheck: Route = async (req, res, context) => {
    const key = await admit(req, context)
    const limit = key.record.rate_limit_rpm ?? config.rateLimitRpm
    const decision = await limiter.hit(`${key.record.id}${KEY_CHECKS}`, limit)
    if (!decision.allowed) throw keyChecksExceeded(limit, rateLimitHeaders(decision))
    deps.activity.origin(key.record.id, req.headersDistinct.origin, true)
    sendJson(res, 200, { ok: true }, { 'cache-control': 'no-store' })
  }

  // Liveness: the process answers. Readiness: it can serve, so a load balancer may send it traffic.
  const healthz: Route = async (_req, res) => sendJson(res, 200, { status: 'ok' })
  const readyz: Route = async (_req, res) => {
    const { ready, checks } = await deps.readiness()
    sendJson(res, ready ? 200 : 503, { status: ready ? 'ok' : 'unavailable', checks }, { 'cache-control': 'no-store' })
  }

  // Public routes by path, then by method; HEAD rides along with GET.
  const routes: Record<string, Partial<Record<string, Route>>> = {
    '/v1/chat/completions': { POST: chatCompletions },
    '/v1/models': { GET: models },
    '/v1/key': { GET: keyCheck },
    [`${MODEL_PATH}{id}`]: { GET: model },
    '/widget.js': { GET: deps.serveWidget },
    '/healthz': { GET: healthz },
    '/readyz': { GET: readyz },
    // The panel's files, whose names change with each build.
    [PANEL_ROUTE]: { GET: deps.servePanel },
  }

  /** A path's route template: `/v1/models/{id}` for any model id, `/panel-{file}` for the panel's files. */
  const routeOf = (path: string) => (path.startsWith(MODEL_PATH) ? `${MODEL_PATH}{id}` : PANEL_PATH.test(path) ? PANEL_ROUTE : path)

  /** The metrics label for a path: a route, never the raw path (which would grow without bound). */
  const routeLabel = (path: string) => {
    const route = routeOf(path)
    return route in routes || route === '/metrics'
      ? route
      : path.startsWith('/admin/')
        ? '/admin'
        : isDashboard(path)
          ? '/dashboard'
          : 'unmatched'
  }

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now()
    const requestId = randomUUID()
    const path = (req.url ?? '/').split('?', 1)[0]!
    const context: Context = {}
    res.setHeader('x-request-id', requestId)
    res.once('close', () => {
      const status = statusSent(res)
      log.info('request', {
        requestId,
        method: req.method,
        path: path.slice(0, 200),
        status,
        ms: Math.round(performance.now() - started),
        keyId: context.keyId,
        finished: res.writableFinished,
      })
      metrics.request(routeLabel(path), req.method ?? '', status)
    })
    try {
      if (path.startsWith('/admin/')) return await deps.handleAdmin(req, res, path)
      if (path === '/metrics') return await deps.handleMetrics(req, res)
      if (isDashboard(path)) return await deps.handleDashboard(req, res, path)
      applyCors(req, res)
      const methods = routes[routeOf(path)]
      if (!methods) throw notFound()
      if (req.method === 'OPTIONS') return answerPreflight(req, res)
      const route = methods[req.method === 'HEAD' ? 'GET' : (req.method ?? '')]
      if (!route) throw methodNotAllowed([...Object.keys(methods), ...('GET' in methods ? ['HEAD'] : []), 'OPTIONS'])
      await route(req, res, context)
    } catch (err) {
      sendError(res, err, log)
    }
  }
}
