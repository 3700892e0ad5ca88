/**
 * The request pipeline, top to bottom in the contract's order. Every stage throws an HttpError;
 * the one catch at the end writes it.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AuthenticatedKey } from './authenticate.ts'
import { readJsonBody } from './body.ts'
import { PUBLIC_MODEL, toChatRequest } from './chat-request.ts'
import type { Config } from './config.ts'
import { answerPreflight, applyCors } from './cors.ts'
import { methodNotAllowed, notFound, originNotAllowed, rateLimitExceeded, sendError } from './errors.ts'
import type { Logger } from './log.ts'
import { PANEL_PATH } from './widget-asset.ts'
import { rateLimitHeaders, type RateLimiter } from './rate-limit.ts'
import type { Relay } from './relay.ts'
import { sendJson } from './respond.ts'

export interface HandlerDeps {
  config: Config
  authenticate(authorization: readonly string[] | undefined): Promise<AuthenticatedKey>
  limiter: RateLimiter
  relay: Relay
  serveWidget(req: IncomingMessage, res: ServerResponse): Promise<void>
  /** GET /panel-<hash>.js, the panel the loader fetches on intent. */
  servePanel(req: IncomingMessage, res: ServerResponse): Promise<void>
  handleAdmin(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>
  log: Logger
}

/** What a route learns that the access log wants. */
interface Context {
  keyId?: string
}

type Route = (req: IncomingMessage, res: ServerResponse, context: Context) => Promise<void>

const MODELS = {
  object: 'list',
  data: [{ id: PUBLIC_MODEL, object: 'model', created: 1767225600, owned_by: 'assisters' }],
}

export function createHandler(deps: HandlerDeps) {
  const { config, authenticate, limiter, relay, log } = deps

  /** Checks 1 to 4: a live key, used from an origin it allows, within its rate limit. */
  const authorize = async (req: IncomingMessage, res: ServerResponse, context: Context) => {
    const key = await authenticate(req.headersDistinct.authorization)
    context.keyId = key.record.id
    if (!key.origins.allows(req.headersDistinct.origin)) throw originNotAllowed()
    const limit = key.record.rate_limit_rpm ?? config.rateLimitRpm
    const decision = await limiter.hit(key.record.id, limit)
    const headers = rateLimitHeaders(decision)
    if (!decision.allowed) throw rateLimitExceeded(limit, headers)
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value)
    return key
  }

  const chatCompletions: Route = async (req, res, context) => {
    const key = await authorize(req, res, context)
    const input = await readJsonBody(req, config.limits.maxBodyBytes)
    await relay(res, toChatRequest(input, config.limits, key.record.instructions), key.record.id)
  }

  const models: Route = async (req, res, context) => {
    await authorize(req, res, context)
    sendJson(res, 200, MODELS)
  }

  const healthz: Route = async (_req, res) => sendJson(res, 200, { status: 'ok' })

  // Public routes by path, then by method; HEAD rides along with GET.
  const routes: Record<string, Partial<Record<string, Route>>> = {
    '/v1/chat/completions': { POST: chatCompletions },
    '/v1/models': { GET: models },
    '/widget.js': { GET: deps.serveWidget },
    '/healthz': { GET: healthz },
  }
  // The panel's files, whose names change with each build.
  const panelRoute: Partial<Record<string, Route>> = { GET: deps.servePanel }

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now()
    const requestId = randomUUID()
    const path = (req.url ?? '/').split('?', 1)[0]!
    const context: Context = {}
    res.setHeader('x-request-id', requestId)
    res.once('close', () => {
      log.info('request', {
        requestId,
        method: req.method,
        path: path.slice(0, 200),
        status: res.statusCode,
        ms: Math.round(performance.now() - started),
        keyId: context.keyId,
        finished: res.writableFinished,
      })
    })
    try {
      if (path.startsWith('/admin/')) return await deps.handleAdmin(req, res, path)
      applyCors(req, res)
      const methods = routes[path] ?? (PANEL_PATH.test(path) ? panelRoute : undefined)
      if (!methods) throw notFound()
      if (req.method === 'OPTIONS') return answerPreflight(req, res)
      const route = methods[req.method === 'HEAD' ? 'GET' : req.method ?? '']
      if (!route) throw methodNotAllowed([...Object.keys(methods), ...('GET' in methods ? ['HEAD'] : []), 'OPTIONS'])
      await route(req, res, context)
    } catch (err) {
      sendError(res, err, log)
    }
  }
}
