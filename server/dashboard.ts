/**
 * Everything under /dashboard: the JSON API (dashboard-api.ts) and the built front-end
 * (dashboard/dist): its pages, each the same index.html, and its hashed assets. Every response
 * carries nosniff, Referrer-Policy: same-origin and Cross-Origin-Resource-Policy: same-origin; the
 * page a strict CSP that allows only this origin's own scripts and styles and no framing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { HttpError, methodNotAllowed, notFound } from './errors.ts'
import { sendJson } from './respond.ts'
import { createWidgetAsset } from './widget-asset.ts'

export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../dashboard/dist/', import.meta.url))

export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

/** The front-end's own routes; each is the same page, which shows the right view. */
const PAGES = new Set(['', 'sign-in', 'sign-up', 'set-password', 'keys', 'embed', 'usage', 'settings'])
const ASSET = /^assets\/[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.(js|css|svg|png|woff2)$/
const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  woff2: 'font/woff2',
}
// Vite names assets by their content hash: a new build has new names.
const ASSET_CACHE = 'public, max-age=31536000, immutable'

export const PREVIEW_KEY_CHECK = '/dashboard/preview/v1/key'

const notBuilt = () => new HttpError(404, 'invalid_request_error', 'not_found', 'The dashboard is not built yet; run npm run build')

export function createDashboardHandler(
  handleApi: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void>,
  dir = DEFAULT_DASHBOARD_DIR,
) {
  const page = createWidgetAsset(join(dir, 'index.html'), {
    cacheControl: 'no-cache',
    missing: notBuilt,
    contentType: 'text/html; charset=utf-8',
    resourcePolicy: 'same-origin',
  })
  const assets = new Map<string, ReturnType<typeof createWidgetAsset>>()
  const asset = (name: string) => {
    let serve = assets.get(name)
    if (!serve) {
      serve = createWidgetAsset(join(dir, name), {
        cacheControl: ASSET_CACHE,
        missing: () => notFound('file'),
        contentType: TYPES[name.split('.').pop()!]!,
        resourcePolicy: 'same-origin',
      })
      // Only names the build made are kept (a made-up one answers 404 and is forgotten).
      assets.set(name, serve)
    }
    return serve
  }

  return async function handleDashboard(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    res.setHeader('x-content-type-options', 'nosniff')
    res.setHeader('referrer-policy', 'same-origin')
    res.setHeader('content-security-policy', DASHBOARD_CSP)
    // No other site may load anything from here (a script or an image of the signed-in dashboard).
    res.setHeader('cross-origin-resource-policy', 'same-origin')
    if (path.startsWith('/dashboard/api/')) return handleApi(req, res, path)

    if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(['GET', 'HEAD'])
    // The Embed page's widget preview uses this as its API: its key check on opening passes, so the
    // preview shows the look rather than a refused key (it has no real key); nothing else answers.
    if (path === PREVIEW_KEY_CHECK) return sendJson(res, 200, { ok: true })
    if (path === '/dashboard') {
      res.writeHead(308, { location: '/dashboard/', 'content-length': 0 })
      return void res.end()
    }
    const name = path.slice('/dashboard/'.length)
    if (PAGES.has(name)) return page(req, res)
    if (!ASSET.test(name)) throw notFound()
    try {
      await asset(name)(req, res)
    } catch (err) {
      assets.delete(name)
      throw err
    }
  }
}
