/**
 * The relay: sends a checked chat request upstream and passes the answer through. Streams are
 * forwarded event by event as they arrive, with backpressure, keep-alive pings, an idle timeout,
 * and an error event (never a clean end) when the upstream fails part-way. A visitor who leaves
 * aborts the upstream request.
 */
import type { ServerResponse } from 'node:http'
import { StringDecoder } from 'node:string_decoder'
import { PUBLIC_MODEL, type ChatRequest } from './chat-request.ts'
import { upstreamError, upstreamTimeout } from './errors.ts'
import type { Logger } from './log.ts'
import type { Metrics } from './metrics.ts'
import { sendJson } from './respond.ts'
import { createEventSplitter, EventTooLarge, type RawEvent } from './sse-events.ts'
import type { Upstream, UpstreamAnswer } from './upstream.ts'
import type { UsageRecorder } from './usage.ts'

export interface RelayOptions {
  upstream: Upstream
  /** Longest wait for the upstream's headers, and then for each next piece of the answer. */
  timeoutMs: number
  /** How often a silent stream gets a `: ping` comment. */
  pingMs?: number
  usage: UsageRecorder
  metrics: Metrics
  log: Logger
}

/** Relays one checked request made with the key `keyId`; `spend` hears the tokens its answer used (the daily budgets). */
export type Relay = (res: ServerResponse, chat: ChatRequest, keyId: string, spend: (tokens: number) => void) => Promise<void>

// Why the upstream request was aborted; compared by identity.
const TIMED_OUT = new Error('upstream timed out')
const VISITOR_LEFT = new Error('visitor disconnected')
// Not a failure: the visitor has the whole answer, and only the upstream's tail went wrong.
const ALREADY_ANSWERED = new Error('answer already complete')
const MAX_JSON_CHARS = 8 * 1024 * 1024
const USAGE = /"usage"\s*:\s*\{/
const ERROR_DATA = /^\s*\{\s*"error"\s*:/
const ERROR_EVENT = /^event:\s*error\s*$/m
const EVENT_STREAM = /^\s*text\/event-stream\s*(;|$)/i
// The answer's own `"model": "…"`. Model text cannot match: inside a JSON string every quote is escaped.
const MODEL_FIELD = /("model"\s*:\s*)"(?:[^"\\]|\\.)*"/

/** Answers name the public model, whatever the upstream calls itself. */
const withPublicModel = (json: string) => json.replace(MODEL_FIELD, `$1"${PUBLIC_MODEL}"`)

export function createRelay(options: RelayOptions): Relay {
  const { upstream, timeoutMs, usage, metrics, log } = options
  const pingMs = options.pingMs ?? 15_000

  return async function relay(res, chat, keyId, spend) {
    const abort = new AbortController()
    const { signal } = abort
    // A close after our response finished is the normal end (Node emits it right after finish);
    // only one before it means nobody is reading any more.
    const onClose = () => {
      if (!res.writableFinished) abort.abort(VISITOR_LEFT)
    }
    res.on('close', onClose)
    let deadline: NodeJS.Timeout | undefined
    // One timer re-armed by refresh(), not a new one for every piece of a long answer.
    const extendDeadline = () => {
      if (deadline) deadline.refresh()
      else deadline = setTimeout(() => abort.abort(TIMED_OUT), timeoutMs)
    }
    // The last usage the upstream reported: some report running totals, so only the last one counts.
    let reported: unknown
    // Set at [DONE]: the relay reads on only to give the upstream connection back to the pool.
    let answered = false
    const started = performance.now()
    const seconds = () => (performance.now() - started) / 1000
    let firstByteSent = false
    const noteFirstByte = () => {
      if (!firstByteSent) metrics.firstByte(chat.stream, seconds())
      firstByteSent = true
    }

    // Upstream failures are logged here, once, with what only the server should see.
    const fail = (why: string, detail?: unknown) => {
      if (signal.reason === VISITOR_LEFT) return VISITOR_LEFT
      if (answered) return ALREADY_ANSWERED
      if (signal.reason === TIMED_OUT) {
        log.warn('upstream timed out', { keyId, timeoutMs })
        metrics.upstreamFailure('timeout')
        return upstreamTimeout()
      }
      log.warn(why, { keyId, detail: detail instanceof Error ? detail.message : detail })
      metrics.upstreamFailure('error')
      return upstreamError()
    }

    /** The answer's body as decoded text, piece by piece, each piece extending the deadline. */
    async function* pieces(answer: UpstreamAnswer): AsyncGenerator<string> {
      // Keeps a character split across pieces whole; cheaper to create than a TextDecoder.
      const decoder = new StringDecoder('utf8')
      try {
        for await (const chunk of answer.body) {
          extendDeadline()
          yield decoder.write(chunk)
        }
      } catch (err) {
        // An abort (timeout, or the visitor left) also lands here; `fail` tells which.
        throw fail('upstream answer broke off', err)
      }
    }

    async function sendAnswer(answer: UpstreamAnswer) {
      let text = ''
      for await (const piece of pieces(answer)) {
        text += piece
        if (text.length > MAX_JSON_CHARS) throw fail('upstream answer too large', { chars: text.length })
      }
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch (err) {
        throw fail('upstream answered something that is not JSON', err)
      }
      if (typeof parsed !== 'object' || parsed === null) throw fail('upstream answered JSON that is not an object', text.slice(0, 100))
      reported = (parsed as { usage?: unknown }).usage
      noteFirstByte()
      sendJson(res, 200, withPublicModel(text))
      metrics.relayed(false, seconds())
    }

    async function sendEvents(answer: UpstreamAnswer) {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      })
      res.flushHeaders()
      const streamClosed = metrics.streamOpened()
      // Re-armed by refresh() at each event, as the deadline is.
      const ping = setTimeout(() => {
        if (!res.writableEnded) res.write(': ping\n\n')
        ping.refresh()
      }, pingMs)
      const split = createEventSplitter()
      try {
        // Read on after [DONE] until the upstream ends, so its connection goes back to the pool.
        for await (const piece of pieces(answer)) {
          if (answered) continue
          try {
            for (const event of split(piece)) {
              if (event.data === '[DONE]') {
                answered = true
                clearTimeout(ping)
                res.end('data: [DONE]\n\n')
                streamClosed()
                metrics.relayed(true, seconds())
                // Now, not when the upstream lets go: a shutdown may cut that tail off.
                recordUsage(keyId, reported, spend)
                reported = undefined
                break
              }
              const text = forwardable(event)
              if (text === undefined) continue
              ping.refresh()
              noteFirstByte()
              if (!res.write(text + '\n\n')) await drained(res, signal)
            }
          } catch (err) {
            throw err instanceof EventTooLarge ? fail('upstream event too large', err.message) : err
          }
        }
        if (!answered) throw fail('upstream stream ended without [DONE]')
      } finally {
        clearTimeout(ping)
        streamClosed()
      }
    }

    /** The event as it goes to the client, or undefined for one it should not see. */
    function forwardable(event: RawEvent): string | undefined {
      const data = event.data
      if (data === undefined) return event.text
      if (ERROR_DATA.test(data) || ERROR_EVENT.test(event.text)) {
        throw fail('upstream sent an error event', data.slice(0, 500))
      }
      if (!USAGE.test(data)) return withPublicModel(event.text)
      let parsed: { usage?: unknown; choices?: unknown[] }
      try {
        parsed = JSON.parse(data)
      } catch {
        return withPublicModel(event.text)
      }
      reported = parsed.usage
      // We always ask the upstream for usage; a client that did not ask may choke on a chunk without choices.
      const wanted = chat.clientWantsUsage || (parsed.choices?.length ?? 0) > 0
      return wanted ? withPublicModel(event.text) : undefined
    }

    try {
      usage.request(keyId)
      extendDeadline()
      let answer: UpstreamAnswer
      try {
        answer = await upstream.send(chat.body, signal)
      } catch (err) {
        throw fail('upstream unreachable', err)
      }
      if (answer.status < 200 || answer.status > 299) {
        let detail = ''
        for await (const piece of pieces(answer)) if ((detail += piece).length > 500) break
        throw fail('upstream answered an error', { status: answer.status, body: detail.slice(0, 500) })
      }
      // Checked before our stream begins: then the visitor gets a 502 ("could not answer"), not a 200
      // stream cut off at once. A declared type only; an upstream that names none is taken at its word.
      if (chat.stream && answer.contentType !== undefined && !EVENT_STREAM.test(answer.contentType)) {
        const error = fail('upstream answered a stream request with something else', { contentType: answer.contentType })
        abort.abort(error)
        throw error
      }
      await (chat.stream ? sendEvents(answer) : sendAnswer(answer))
    } catch (err) {
      if (err === VISITOR_LEFT || err === ALREADY_ANSWERED) return
      throw err
    } finally {
      clearTimeout(deadline)
      res.off('close', onClose)
      recordUsage(keyId, reported, spend)
    }
  }

  function recordUsage(keyId: string, reported: unknown, spend: (tokens: number) => void) {
    const { prompt_tokens: prompt, completion_tokens: completion } = (reported ?? {}) as Record<string, unknown>
    if (Number.isSafeInteger(prompt) && Number.isSafeInteger(completion)) {
      usage.tokens(keyId, prompt as number, completion as number)
      spend((prompt as number) + (completion as number))
    }
  }
}

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
