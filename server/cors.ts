/**
 * CORS for the public API (contract section 3). Any origin may read responses, errors included,
 * so the widget can show them: the key's allowed domains, not CORS, decide who gets answers.
 * Credentials are never allowed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { addVary } from './vary.ts'

const EXPOSED = [
  'x-ratelimit-limit-requests',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-reset-requests',
  'retry-after',
  'retry-after-ms',
  'x-request-id',
].join(', ')

// A header-name list as browsers send it in Access-Control-Request-Headers.
const HEADER_LIST = /^[!#$%&'*+.^_`|~0-9a-z-]+(\s*,\s*[!#$%&'*+.^_`|~0-9a-z-]+)*$/i

/** Echoes a single Origin header on the response; several (or none) get no CORS grant. */
export function applyCors(req: IncomingMessage, res: ServerResponse): void {
  addVary(res, 'Origin')
  const origin = req.headersDistinct.origin
  if (origin?.length !== 1) return
  res.setHeader('access-control-allow-origin', origin[0]!)
  res.setHeader('access-control-expose-headers', EXPOSED)
}

/** Answers a preflight: 204 for any origin, allowing POST and the headers the browser asks for. */
export function answerPreflight(req: IncomingMessage, res: ServerResponse): void {
  applyCors(req, res)
  const asked = req.headers['access-control-request-headers']?.trim()
  addVary(res, 'Access-Control-Request-Headers')
  res.writeHead(204, {
    'access-control-allow-methods': 'GET, POST, OPTIONS',
    'access-control-allow-headers': asked && HEADER_LIST.test(asked) ? asked : 'authorization, content-type',
    'access-control-max-age': '7200',
  })
  res.end()
}
