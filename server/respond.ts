/** Writes a whole JSON response: the one writer behind successes, relayed answers and errors. */
import type { ServerResponse } from 'node:http'

/** Writes `body` (a value, or JSON text already serialised) with the given status and headers. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  })
  res.end(text)
}
