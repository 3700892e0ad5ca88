/**
 * Serves the built `dist/widget.js`: read once and kept in memory until the file changes, with a
 * content ETag and a short max-age so a new build reaches sites within minutes.
 */
import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { HttpError } from './errors.ts'

interface Loaded {
  mtimeMs: number
  size: number
  etag: string
  body: Buffer
}

const notBuilt = () =>
  new HttpError(404, 'invalid_request_error', 'not_found', 'The widget is not built yet; run npm run build')

/** A handler for GET/HEAD /widget.js; a missing file answers 404 that says how to build it. */
export function createWidgetAsset(path: string) {
  let loaded: Loaded | undefined

  const load = async (): Promise<Loaded> => {
    const info = await stat(path).catch(() => undefined)
    if (!info?.isFile()) throw notBuilt()
    if (loaded?.mtimeMs === info.mtimeMs && loaded.size === info.size) return loaded
    const body = await readFile(path)
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`
    loaded = { mtimeMs: info.mtimeMs, size: info.size, etag, body }
    return loaded
  }

  return async function serveWidget(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const file = await load()
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
      'content-type': 'text/javascript; charset=utf-8',
      'content-length': file.body.length,
      'x-content-type-options': 'nosniff',
    })
    res.end(file.body)
  }
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
