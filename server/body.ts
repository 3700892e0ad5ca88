/** Reads a JSON request body under a byte limit: checks the type, the size, the UTF-8 and the JSON. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { type HttpError, invalidJson, requestTooLarge } from './errors.ts'

// Node's own test for the expectation (RFC 9110 §10.1.1).
const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i
// `utf8` too: the Encoding Standard's label for UTF-8 that some clients write.
const JSON_TYPE = /^application\/json\s*(;\s*charset\s*=\s*"?utf-?8"?\s*)?$/i
// One for the process: a whole-buffer decode keeps no state, and each new decoder costs an ICU converter.
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Resolves to the parsed body; throws 400 invalid_json or 413 request_too_large. Called only once
 * the checks before the body have passed: a client that sent `Expect: 100-continue` is invited to
 * upload here, never before (server.ts keeps Node from inviting it at once).
 */
export async function readJsonBody(req: IncomingMessage, res: ServerResponse, limitBytes: number): Promise<unknown> {
  const type = req.headers['content-type']
  // A missing type is tolerated (curl without -H); any other type is a client bug worth naming.
  if (type !== undefined && !JSON_TYPE.test(type.trim())) {
    throw invalidJson('The request body must be JSON sent with Content-Type: application/json')
  }
  // Not decoded: a gzipped body would otherwise be refused as "not UTF-8", and a plain one pass under a false label.
  const encoding = req.headers['content-encoding']?.trim().toLowerCase()
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
    throw invalidJson('The request body must not be compressed: send plain JSON without Content-Encoding')
  }
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limitBytes) throw requestTooLarge(limitBytes)
  if (CONTINUE.test(req.headers.expect ?? '') && !res.headersSent) res.writeContinue()

  const body = await readBytes(req, limitBytes)
  if (body.length === 0) throw invalidJson('The request body is empty; send a JSON object')

  let text: string
  try {
    text = STRICT_UTF8.decode(body)
  } catch {
    throw invalidJson('The request body is not valid UTF-8')
  }
  try {
    return JSON.parse(text)
  } catch {
    throw invalidJson('The request body is not valid JSON')
  }
}

// The client left, or was cut off for being slow, before sending it all: not a server error to log.
const cutShort = () => invalidJson('The request body ended before it was complete')

/**
 * The body's bytes, read with plain events rather than an async iterator (which sets up promises
 * and stream-end tracking per request). Past the limit it stops reading and keeps nothing more.
 */
function readBytes(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  // The client left before the read began (the steps before it may wait on a store): no event will come.
  if (req.destroyed) return Promise.reject(cutShort())
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const settle = (error?: HttpError) => {
      req.off('data', onData).off('end', onEnd).off('error', onBroken).off('close', onBroken)
      if (error) reject(error)
      else resolve(Buffer.concat(chunks, size))
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limitBytes) settle(requestTooLarge(limitBytes))
      else chunks.push(chunk)
    }
    const onEnd = () => settle()
    const onBroken = () => settle(cutShort())
    req.on('data', onData).on('end', onEnd).on('error', onBroken).on('close', onBroken)
  })
}
