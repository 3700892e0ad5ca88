import { HttpResponse } from 'msw'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { WidgetError } from '../../src/errors.ts'
import { createStreamChat } from '../../src/stream.ts'
import { API, DONE, KEY, controlledStream, delta, errorResponse, onChat, recordRequests, server, sseResponse } from './api-mock.ts'

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => {
  server.resetHandlers()
  server.events.removeAllListeners()
})
afterAll(() => server.close())

const question = [{ role: 'user' as const, content: 'Hello?' }]
// As the panel makes it, with its own WidgetError.
const streamChat = createStreamChat(WidgetError)

async function collect(signal = new AbortController().signal): Promise<string[]> {
  const out: string[] = []
  for await (const piece of streamChat(API, KEY, question, signal)) out.push(piece)
  return out
}

async function failure(): Promise<WidgetError> {
  try {
    await collect()
  } catch (err) {
    return err as WidgetError
  }
  throw new Error('expected streamChat to fail')
}

describe('streamChat', () => {
  it('posts the conversation with the key as a Bearer token and asks for a stream', async () => {
    const requests = recordRequests()
    onChat(() => sseResponse(delta('Hi'), DONE))
    await collect()
    expect(requests).toEqual([
      {
        authorization: `Bearer ${KEY}`,
        contentType: 'application/json',
        body: { model: 'assisters-chat-v1', messages: question, stream: true },
      },
    ])
  })

  it('yields each content delta in order and ends at [DONE]', async () => {
    onChat(() => sseResponse(delta('Hel'), delta('lo'), ': ping\n\n', delta(' there'), DONE))
    expect(await collect()).toEqual(['Hel', 'lo', ' there'])
  })

  it('skips chunks without content (the role chunk, the finish chunk, usage)', async () => {
    const role = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { role: 'assistant' } }] })}\n\n`
    const finish = `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`
    const usage = `data: ${JSON.stringify({ choices: [], usage: { total_tokens: 3 } })}\n\n`
    onChat(() => sseResponse(role, delta('Yes'), finish, usage, DONE))
    expect(await collect()).toEqual(['Yes'])
  })

  it('reads events split across chunks in the middle of a UTF-8 character', async () => {
    const bytes = new TextEncoder().encode(delta('héllo 🙂') + DONE)
    onChat(
      () =>
        new HttpResponse(
          new ReadableStream({
            start(c) {
              for (const b of bytes) c.enqueue(new Uint8Array([b]))
              c.close()
            },
          }),
          { headers: { 'content-type': 'text/event-stream' } },
        ),
    )
    expect((await collect()).join('')).toBe('héllo 🙂')
  })

  it.each([
    [401, 'invalid_api_key', 'Invalid API key provided', 'invalid_api_key'],
    [403, 'origin_not_allowed', 'Request origin not allowed for this API key', 'origin_not_allowed'],
    [400, 'invalid_body', 'messages[0].content is too long', 'bad_request'],
    [413, 'request_too_large', 'Request body over 1048576 bytes', 'bad_request'],
    [500, 'internal_error', 'The server had an error', 'server_error'],
    [502, 'upstream_error', 'The model service failed to answer', 'server_error'],
    [504, 'upstream_timeout', 'The model service took too long', 'server_error'],
  ])('turns HTTP %i (%s) into a %s error carrying the server message', async (status, code, message, expected) => {
    onChat(() => errorResponse(status, code, message))
    const error = await failure()
    expect(error).toBeInstanceOf(WidgetError)
    expect([error.code, error.status, error.detail]).toEqual([expected, status, message])
  })

  it.each([
    [{ 'retry-after': '7' }, 7],
    [{ 'retry-after': '2.5' }, 3],
    [{}, 10],
    [{ 'retry-after': 'soon' }, 10],
    [{ 'retry-after': '-3' }, 1],
    [{ 'retry-after': '0' }, 10],
    // The contract promises whole seconds; an HTTP date gets the short default wait.
    [{ 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' }, 10],
  ])('reads the wait of a 429 from Retry-After %o as %i s, rounded up', async (headers, seconds) => {
    onChat(() => errorResponse(429, 'rate_limit_exceeded', 'Rate limit reached', headers))
    expect((await failure()).retryAfter).toBe(seconds)
  })

  it.each([
    ['rate_limit_exceeded', 'rate_limit_exceeded'],
    ['visitor_rate_limit_exceeded', 'visitor_rate_limit_exceeded'],
    ['concurrent_streams_exceeded', 'concurrent_streams_exceeded'],
    ['visitor_concurrent_streams_exceeded', 'visitor_concurrent_streams_exceeded'],
    ['daily_token_limit_reached', 'daily_token_limit_reached'],
    ['account_daily_token_limit_reached', 'account_daily_token_limit_reached'],
    // A limit this widget does not know yet is the chat being busy; so is a code that is no limit.
    ['some_future_limit', 'rate_limit_exceeded'],
    ['invalid_api_key', 'rate_limit_exceeded'],
    [undefined, 'rate_limit_exceeded'],
  ])('tells the limits of a 429 apart by its code: %s is %s', async (code, expected) => {
    onChat(() => errorResponse(429, code!, 'A limit was reached', { 'retry-after': '5' }))
    const error = await failure()
    expect([error.code, error.status, error.detail]).toEqual([expected, 429, 'A limit was reached'])
  })

  it('reads a limit’s code only from a 429', async () => {
    onChat(() => errorResponse(400, 'visitor_rate_limit_exceeded', 'odd'))
    expect((await failure()).code).toBe('bad_request')
  })

  it.each([
    [{ 'retry-after': '7200', 'retry-after-ms': '7199500' }, 7200],
    [{ 'retry-after': '86400' }, 86_400],
    // No reset, or one that cannot be a daily budget's (past, or beyond the next 00:00 UTC), is not guessed.
    [{}, 0],
    [{ 'retry-after': 'tonight' }, 0],
    [{ 'retry-after': '0' }, 0],
    [{ 'retry-after': '-60' }, 0],
    [{ 'retry-after': '86401' }, 0],
  ])('reads the reset of a daily budget from Retry-After %o as %i s, and never retries it', async (headers, seconds) => {
    onChat(() => errorResponse(429, 'daily_token_limit_reached', 'Daily token limit reached', headers))
    const error = await failure()
    expect([error.retryAfter, error.canRetry]).toEqual([seconds, false])
  })

  it('answers an error body without JSON by its status alone', async () => {
    onChat(() => new HttpResponse('Too Many Requests', { status: 429, headers: { 'retry-after': '4' } }))
    const error = await failure()
    expect([error.code, error.retryAfter, error.detail]).toEqual(['rate_limit_exceeded', 4, ''])
  })

  it('survives an error body that is not JSON', async () => {
    onChat(() => new HttpResponse('<html>Bad gateway</html>', { status: 502, headers: { 'content-type': 'text/html' } }))
    const error = await failure()
    expect([error.code, error.detail]).toEqual(['server_error', ''])
  })

  it('calls a failed connection a network error', async () => {
    onChat(() => HttpResponse.error())
    expect((await failure()).code).toBe('network_error')
  })

  it('reports an error event in mid-stream as an interrupted answer, after the text before it', async () => {
    const errorEvent = `data: ${JSON.stringify({ error: { message: 'upstream broke', type: 'api_error', code: 'upstream_error' } })}\n\n`
    onChat(() => sseResponse(delta('Half an'), errorEvent))
    const seen: string[] = []
    const error = await (async () => {
      try {
        for await (const piece of streamChat(API, KEY, question, new AbortController().signal)) seen.push(piece)
      } catch (err) {
        return err as WidgetError
      }
    })()
    expect(seen).toEqual(['Half an'])
    expect([error?.code, error?.detail]).toEqual(['stream_interrupted', 'upstream broke'])
  })

  it('reads the body to its end after [DONE], so the request completes instead of being cancelled', async () => {
    const stream = controlledStream()
    onChat((request) => stream.response(request))
    let finished = false
    const answer = collect().finally(() => (finished = true))
    stream.push(delta('Hi'))
    stream.push(DONE)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(finished).toBe(false)
    stream.push('data: {"choices":[{"delta":{"content":"after the end"}}]}\n\n')
    stream.end()
    expect(await answer).toEqual(['Hi'])
    expect(stream.cancelled).toBe(false)
  })

  it('calls a stream that ends without [DONE] interrupted, not finished', async () => {
    onChat(() => sseResponse(delta('All good so f')))
    expect((await failure()).code).toBe('stream_interrupted')
  })

  it('calls a connection lost mid-stream interrupted', async () => {
    const stream = controlledStream()
    onChat((request) => stream.response(request))
    const pending = failure()
    stream.push(delta('Par'))
    stream.fail()
    expect((await pending).code).toBe('stream_interrupted')
  })

  it('calls a malformed event interrupted', async () => {
    onChat(() => sseResponse(delta('ok'), 'data: {not json\n\n', DONE))
    expect((await failure()).code).toBe('stream_interrupted')
  })

  it('lets an abort through as an AbortError, not a visitor-facing error', async () => {
    const stream = controlledStream()
    onChat((request) => stream.response(request))
    const controller = new AbortController()
    const pending = collect(controller.signal).catch((err) => err)
    stream.push(delta('Par'))
    await new Promise((r) => setTimeout(r, 20))
    controller.abort()
    const error = await pending
    expect(error).not.toBeInstanceOf(WidgetError)
    expect((error as Error).name).toBe('AbortError')
  })
})
