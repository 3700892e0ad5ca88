/**
 * The relay: sends a checked chat request upstream and passes the answer through. Streams are
 * forwarded event by event as they arrive, with backpressure, keep-alive pings, an idle timeout,
 * and an error event (never a clean end) when the upstream fails part-way. A visitor who leaves
 * aborts the upstream request.
 */
import type { ServerResponse } from 'node:http'
import type { ChatRequest } from './chat-request.ts'
import { upstreamError, upstreamTimeout } from './errors.ts'
import type { Logger } from './log.ts'
import { createEventSplitter, EventTooLarge, type RawEvent } from './sse-events.ts'
import type { Upstream } from './upstream.ts'
import type { UsageRecorder } from './usage.ts'

export interface RelayOptions {
  upstream: Upstream
  /** Longest wait for the upstream's headers, and for each next piece of a stream. */
  timeoutMs: number
  /** How often a silent stream gets a `: ping` comment. */
  pingMs?: number
  usage: UsageRecorder
  log: Logger
}

export type Relay = (res: ServerResponse, chat: ChatRequest, keyId: string) => Promise<void>

// Why the upstream request was aborted; compared by identity.
const TIMED_OUT = new Error('upstream timed out')
const VISITOR_LEFT = new Error('visitor disconnected')
const MAX_JSON_BYTES = 8 * 1024 * 1024
const USAGE = /"usage"\s*:\s*\{/

export function createRelay(options: RelayOptions): Relay {
  const { upstream, timeoutMs, usage, log } = options
  const pingMs = options.pingMs ?? 15_000

  return async function relay(res, chat, keyId) {
    const abort = new AbortController()
    // Removed when the relay is done, so any close seen here means nobody is reading any more.
    const onClose = () => abort.abort(VISITOR_LEFT)
    res.on('close', onClose)
    let deadline = setTimeout(() => abort.abort(TIMED_OUT), timeoutMs)
    const extendDeadline = () => {
      clearTimeout(deadline)
      deadline = setTimeout(() => abort.abort(TIMED_OUT), timeoutMs)
    }
    // Upstream failures are logged here, once, with what only the server should see.
    const fail = (why: string, detail?: unknown) => {
      if (abort.signal.reason === VISITOR_LEFT) return VISITOR_LEFT
      if (abort.signal.reason === TIMED_OUT) {
        log.warn('upstream timed out', { keyId, timeoutMs })
        return upstreamTimeout()
      }
      log.warn(why, { keyId, detail: detail instanceof Error ? detail.message : detail })
      return upstreamError()
    }

    try {
      usage.request(keyId)
      let response: Response
      try {
        response = await upstream.send(chat.body, abort.signal)
      } catch (err) {
        throw fail('upstream unreachable', err)
      }
      if (!response.ok) {
        const detail = (await response.text().catch(() => '')).slice(0, 500)
        throw fail('upstream answered an error', { status: response.status, body: detail })
      }
      if (chat.stream) await pipeEvents(response, res, chat, keyId, extendDeadline, fail, abort.signal)
      else await sendJson(response, res, keyId, fail)
    } catch (err) {
      if (err === VISITOR_LEFT) return
      throw err
    } finally {
      clearTimeout(deadline)
      res.off('close', onClose)
    }
  }

  async function sendJson(response: Response, res: ServerResponse, keyId: string, fail: Failure) {
    let text: string
    try {
      text = await response.text()
    } catch (err) {
      throw fail('upstream body failed', err)
    }
    let answer: { usage?: unknown }
    try {
      if (text.length > MAX_JSON_BYTES) throw new Error(`answer of ${text.length} characters`)
      answer = JSON.parse(text)
    } catch (err) {
      throw fail('upstream answered something that is not JSON', err)
    }
    recordUsage(keyId, answer.usage)
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
    })
    res.end(text)
  }

  async function pipeEvents(
    response: Response,
    res: ServerResponse,
    chat: ChatRequest,
    keyId: string,
    extendDeadline: () => void,
    fail: Failure,
    signal: AbortSignal,
  ) {
    if (!response.body) throw fail('upstream stream has no body')
    const reader = response.body.getReader()
    // Not every body errors when its request is aborted (an in-process or mocked upstream does not):
    // cancelling ends a pending read, and `fail` then reports why (timeout, or the visitor left).
    const cancelOnAbort = () => void reader.cancel().catch(() => {})
    signal.addEventListener('abort', cancelOnAbort, { once: true })
    const decoder = new TextDecoder()
    const split = createEventSplitter()
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    })
    res.flushHeaders()

    let ping: NodeJS.Timeout | undefined
    const schedulePing = () => {
      clearTimeout(ping)
      ping = setTimeout(() => {
        if (!res.destroyed) res.write(': ping\n\n')
        schedulePing()
      }, pingMs)
    }
    schedulePing()
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>
        try {
          chunk = await reader.read()
        } catch (err) {
          throw fail('upstream stream broke', err)
        }
        if (chunk.done) throw fail('upstream stream ended without [DONE]')
        extendDeadline()
        try {
          for (const event of split(decoder.decode(chunk.value, { stream: true }))) {
            if (event.data === '[DONE]') {
              res.end('data: [DONE]\n\n')
              // Not awaited: some bodies never settle a cancel once they are done.
              reader.cancel().catch(() => {})
              return
            }
            if (!forwardable(event, chat, keyId, fail)) continue
            schedulePing()
            if (!res.write(event.text + '\n\n')) await drained(res, signal)
          }
        } catch (err) {
          throw err instanceof EventTooLarge ? fail('upstream event too large', err.message) : err
        }
      }
    } catch (err) {
      reader.cancel().catch(() => {})
      throw err
    } finally {
      clearTimeout(ping)
      signal.removeEventListener('abort', cancelOnAbort)
    }
  }

  /** Reads the few events that matter; false for the usage chunk a client did not ask for. */
  function forwardable(event: RawEvent, chat: ChatRequest, keyId: string, fail: Failure): boolean {
    const data = event.data
    if (data === undefined) return true
    if (data.startsWith('{"error"')) throw fail('upstream sent an error event', data.slice(0, 500))
    if (!USAGE.test(data)) return true
    let parsed: { usage?: unknown; choices?: unknown[] }
    try {
      parsed = JSON.parse(data)
    } catch {
      return true
    }
    recordUsage(keyId, parsed.usage)
    // We always ask the upstream for usage; a client that did not ask may choke on a chunk without choices.
    return chat.clientWantsUsage || (parsed.choices?.length ?? 0) > 0
  }

  function recordUsage(keyId: string, reported: unknown) {
    const { prompt_tokens: prompt, completion_tokens: completion } = (reported ?? {}) as Record<string, unknown>
    if (Number.isSafeInteger(prompt) && Number.isSafeInteger(completion)) {
      usage.tokens(keyId, prompt as number, completion as number)
    }
  }
}

type Failure = (why: string, detail?: unknown) => Error

/**
 * Resolves when the socket can take more, or has closed, or the relay was aborted. A visitor who
 * stops reading is cut off once the idle deadline passes, instead of holding the relay forever.
 */
async function drained(res: ServerResponse, signal: AbortSignal) {
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      signal.removeEventListener('abort', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
    signal.addEventListener('abort', done)
  })
  if (signal.aborted && res.writableNeedDrain) res.destroy()
}
