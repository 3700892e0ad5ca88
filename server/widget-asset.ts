/**
 * Serves the built `dist/widget.js`: read and compressed (brotli, gzip) once, kept in memory until the
 * file changes, with a content ETag per encoding and a short max-age so a new build reaches sites
 * within minutes. Every visitor's browser downloads it: brotli is about a third of the raw bytes.
 */
import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { promisify } from 'node:util'
import { brotliCompress, constants, gzip } from 'node:zlib'
import { widgetNotBuilt } from './errors.ts'
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

/** A handler for GET/HEAD /widget.js; a missing file answers 404 that says how to build it. */
export function createWidgetAsset(path: string) {
  let loaded: Loaded | undefined

  const load = async (): Promise<Loaded> => {
    const info = await stat(path).catch(() => undefined)
    if (!info?.isFile()) throw widgetNotBuilt()
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
      'cache-control': 'public, max-age=300',
      // Sites that isolate themselves (COEP) may still load the script.
      'cross-origin-resource-policy': 'cross-origin',
    }
    if (matchesEtag(req.headers['if-none-match'], file.etag)) {
      res.writeHead(304, headers)
      res.end()
      return
    }
    res.writeHead(200, {
      ...headers,
      ...(encoding !== 'identity' && { 'content-encoding': encoding }),
      'content-type': 'text/javascript; charset=utf-8',
      'content-length': file.body.length,
      'x-content-type-options': 'nosniff',
    })
    res.end(file.body)
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
