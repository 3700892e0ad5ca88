/**
 * Puts the parts together into a node:http server: the store, the limiter, usage accounting, the
 * relay, the admin API and the widget asset, with timeouts that keep slow clients from holding
 * the server and a graceful close that finishes or cleanly ends open streams.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createAdminHandler } from './admin.ts'
import { createHandler } from './app.ts'
import { createAuthenticator } from './authenticate.ts'
import type { Config } from './config.ts'
import { missingHost, rawClientErrorResponse, sendError, serverShuttingDown } from './errors.ts'
import type { Logger } from './log.ts'
import { createManagement } from './management.ts'
import { createMemoryRateLimiter } from './rate-limit.ts'
import { createRelay } from './relay.ts'
import { openSqliteStore } from './store/sqlite.ts'
import { createDemoUpstream, createHttpUpstream, type Upstream } from './upstream.ts'
import { createUsageRecorder } from './usage.ts'
import { createPanelAssets, createWidgetAsset } from './widget-asset.ts'

export interface AppServerOptions {
  log: Logger
  /** Replaces the upstream chosen from the config (tests, benchmarks). */
  upstream?: Upstream
  widgetPath?: string
  pingMs?: number
  usageFlushMs?: number
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
}

const DEFAULT_WIDGET = fileURLToPath(new URL('../dist/widget.js', import.meta.url))

export function createAppServer(config: Config, options: AppServerOptions): AppServer {
  const { log } = options
  const store = openSqliteStore(config.database.path)
  const limiter = createMemoryRateLimiter()
  const usage = createUsageRecorder(store, log, { flushMs: options.usageFlushMs })
  const management = createManagement({ store, defaultRpm: config.rateLimitRpm, flushUsage: usage.flush })
  const upstream = options.upstream ?? (config.upstream ? createHttpUpstream(config.upstream) : createDemoUpstream())
  const handle = createHandler({
    config,
    authenticate: createAuthenticator(store),
    limiter,
    relay: createRelay({ upstream, timeoutMs: config.upstreamTimeoutMs, pingMs: options.pingMs, usage, log }),
    serveWidget: createWidgetAsset(options.widgetPath ?? DEFAULT_WIDGET),
    // The panel files sit next to the loader, where the build puts them and the loader looks for them.
    servePanel: createPanelAssets(dirname(options.widgetPath ?? DEFAULT_WIDGET)),
    handleAdmin: createAdminHandler(management, config.adminToken),
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
    (req: IncomingMessage, res: ServerResponse) => {
      open.add(res)
      res.once('close', () => open.delete(res))
      // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400.
      if (req.httpVersion === '1.1' && req.headers.host === undefined) return sendError(res, missingHost(), log)
      handle(req, res).catch((err: unknown) => sendError(res, err, log))
    },
  )
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // As Node's own handler does: raw bytes after a response has begun on this socket (a bad request
    // pipelined behind a stream) would be spliced into that response, so just close the connection.
    const answering = [...open].some((res) => res.socket === socket && res.headersSent)
    if (err.code === 'ECONNRESET' || !socket.writable || answering) return void socket.destroy()
    // Then close for good: Node no longer tracks this connection, so a client that never hangs up
    // would otherwise hold it open past every timeout, and past close().
    socket.end(rawClientErrorResponse(err.code), () => socket.destroy())
  })

  let closing: Promise<void> | undefined
  const shutDown = async (graceMs: number) => {
    server.close()
    server.closeIdleConnections()
    const deadline = Date.now() + graceMs
    while (open.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    for (const res of open) sendError(res, serverShuttingDown(), log)
    server.closeAllConnections()
    upstream.close()
    await limiter.close()
    await usage.close()
    await store.close()
  }

  return {
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(config.port, config.host, () => {
          server.off('error', reject)
          const { address, port } = server.address() as AddressInfo
          resolve(`http://${address.includes(':') ? `[${address}]` : address}:${port}`)
        })
      }),
    close: () => (closing ??= shutDown(options.graceMs ?? 10_000)),
  }
}
