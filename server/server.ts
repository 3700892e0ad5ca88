/**
 * Puts the parts together into a node:http server: the store, the limiter, usage accounting, the
 * relay, the admin API and the widget asset, with timeouts that keep slow clients from holding
 * the server and a graceful close that finishes or cleanly ends open streams.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { existsSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createActivityRecorder } from './activity.ts'
import { createAdminGuard, createAdminHandler } from './admin.ts'
import { answeredOnSocket, createHandler, type Readiness } from './app.ts'
import { createAuthenticator } from './authenticate.ts'
import type { Config } from './config.ts'
import { closeInStages, inTurn } from './connection.ts'
import { createDashboardHandler } from './dashboard.ts'
import { createDashboardApi } from './dashboard-api.ts'
import { missingHost, rawClientErrorResponse, sendError, serverShuttingDown } from './errors.ts'
import { createLimiter, createOwnerThrottlesFor, createStreamSlots, createTokenBudget } from './limiter.ts'
import type { Logger } from './log.ts'
import { createManagement } from './management.ts'
import { sendMetrics } from './metrics-endpoint.ts'
import { createMetrics, metricsSource, type Metrics, type MetricsSource } from './metrics.ts'
import { createOwnerAuth, type OwnerAuthOptions } from './owner-auth.ts'
import { createRelay } from './relay.ts'
import { originForm } from './request-target.ts'
import { openStore } from './store/open.ts'
import { StoreConflict, StoreUnavailable, type Store } from './store/store.ts'
import { seedFromStore } from './token-budget.ts'
import { createDemoUpstream, createHttpUpstream, type Upstream } from './upstream.ts'
import { createUsageRecorder } from './usage.ts'
import { createVisitorIds } from './visitor-id.ts'
import { createPanelAssets, createWidgetAsset } from './widget-asset.ts'

export interface AppServerOptions {
  log: Logger
  /** Replaces the upstream chosen from the config (tests, benchmarks). */
  upstream?: Upstream
  widgetPath?: string
  /** The built dashboard (dashboard/dist by default). */
  dashboardDir?: string
  /** The dashboard's clock and sign-in throttles (tests move time on). */
  ownerAuth?: OwnerAuthOptions
  pingMs?: number
  usageFlushMs?: number
  /** The clock of UTC days, for usage rows and the daily token budgets (tests move it past 00:00). */
  now?: () => number
  /** How long close() lets open requests finish before ending them. */
  graceMs?: number
  /** Slow-client limits (tests shorten them): the headers, and the whole request, must arrive within these. */
  timeouts?: { headersMs: number; requestMs: number }
}

export interface AppServer {
  /** Starts listening; resolves to the base URL, e.g. http://127.0.0.1:8787. */
  listen(): Promise<string>
  /** Stops accepting, lets open requests finish (then ends them cleanly), writes usage, closes the store. */
  close(): Promise<void>
  /** The text of a Prometheus scrape (every worker's, under WORKERS), for a METRICS_PORT server. */
  scrapeMetrics: MetricsSource
}

// A dependency that has not answered /readyz's question in this long counts as unavailable.
const READINESS_DEADLINE_MS = 2_000
/** How often expired dashboard sessions and used set-password links are deleted (and once at start). */
const PURGE_EVERY_MS = 60 * 60 * 1000

export const DEFAULT_WIDGET = fileURLToPath(new URL('../dist/widget.js', import.meta.url))

/** Said once at start-up, as `npm start` says it: what a first run most often lacks. */
export function warnAboutMissingParts(config: Config, log: Logger) {
  if (!config.upstream) {
    log.warn('no model configured: answers come from the built-in offline demo responder; set UPSTREAM_BASE_URL and UPSTREAM_MODEL')
  }
  if (!existsSync(DEFAULT_WIDGET)) log.warn('the widget is not built: GET /widget.js answers 404 until you run npm run build')
}

/** Opens the store (migrating it), then wires everything; rejects when the store cannot be opened. */
export async function createAppServer(config: Config, options: AppServerOptions): Promise<AppServer> {
  const { log } = options
  const metrics = createMetrics()
  const scrapeMetrics = metricsSource(metrics)
  const store = countingFailures(await openStore(config.database, { log }), metrics)
  // VISITOR_ID_SECRET, or one made by whichever process starts first and kept in the store for all.
  const visitorIdSecret = config.visitorIdSecret ?? (await store.serverSecret('visitor_id', randomBytes(32).toString('base64url')))
  const limiter = createLimiter(config, log, metrics)
  const streams = createStreamSlots(config, log, metrics)
  const usage = createUsageRecorder(store, log, { flushMs: options.usageFlushMs, now: options.now })
  const budget = createTokenBudget(config, seedFromStore(store, usage), log, metrics, options.now)
  const activity = createActivityRecorder(store, log, { flushMs: options.usageFlushMs })
  const management = createManagement({
    store,
    defaultRpm: config.rateLimitRpm,
    defaultVisitorRpm: config.visitorRpm,
    flushUsage: async () => void (await Promise.all([usage.flush(), activity.flush()])),
    now: options.ownerAuth?.now,
  })
  const upstream = options.upstream ?? (config.upstream ? createHttpUpstream(config.upstream) : createDemoUpstream())
  const requireAdmin = createAdminGuard(config.adminToken, config.trustProxy)
  // With REDIS_FAILURE_MODE=local a process serves without Redis (each limiting by itself), so Redis
  // down is 'degraded', not a reason for a load balancer to drop every process at once.
  const redisDownMeans = config.redis?.failureMode === 'local' ? 'degraded' : 'unavailable'
  const readiness = async (): Promise<Readiness> => {
    const [database, redis] = await Promise.all([
      answersWithin(store.ping(), READINESS_DEADLINE_MS),
      config.redis && answersWithin(limiter.ping(), READINESS_DEADLINE_MS),
    ])
    const checks: Readiness['checks'] = { database: database ? 'ok' : 'unavailable' }
    if (config.redis) checks.redis = redis ? 'ok' : redisDownMeans
    return { ready: Object.values(checks).every((check) => check !== 'unavailable'), checks }
  }
  const ownerThrottles = createOwnerThrottlesFor(config, log, metrics)
  const ownerAuth = createOwnerAuth(store, { throttles: ownerThrottles, ...options.ownerAuth })
  // Expired sessions and used links sign no one in, but nothing else would ever delete them.
  const purge = () =>
    ownerAuth.purgeExpired().catch((err: unknown) => {
      if (!(err instanceof StoreUnavailable)) log.warn('could not delete expired dashboard sessions', { err })
    })
  const purging = setInterval(purge, PURGE_EVERY_MS)
  purging.unref()
  const handle = createHandler({
    config,
    authenticate: createAuthenticator(store, (keyId) => activity.refused(keyId, 'key_revoked')),
    activity,
    limiter,
    visitorId: createVisitorIds(visitorIdSecret),
    budget,
    accountTokenLimit: store.accountTokenLimit,
    streams,
    relay: createRelay({ upstream, timeoutMs: config.upstreamTimeoutMs, pingMs: options.pingMs, usage, metrics, log }),
    serveWidget: createWidgetAsset(options.widgetPath ?? DEFAULT_WIDGET),
    // The panel files sit next to the loader, where the build puts them and the loader looks for them.
    servePanel: createPanelAssets(dirname(options.widgetPath ?? DEFAULT_WIDGET)),
    handleAdmin: createAdminHandler(management, requireAdmin, config.publicUrl),
    handleDashboard: createDashboardHandler(
      createDashboardApi({
        management,
        auth: ownerAuth,
        publicUrl: config.publicUrl,
        signupOpen: config.signupOpen,
        trustProxy: config.trustProxy,
        defaults: { rate_limit_rpm: config.rateLimitRpm, visitor_rpm: config.visitorRpm },
      }),
      options.dashboardDir,
    ),
    async handleMetrics(req, res) {
      requireAdmin(req)
      await sendMetrics(req, res, scrapeMetrics)
    },
    readiness,
    metrics,
    log,
  })

  const { headersMs, requestMs } = options.timeouts ?? { headersMs: 10_000, requestMs: 30_000 }
  const open = new Set<ServerResponse>()
  const server = createServer(
    {
      headersTimeout: headersMs, // slow-header clients (one byte a second) are cut off with 408
      requestTimeout: requestMs, // the whole request body must arrive within this; responses may stream longer
      keepAliveTimeout: 5_000,
      maxHeaderSize: 16 * 1024,
      // Checked below instead: Node's own check answers a missing Host with a 400 that has no error body.
      requireHostHeader: false,
      // Node enforces those two timeouts only when it checks, every 30 s by default: a slow client
      // would hold its connection up to 30 s longer than they say.
      connectionsCheckingInterval: Math.min(1_000, headersMs / 4),
    },
    // One request at a time per connection, and none after an answer that closed it (connection.ts).
    inTurn((req: IncomingMessage, res: ServerResponse) => {
      open.add(res)
      res.once('close', () => open.delete(res))
      // Every route reads req.url, so an absolute-form target becomes its origin form here, once.
      req.url = originForm(req.url ?? '/')
      // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400.
      if (req.httpVersion === '1.1' && req.headers.host === undefined) return sendError(res, missingHost(), log)
      handle(req, res).catch((err: unknown) => sendError(res, err, log))
    }),
  )
  server.on('connection', closeInStages)
  // `Expect: 100-continue` comes here instead; the body reader sends 100 Continue once checks 1 to 4
  // have passed, so a client that is not allowed in is never invited to upload.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res))
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // As Node's own handler does: raw bytes after a response has begun on this socket (a bad request
    // pipelined behind a stream) would be spliced into that response, so just close the connection.
    const answering = [...open].some((res) => res.socket === socket && res.headersSent)
    if (err.code === 'ECONNRESET' || !socket.writable || answering) return void socket.destroy()
    const answer = rawClientErrorResponse(err.code)
    // A request already with a handler (its body too slow, or malformed) is logged with this status;
    // one whose body the client cut off by closing (an EOF mid-body) stays a 499: the client left.
    if (err.code !== 'HPE_INVALID_EOF_STATE') for (const res of open) if (res.socket === socket) answeredOnSocket(res, answer.status)
    // Then close for good: Node no longer tracks this connection, so a client that never hangs up
    // would otherwise hold it open past every timeout, and past close().
    socket.end(answer.text, () => socket.destroy())
  })

  let closing: Promise<void> | undefined
  const shutDown = async (graceMs: number) => {
    clearInterval(purging)
    server.close()
    server.closeIdleConnections()
    const deadline = Date.now() + graceMs
    while (open.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    for (const res of open) sendError(res, serverShuttingDown(), log)
    server.closeAllConnections()
    upstream.close()
    await limiter.close()
    await ownerThrottles.close()
    await budget.close()
    await streams.close()
    await usage.close()
    await activity.close()
    await store.close()
  }

  return {
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(config.port, config.host, () => {
          server.off('error', reject)
          const { address, port } = server.address() as AddressInfo
          void purge()
          resolve(`http://${address.includes(':') ? `[${address}]` : address}:${port}`)
        })
      }),
    close: () => (closing ??= shutDown(options.graceMs ?? 10_000)),
    scrapeMetrics,
  }
}

/** True when the promise settles successfully within `ms`. */
async function answersWithin(probe: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)))
  try {
    return await Promise.race([
      probe.then(
        () => true,
        () => false,
      ),
      late,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** The store, with every failed call (other than a refusal by the rules) counted in the metrics. */
function countingFailures(store: Store, metrics: Metrics): Store {
  // Wrapped once here, not per call: findKeyByHash is on every request's path.
  const counted =
    (method: (...args: never[]) => Promise<unknown>) =>
    (...args: never[]) =>
      method(...args).catch((err: unknown) => {
        if (!(err instanceof StoreConflict)) metrics.storeError()
        throw err
      })
  return Object.fromEntries(Object.entries(store).map(([name, method]) => [name, counted(method)])) as unknown as Store
}
