/**
 * Serves the built widget: `dist/widget.js` (the loader) and the panel files next to it. Each is read
 * and compressed (brotli, gzip) once, kept in memory until the file changes, with a content ETag per
 * encoding. The loader keeps a short max-age so a new build reaches sites within minutes; a panel file,
 * whose name changes with its content, is cached for a year. Brotli is about a third of the raw bytes.
 */
import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { brotliCompress, constants, gzip } from 'node:zlib'
import { notFound, widgetNotBuilt } from './errors.ts'
import { addVary } from './vary.ts'

type Encoding = 'br' | 'gzip' | 'identity'

interface Loaded {
  mtimeMs: number
  size: number
  /** The same file in each encoding, with its own strong ETag. */
  variants: Record<Encoding, { body: Buffer; etag: string }>
}

const brotli = promisify(brotliCompress)
const gzipped = promisify(gzip)

/** The loader's cache lifetime: short, so sites get a new build within minutes. */
const LOADER_CACHE = 'public, max-age=300'
/** A panel file's: a year, and never revalidated, since a new build has a new name (RFC 8246). */
const PANEL_CACHE = 'public, max-age=31536000, immutable'

/**
 * The panel's file names as the build makes them (vite.config.ts): `panel-` and 10 hex digits of its
 * hash, its answers' file (stream reader and markdown renderer), `panel-answers-<hash>.js`, and its language tables, `panel-<language>-<hash>.json`.
 */
export const PANEL_PATH = /^\/panel-((answers-)?[0-9a-f]{10}\.js|[a-z]{2}-[0-9a-f]{10}\.json)$/

/** A handler for GET/HEAD /widget.js; a missing file answers 404 that says how to build it. */
export function createWidgetAsset(
  path: string,
  {
    cacheControl = LOADER_CACHE,
    missing = widgetNotBuilt,
    contentType = 'text/javascript; charset=utf-8',
    // The widget's files load on other sites; the dashboard's only on its own (dashboard.ts).
    resourcePolicy = 'cross-origin' as 'cross-origin' | 'same-origin',
  } = {},
) {
  let loaded: Loaded | undefined

  const load = async (): Promise<Loaded> => {
    const info = await stat(path).catch(() => undefined)
    if (!info?.isFile()) throw missing()
    if (loaded?.mtimeMs === info.mtimeMs && loaded.size === info.size) return loaded
    const body = await readFile(path)
    const hash = createHash('sha256').update(body).digest('base64url').slice(0, 27)
    const [br, gz] = await Promise.all([
      brotli(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } }),
      gzipped(body, { level: 9 }),
    ])
    const variants = {
      identity: { body, etag: `"${hash}"` },
      br: { body: br, etag: `"${hash}-br"` },
      gzip: { body: gz, etag: `"${hash}-gzip"` },
    }
    loaded = { mtimeMs: info.mtimeMs, size: info.size, variants }
    return loaded
  }

  return async function serveWidget(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const encoding = pickEncoding(req.headers['accept-encoding'])
    const file = (await load()).variants[encoding]
    // Added to the Origin that CORS already put there: both decide what a cache may reuse.
    addVary(res, 'Accept-Encoding')
    const headers = {
      etag: file.etag,
      'cache-control': cacheControl,
      // Sites that isolate themselves (COEP) may still load the script.
      'cross-origin-resource-policy': resourcePolicy,
    }
    if (matchesEtag(req.headers['if-none-match'], file.etag)) {
      res.writeHead(304, headers)
      res.end()
      return
    }
    res.writeHead(200, {
      ...headers,
      ...(encoding !== 'identity' && { 'content-encoding': encoding }),
      'content-type': contentType,
      'content-length': file.body.length,
      'x-content-type-options': 'nosniff',
    })
    res.end(file.body)
  }
}

/**
 * A handler for GET/HEAD of the panel's files (paths PANEL_PATH matches), served from `dir`, the loader's
 * folder. A file is looked up only by a name the build makes, and kept only once found, so requests
 * for made-up names cost a stat each and no memory.
 */
export function createPanelAssets(dir: string) {
  const assets = new Map<string, ReturnType<typeof createWidgetAsset>>()
  return async function servePanel(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const name = (req.url ?? '').split('?', 1)[0]!.slice(1)
    let asset = assets.get(name)
    if (!asset) {
      const info = await stat(join(dir, name)).catch(() => undefined)
      if (!info?.isFile()) throw notFound('file')
      const contentType = name.endsWith('.json') ? 'application/json' : 'text/javascript; charset=utf-8'
      asset = createWidgetAsset(join(dir, name), { cacheControl: PANEL_CACHE, missing: () => notFound('file'), contentType })
      assets.set(name, asset)
    }
    await asset(req, res)
  }
}

/** The smallest encoding the client accepts (RFC 9110 §12.5.3): brotli, then gzip; `q=0` refuses one. */
function pickEncoding(header: string | undefined): Encoding {
  const weights = new Map<string, number>()
  for (const part of (header ?? '').toLowerCase().split(',')) {
    const [name = '', ...params] = part.split(';').map((piece) => piece.trim())
    const q = params.find((param) => param.startsWith('q='))
    weights.set(name, q ? Number(q.slice(2)) : 1)
  }
  const accepts = (name: string) => (weights.get(name) ?? weights.get('*') ?? 0) > 0
  return accepts('br') ? 'br' : accepts('gzip') ? 'gzip' : 'identity'
}

/**
 * If-None-Match uses the weak comparison (RFC 9110 §13.1.2): a proxy that compresses the file turns
 * our ETag into `W/"…"`, and browsers send that back. `*` matches any existing file.
 */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  if (header.trim() === '*') return true
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)
}
