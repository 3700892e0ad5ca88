/**
 * The one raw-socket HTTP client of the tests: bytes exactly as written (repeated headers, broken
 * framing, pipelined requests, a body sent slowly), and what the server sent back until it closed.
 */
import { connect, type Socket } from 'node:net'

export interface Exchange {
  /** Everything the server sent, as text. */
  raw: string
  /** Undefined when the server sent no status line at all. */
  status?: number
  headers: Record<string, string>
  /** The body, de-chunked. */
  body: string
  /** The server closed the connection (or reset it) before our safety timeout. */
  closed: boolean
  /** A socket error code, e.g. ECONNRESET, if there was one. */
  error?: string
  /** From connect to close. */
  ms: number
}

export type Writer = (socket: Socket, received: () => string) => void | Promise<void>

/** Connects, lets `write` talk, and collects what the server says until it closes the connection. */
export function exchange(port: number, write: string | Buffer | Writer, timeoutMs = 5000): Promise<Exchange> {
  return new Promise((resolve) => {
    const started = Date.now()
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let error: string | undefined
    let closed = false
    const received = () => Buffer.concat(chunks).toString('utf8')
    const safety = setTimeout(() => socket.destroy(), timeoutMs)
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('end', () => (closed = true))
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error ??= err.code
      closed = true
    })
    socket.on('close', () => {
      clearTimeout(safety)
      resolve({ ...parseResponse(Buffer.concat(chunks)), raw: received(), closed, error, ms: Date.now() - started })
    })
    socket.on('connect', () => {
      if (typeof write === 'string' || Buffer.isBuffer(write)) socket.write(write)
      // A writer racing a connection the server cut is expected here; the close reports the outcome.
      else Promise.resolve(write(socket, received)).catch(() => {})
    })
  })
}

function parseResponse(bytes: Buffer): Pick<Exchange, 'status' | 'headers' | 'body'> {
  const end = bytes.indexOf('\r\n\r\n')
  const [statusLine = '', ...lines] = bytes
    .subarray(0, end === -1 ? bytes.length : end)
    .toString('latin1')
    .split('\r\n')
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1]
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  let body = end === -1 ? Buffer.alloc(0) : bytes.subarray(end + 4)
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body)
  return { status: status === undefined ? undefined : Number(status), headers, body: body.toString('utf8') }
}

/** Chunk sizes count bytes, so this works on bytes; a cut-off stream yields what arrived whole. */
function dechunk(bytes: Buffer): Buffer {
  const out: Buffer[] = []
  let at = 0
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at)
    if (lineEnd === -1) break
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16)
    if (!(size > 0)) break
    out.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
  return Buffer.concat(out)
}

/** One whole request with `Connection: close`; headers as pairs so a name may repeat. */
export function rawRequest(method: string, path: string, headers: [string, string][] = [], body?: string | Buffer): string | Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close']
  for (const [name, value] of headers) lines.push(`${name}: ${value}`)
  if (body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body)}`)
  const head = lines.join('\r\n') + '\r\n\r\n'
  return body === undefined ? head : Buffer.concat([Buffer.from(head), Buffer.from(body)])
}
