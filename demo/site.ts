/**
 * The demo website: a few static pages on their own origin (http://localhost:8080), each embedding
 * the widget from the API origin with the snippet an owner would paste. A fixed route table, so no
 * request can name a file outside it; the pages get a strict Content-Security-Policy to show that
 * the widget works under one.
 */
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'

const SITE = fileURLToPath(new URL('./site/', import.meta.url))

interface Route {
  file: string
  type: string
  /** Which key the page embeds, and the snippet's optional attributes; pages only. */
  embed?: { key: 'primaryKey' | 'restrictedKey'; attributes: Record<string, string> }
}

const HTML = 'text/html; charset=utf-8'
const STARTERS = 'What does Lumen cost?|Does it work offline?|How do I import my notes?'

const BRAND = { 'data-title': 'Ask Lumen', 'data-color': '#0f766e' }

const ROUTES: Record<string, Route> = {
  '/': { file: 'index.html', type: HTML, embed: { key: 'primaryKey', attributes: { ...BRAND, 'data-starters': STARTERS } } },
  '/playground': { file: 'playground.html', type: HTML, embed: { key: 'primaryKey', attributes: BRAND } },
  '/refused': { file: 'refused.html', type: HTML, embed: { key: 'restrictedKey', attributes: BRAND } },
  '/site.css': { file: 'site.css', type: 'text/css; charset=utf-8' },
  '/site.js': { file: 'site.js', type: 'text/javascript; charset=utf-8' },
  '/playground.js': { file: 'playground.js', type: 'text/javascript; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
}

export interface DemoSiteOptions {
  host: string
  port: number
  /** The API base the pages load the widget from, e.g. http://localhost:8787. */
  api: string
  keys: { primaryKey: string; restrictedKey: string }
}

/** The embed tag exactly as the owner pastes it (and as the page shows it for copying). */
export function embedSnippet(api: string, key: string, attributes: Record<string, string> = {}): string {
  const extra = Object.entries(attributes)
    .map(([name, value]) => ` ${name}="${escapeHtml(value)}"`)
    .join('')
  return `<script src="${escapeHtml(api)}/widget.js" data-key="${escapeHtml(key)}"${extra} async></script>`
}

/** The pages' Content-Security-Policy: their own origin, plus the widget's script and API calls from `api`. */
export function demoCsp(api: string): string {
  return [
    "default-src 'self'",
    `script-src 'self' ${api}`,
    `connect-src ${api}`,
    // No 'unsafe-inline': the widget's styles are constructed stylesheets, which CSP does not govern.
    "style-src 'self'",
    "img-src 'self' data:",
  ].join('; ')
}

export async function startDemoSite(options: DemoSiteOptions): Promise<{ url: string; close(): void }> {
  const { api, keys } = options
  const csp = demoCsp(api)

  // Filled once the port is known: the refused page shows the site's own origin.
  let bodies = new Map<string, Buffer>()
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // Not the URL parser: it throws on request targets such as `//[`, and a route table needs only the path.
    const path = (req.url ?? '/').split('?')[0]!
    const route = ROUTES[path]
    const body = bodies.get(path)
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('Method not allowed\n')
      return
    }
    if (!route || !body) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found. Try / , /playground or /refused\n')
      return
    }
    res.writeHead(200, {
      'content-type': route.type,
      'content-length': body.length,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      ...(route.type === HTML && { 'content-security-policy': csp, 'referrer-policy': 'strict-origin-when-cross-origin' }),
    })
    res.end(req.method === 'HEAD' ? undefined : body)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const url = `http://${displayHost(options.host)}:${port}`
  bodies = renderPages(api, keys, url)
  return {
    url,
    close() {
      server.closeAllConnections()
      server.close()
    },
  }
}

/** Every route's body, read once (the pages are small and fixed while the demo runs), placeholders filled. */
function renderPages(api: string, keys: DemoSiteOptions['keys'], site: string): Map<string, Buffer> {
  const bodies = new Map<string, Buffer>()
  for (const [path, route] of Object.entries(ROUTES)) {
    const raw = readFileSync(SITE + route.file, 'utf8')
    if (!route.embed) {
      bodies.set(path, Buffer.from(raw))
      continue
    }
    const snippet = embedSnippet(api, keys[route.embed.key], route.embed.attributes)
    // Replacer functions: a replacement string would give `$&` and friends a meaning.
    const page = raw
      .replaceAll('{{embedShown}}', () => escapeHtml(snippet))
      .replaceAll('{{embed}}', () => snippet)
      .replaceAll('{{api}}', () => escapeHtml(api))
      .replaceAll('{{site}}', () => escapeHtml(site))
    bodies.set(path, Buffer.from(page))
  }
  return bodies
}

/** localhost for loopback and wildcard listeners (the demo key allows it); the host itself otherwise. */
export function displayHost(host: string): string {
  if (['127.0.0.1', '::1', '0.0.0.0', '::', 'localhost'].includes(host)) return 'localhost'
  return host.includes(':') ? `[${host}]` : host
}

/** Text made safe for HTML content and double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`)
}
