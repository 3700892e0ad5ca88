/**
 * Where a Prometheus scrape is answered: `GET /metrics` on the API port behind the admin token, or,
 * with METRICS_PORT, a port of its own that answers nothing else (keep it off the public network).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { methodNotAllowed, notFound, sendError } from './errors.ts'
import type { Logger } from './log.ts'
import { METRICS_CONTENT_TYPE, type MetricsSource } from './metrics.ts'
import { originForm } from './request-target.ts'

/** Writes the scrape; HEAD gets the headers only. */
export async function sendMetrics(req: IncomingMessage, res: ServerResponse, source: MetricsSource): Promise<void> {
  const text = await source()
  res.writeHead(200, {
    'content-type': METRICS_CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  })
  res.end(req.method === 'HEAD' ? undefined : text)
}

/** The METRICS_PORT server: `GET /metrics` and nothing else. */
export function listenForScrapes(
  source: MetricsSource,
  address: { host: string; port: number },
  log: Logger,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) => {
    const path = originForm(req.url ?? '/').split('?', 1)[0]
    const answer = async () => {
      if (path !== '/metrics') throw notFound()
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(['GET', 'HEAD'])
      await sendMetrics(req, res, source)
    }
    answer().catch((err: unknown) => sendError(res, err, log))
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(address.port, address.host, () => {
      server.off('error', reject)
      const { address: host, port } = server.address() as AddressInfo
      resolve({
        url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`,
        close: () =>
          new Promise((done) => {
            server.close(() => done())
            server.closeAllConnections()
          }),
      })
    })
  })
}
