/**
 * The public API contract (CONTRACT sections 3, 5 and 6) against the real server on a real socket:
 * the order of the checks, the exact error bodies, CORS, the rate-limit headers, the server-side
 * chat policy as the upstream sees it, and the widget asset.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request, type IncomingHttpHeaders } from 'node:http'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { http, HttpResponse } from 'msw'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { generateKey, isWellFormedKey } from '../../server/keys.ts'
import {
  MODEL,
  UPSTREAM_KEY,
  UPSTREAM_URL,
  completion,
  createUpstreamMock,
  deltaChunk,
  sseEvents,
  startServer,
  usageChunk,
  type TestServer,
} from './harness.ts'
import { exchange } from '../support/raw-http.ts'

const LIMITS = { MAX_MESSAGES: '3', MAX_MESSAGE_CHARS: '100', MAX_BODY_BYTES: '2048', MAX_OUTPUT_TOKENS: '256' }

const INVALID_KEY = { error: { message: 'Invalid API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } }
const ORIGIN_NOT_ALLOWED = {
  error: { message: 'Request origin not allowed for this API key', type: 'invalid_request_error', code: 'origin_not_allowed' },
}
const HELLO = { model: MODEL, messages: [{ role: 'user', content: 'Hello' }] }
/** An object `depth` levels deep: `{"a": {"a": … {}}}`. */
const nested = (depth: number): object => (depth === 1 ? {} : { a: nested(depth - 1) })

const upstream = createUpstreamMock()
let server: TestServer
let widgetDir: string
let widgetPath: string
/** Every request the upstream received, in order. */
let seen: Array<{ body: any; authorization: string | null }>

/** Records each upstream request and answers with a completion (or a stream when asked for one). */
const capturingUpstream = http.post(UPSTREAM_URL, async ({ request }) => {
  const body = (await request.json()) as any
  seen.push({ body, authorization: request.headers.get('authorization') })
  if (body.stream) {
    return new HttpResponse(sseEvents([deltaChunk('ok'), usageChunk(1, 1)]), { headers: { 'content-type': 'text/event-stream' } })
  }
  return HttpResponse.json(completion('ok'))
})

beforeAll(async () => {
  upstream.listen()
  widgetDir = mkdtempSync(join(tmpdir(), 'assisters-widget-'))
  widgetPath = join(widgetDir, 'widget.js')
  server = await startServer(LIMITS, { widgetPath })
})
beforeEach(() => {
  seen = []
  upstream.mock.use(capturingUpstream)
})
afterEach(() => upstream.mock.resetHandlers())
afterAll(async () => {
  await server?.close()
  upstream.mock.close()
  rmSync(widgetDir, { recursive: true, force: true })
})

/** Any request to the server under test. */
const call = (path: string, init: RequestInit = {}) => fetch(server.url + path, init)

const errorOf = async (response: Response) => ((await response.json()) as { error: Record<string, unknown> }).error

/**
 * Sends bytes exactly as given over a plain socket (`Connection: close`) and reads the response:
 * for requests fetch cannot make (repeated headers, a hand-written chunked body).
 */
function rawHttp([requestLine, ...headerLines]: string[], body: string | Buffer = '') {
  const { port, host } = new URL(server.url)
  const head = [requestLine, `Host: ${host}`, 'Connection: close', ...headerLines].join('\r\n')
  return exchange(Number(port), Buffer.concat([Buffer.from(`${head}\r\n\r\n`), Buffer.from(body)]))
}

/** The request line of a chat request over the raw socket. */
const CHAT_LINE = 'POST /v1/chat/completions HTTP/1.1'

describe('the order of the checks', () => {
  it('answers 401 to a bad key even with a bad origin and a bad body', async () => {
    const { key } = await server.createKey({ allowed_domains: ['example.com'] })
    const mistyped = key.slice(0, -1) + (key.endsWith('x') ? 'y' : 'x')
    const response = await server.chat(mistyped, '{not json', { origin: 'https://evil.test' })
    expect(response.status).toBe(401)
    expect(await response.json()).toEqual(INVALID_KEY)
  })

  it('answers 401 to a revoked key even with a bad origin and a bad body', async () => {
    const { key, id } = await server.createKey({ allowed_domains: ['example.com'] })
    expect((await server.admin('POST', `/admin/keys/${id}/revoke`)).status).toBe(200)
    const response = await server.chat(key, '{not json', { origin: 'https://evil.test' })
    expect(response.status).toBe(401)
    expect(await response.json()).toEqual(INVALID_KEY)
  })

  it('answers 403 to a good key from a bad origin with a bad body', async () => {
    const { key } = await server.createKey({ allowed_domains: ['example.com'] })
    const response = await server.chat(key, '{not json', { origin: 'https://evil.test' })
    expect(response.status).toBe(403)
    expect(await response.json()).toEqual(ORIGIN_NOT_ALLOWED)
  })

  it('answers 403 rather than 429 to a bad origin on a key whose window is full', async () => {
    const { key } = await server.createKey({ allowed_domains: ['example.com'], rate_limit_rpm: 1 })
    expect((await server.chat(key, '{not json', { origin: 'https://example.com' })).status).toBe(400)
    expect((await server.chat(key, '{not json', { origin: 'https://example.com' })).status).toBe(429)
    expect((await server.chat(key, '{not json', { origin: 'https://evil.test' })).status).toBe(403)
  })

  it('answers 429 to an over-limit request before looking at its body', async () => {
    const { key } = await server.createKey({ rate_limit_rpm: 1 })
    const first = await server.chat(key, '{not json')
    expect(first.status).toBe(400)
    const second = await server.chat(key, '{not json')
    expect(second.status).toBe(429)
    expect((await errorOf(second)).code).toBe('rate_limit_exceeded')
  })

  it('answers 400 to a bad body within the limit, and 413 to one that is also too large', async () => {
    const { key } = await server.createKey()
    const bad = await server.chat(key, '{not json')
    expect(bad.status).toBe(400)
    expect(await errorOf(bad)).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json' })
    const huge = await server.chat(key, '{not json' + 'x'.repeat(3000))
    expect(huge.status).toBe(413)
  })

  it('does not count requests refused for their origin against the window', async () => {
    const { key } = await server.createKey({ allowed_domains: ['example.com'], rate_limit_rpm: 1 })
    for (let i = 0; i < 3; i++) expect((await server.chat(key, HELLO, { origin: 'https://evil.test' })).status).toBe(403)
    expect((await server.chat(key, HELLO, { origin: 'https://example.com' })).status).toBe(200)
  })
})

describe('401: the key', () => {
  let key: string
  beforeAll(async () => {
    key = (await server.createKey()).key
  })

  const flipOne = (text: string) => {
    const at = 10
    return text.slice(0, at) + (text[at] === 'a' ? 'b' : 'a') + text.slice(at + 1)
  }

  it.each<[string, () => Record<string, string>]>([
    ['no Authorization header', () => ({})],
    ['a Basic scheme', () => ({ authorization: `Basic ${Buffer.from(`user:${key}`).toString('base64')}` })],
    ['Bearer with nothing after it', () => ({ authorization: 'Bearer' })],
    ['Bearer and a space only', () => ({ authorization: 'Bearer ' })],
    ['the key without its Bearer scheme', () => ({ authorization: key })],
    ['a key without the ask_ prefix', () => ({ authorization: `Bearer sk_${key.slice(4)}` })],
    ['a key with one character changed (bad checksum)', () => ({ authorization: `Bearer ${flipOne(key)}` })],
    ['a key with text after it', () => ({ authorization: `Bearer ${key} extra` })],
    ['a well-formed key that does not exist', () => ({ authorization: `Bearer ${generateKey()}` })],
  ])('refuses %s with the exact 401 body', async (_name, headers) => {
    const response = await call('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers() },
      body: JSON.stringify(HELLO),
    })
    expect(response.status).toBe(401)
    expect(await response.json()).toEqual(INVALID_KEY)
    expect(seen).toHaveLength(0)
  })

  it('builds its bad keys as intended: a changed character breaks the checksum, a generated key is well formed', () => {
    expect(isWellFormedKey(key)).toBe(true)
    expect(isWellFormedKey(flipOne(key))).toBe(false)
    expect(isWellFormedKey(generateKey())).toBe(true)
  })

  it('accepts the Bearer scheme in any case', async () => {
    const response = await server.chat(undefined, HELLO, { authorization: `bearer ${key}` })
    expect(response.status).toBe(200)
    expect((await server.chat(undefined, HELLO, { authorization: `BEARER ${key}` })).status).toBe(200)
  })

  it('refuses two Authorization headers even when both hold the valid key', async () => {
    const body = JSON.stringify(HELLO)
    const response = await rawHttp(
      [
        CHAT_LINE,
        'Content-Type: application/json',
        `Content-Length: ${body.length}`,
        `Authorization: Bearer ${key}`,
        `Authorization: Bearer ${key}`,
      ],
      body,
    )
    expect(response.status).toBe(401)
    expect(JSON.parse(response.body)).toEqual(INVALID_KEY)
    // The same request with one header passes, so the refusal is about the repetition.
    const single = await rawHttp(
      [CHAT_LINE, 'Content-Type: application/json', `Content-Length: ${body.length}`, `Authorization: Bearer ${key}`],
      body,
    )
    expect(single.status).toBe(200)
  })

  it('refuses a revoked key on the very next request', async () => {
    const { key: doomed, id } = await server.createKey()
    expect((await server.chat(doomed)).status).toBe(200)
    expect((await server.admin('POST', `/admin/keys/${id}/revoke`)).status).toBe(200)
    const response = await server.chat(doomed)
    expect(response.status).toBe(401)
    expect(await response.json()).toEqual(INVALID_KEY)
  })

  it('needs the key for GET /v1/models too', async () => {
    const response = await call('/v1/models')
    expect(response.status).toBe(401)
    expect(await response.json()).toEqual(INVALID_KEY)
  })
})

describe('403: the origin', () => {
  let restricted: string
  beforeAll(async () => {
    restricted = (await server.createKey({ allowed_domains: ['example.com'] })).key
  })

  it.each<[string, Record<string, string>]>([
    ['no Origin', {}],
    ['another site', { origin: 'https://evil.test' }],
    ['a look-alike site', { origin: 'https://example.com.evil.test' }],
    ['the null origin', { origin: 'null' }],
    ['an origin with a path', { origin: 'https://example.com/' }],
    ['an origin in upper case', { origin: 'https://EXAMPLE.com' }],
    ['a list of origins', { origin: 'https://example.com, https://evil.test' }],
  ])('refuses %s with the exact 403 body', async (_name, headers) => {
    const response = await server.chat(restricted, HELLO, headers)
    expect(response.status).toBe(403)
    expect(await response.json()).toEqual(ORIGIN_NOT_ALLOWED)
    expect(seen).toHaveLength(0)
  })

  it('refuses two Origin headers even when both are allowed', async () => {
    const body = JSON.stringify(HELLO)
    const response = await rawHttp(
      [
        CHAT_LINE,
        'Content-Type: application/json',
        `Content-Length: ${body.length}`,
        `Authorization: Bearer ${restricted}`,
        'Origin: https://example.com',
        'Origin: https://example.com',
      ],
      body,
    )
    expect(response.status).toBe(403)
    expect(JSON.parse(response.body)).toEqual(ORIGIN_NOT_ALLOWED)
  })

  it.each(['https://example.com', 'http://example.com:8080'])('answers a request from the allowed origin %s', async (origin) => {
    const response = await server.chat(restricted, HELLO, { origin })
    expect(response.status).toBe(200)
    expect(seen).toHaveLength(1)
  })

  it('lets a key with no allowed domains be used with or without an Origin', async () => {
    const { key } = await server.createKey()
    expect((await server.chat(key)).status).toBe(200)
    expect((await server.chat(key, HELLO, { origin: 'https://anywhere.test' })).status).toBe(200)
  })

  it('applies the origin check to GET /v1/models', async () => {
    const bad = await call('/v1/models', { headers: { authorization: `Bearer ${restricted}`, origin: 'https://evil.test' } })
    expect(bad.status).toBe(403)
    expect(await bad.json()).toEqual(ORIGIN_NOT_ALLOWED)
  })
})

describe('429: the rate limit', () => {
  it('refuses the third request on a 2 rpm key with Retry-After, retry-after-ms and a message naming the limit', async () => {
    const { key } = await server.createKey({ rate_limit_rpm: 2 })
    const first = await server.chat(key)
    const second = await server.chat(key)
    expect([first.status, second.status]).toEqual([200, 200])
    expect(first.headers.get('x-ratelimit-remaining-requests')).toBe('1')
    expect(second.headers.get('x-ratelimit-remaining-requests')).toBe('0')

    const refused = await server.chat(key)
    expect(refused.status).toBe(429)
    const retryAfter = refused.headers.get('retry-after')
    const retryAfterMs = refused.headers.get('retry-after-ms')
    expect(retryAfter).toMatch(/^\d+$/)
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1)
    expect(Number(retryAfter)).toBeLessThanOrEqual(60)
    expect(retryAfterMs).toMatch(/^\d+$/)
    expect(Number(retryAfter)).toBe(Math.max(1, Math.ceil(Number(retryAfterMs) / 1000)))
    expect(refused.headers.get('x-ratelimit-limit-requests')).toBe('2')
    expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0')
    const error = await errorOf(refused)
    expect(error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' })
    expect(error.message).toContain('2 requests per minute')
    expect(error.message).toContain(`${retryAfter} s`)
    expect(seen).toHaveLength(2)
  })

  it('says "1 request per minute" for a key allowed one', async () => {
    const { key } = await server.createKey({ rate_limit_rpm: 1 })
    expect((await server.chat(key)).status).toBe(200)
    const error = await errorOf(await server.chat(key))
    expect(error.message).toContain('allows 1 request per minute')
  })

  it('puts the rate-limit headers on a success', async () => {
    const { key } = await server.createKey({ rate_limit_rpm: 5 })
    const response = await server.chat(key)
    expect(response.status).toBe(200)
    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('5')
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('4')
    expect(response.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+h)?(\d+m)?\d+(\.\d+)?(ms|s)$/)
    expect(response.headers.get('retry-after')).toBeNull()
  })

  it('follows RATE_LIMIT_RPM for a key without its own limit', async () => {
    const { key } = await server.createKey()
    const response = await server.chat(key)
    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('60')
  })

  it('admits exactly 10 of 60 concurrent requests on a 10 rpm key', async () => {
    const { key } = await server.createKey({ rate_limit_rpm: 10 })
    const statuses = await Promise.all(
      Array.from({ length: 60 }, async () => {
        const response = await server.chat(key)
        await response.arrayBuffer()
        return response.status
      }),
    )
    expect(statuses.filter((status) => status === 200)).toHaveLength(10)
    expect(statuses.filter((status) => status === 429)).toHaveLength(50)
    expect(seen).toHaveLength(10)
  })
})

describe('400 and 413: the body', () => {
  let key: string
  beforeAll(async () => {
    // One key for the whole table; a high limit so the table never meets a 429.
    key = (await server.createKey({ rate_limit_rpm: 1000 })).key
  })

  const message = (content: unknown) => ({ role: 'user', content })

  it.each<[string, string | Uint8Array<ArrayBuffer>, string, string | undefined]>([
    ['invalid JSON', '{"model":', 'invalid_json', undefined],
    ['an empty body', '', 'invalid_json', undefined],
    ['bytes that are not UTF-8', new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), 'invalid_json', undefined],
    ['a JSON array', '[]', 'invalid_body', 'body'],
    ['a missing model', JSON.stringify({ messages: [message('hi')] }), 'invalid_body', 'model'],
    ['an unknown model', JSON.stringify({ model: 'gpt-4o', messages: [message('hi')] }), 'model_not_found', 'model'],
    ['a model that is not a string', JSON.stringify({ model: 1, messages: [message('hi')] }), 'invalid_body', 'model'],
    ['missing messages', JSON.stringify({ model: MODEL }), 'invalid_body', 'messages'],
    ['empty messages', JSON.stringify({ model: MODEL, messages: [] }), 'invalid_body', 'messages'],
    ['messages that are not a list', JSON.stringify({ model: MODEL, messages: 'hi' }), 'invalid_body', 'messages'],
    [
      'more messages than MAX_MESSAGES',
      JSON.stringify({ model: MODEL, messages: [1, 2, 3, 4].map(() => message('hi')) }),
      'invalid_body',
      'messages',
    ],
    [
      'a message longer than MAX_MESSAGE_CHARS',
      JSON.stringify({ model: MODEL, messages: [message('x'.repeat(101))] }),
      'invalid_body',
      'messages[0].content',
    ],
    [
      'a message with an unknown role',
      JSON.stringify({ model: MODEL, messages: [{ role: 'function', content: 'x' }] }),
      'invalid_body',
      'messages[0].role',
    ],
    [
      'a tool message without tool_call_id',
      JSON.stringify({ model: MODEL, messages: [{ role: 'tool', content: 'x' }] }),
      'invalid_body',
      'messages[0].tool_call_id',
    ],
    [
      'tool_call_id on a user message',
      JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x', tool_call_id: 'c1' }] }),
      'invalid_body',
      'messages[0].tool_call_id',
    ],
    [
      'an assistant message with neither content nor tool calls',
      JSON.stringify({ model: MODEL, messages: [{ role: 'assistant', content: null }] }),
      'invalid_body',
      'messages[0].content',
    ],
    [
      'tool calls that are not a list',
      JSON.stringify({ model: MODEL, messages: [{ role: 'assistant', content: null, tool_calls: {} }] }),
      'invalid_body',
      'messages[0].tool_calls',
    ],
    [
      'a tool call without an id',
      JSON.stringify({
        model: MODEL,
        messages: [{ role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{}' } }] }],
      }),
      'invalid_body',
      'messages[0].tool_calls[0].id',
    ],
    [
      'a tool call whose arguments are not text',
      JSON.stringify({
        model: MODEL,
        messages: [{ role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: {} } }] }],
      }),
      'invalid_body',
      'messages[0].tool_calls[0].function.arguments',
    ],
    ['an unknown field', JSON.stringify({ ...HELLO, web_search_options: {} }), 'invalid_body', 'web_search_options'],
    ['an empty tools list', JSON.stringify({ ...HELLO, tools: [] }), 'invalid_body', 'tools'],
    ['a tool that is not a function', JSON.stringify({ ...HELLO, tools: [{ type: 'web_search' }] }), 'invalid_body', 'tools[0]'],
    [
      'a tool with a bad name',
      JSON.stringify({ ...HELLO, tools: [{ type: 'function', function: { name: 'get weather' } }] }),
      'invalid_body',
      'tools[0].function.name',
    ],
    [
      'a tool whose parameters are not an object',
      JSON.stringify({ ...HELLO, tools: [{ type: 'function', function: { name: 'f', parameters: 'x' } }] }),
      'invalid_body',
      'tools[0].function.parameters',
    ],
    [
      'a tool with an unknown field',
      JSON.stringify({ ...HELLO, tools: [{ type: 'function', function: { name: 'f', run: 'rm -rf' } }] }),
      'invalid_body',
      'tools[0].function.run',
    ],
    ['an unknown tool_choice', JSON.stringify({ ...HELLO, tool_choice: 'always' }), 'invalid_body', 'tool_choice'],
    [
      'parallel_tool_calls that is not true or false',
      JSON.stringify({ ...HELLO, parallel_tool_calls: 'yes' }),
      'invalid_body',
      'parallel_tool_calls',
    ],
    ['an unknown response_format', JSON.stringify({ ...HELLO, response_format: { type: 'yaml' } }), 'invalid_body', 'response_format'],
    [
      'a json_schema response_format without a name',
      JSON.stringify({ ...HELLO, response_format: { type: 'json_schema', json_schema: { schema: {} } } }),
      'invalid_body',
      'response_format.json_schema.name',
    ],
    [
      'a json_schema whose schema is not an object',
      JSON.stringify({ ...HELLO, response_format: { type: 'json_schema', json_schema: { name: 'r', schema: [] } } }),
      'invalid_body',
      'response_format.json_schema.schema',
    ],
    // Past the limit the upstream body could not be written at all (JSON.stringify's stack): a 502 before.
    [
      'tool parameters nested deeper than 64 levels',
      JSON.stringify({ ...HELLO, tools: [{ type: 'function', function: { name: 'f', parameters: nested(65) } }] }),
      'invalid_body',
      'tools[0].function.parameters',
    ],
    [
      'a json_schema nested deeper than 64 levels',
      JSON.stringify({ ...HELLO, response_format: { type: 'json_schema', json_schema: { name: 'r', schema: nested(65) } } }),
      'invalid_body',
      'response_format.json_schema.schema',
    ],
    ['logprobs that is not true or false', JSON.stringify({ ...HELLO, logprobs: 1 }), 'invalid_body', 'logprobs'],
    ['top_logprobs over 20', JSON.stringify({ ...HELLO, logprobs: true, top_logprobs: 21 }), 'invalid_body', 'top_logprobs'],
    ['top_logprobs without logprobs', JSON.stringify({ ...HELLO, top_logprobs: 2 }), 'invalid_body', 'top_logprobs'],
    // Names that live on Object.prototype must be as unknown as any other.
    [
      'a __proto__ field',
      `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"__proto__":{"tools":[]}}`,
      'invalid_body',
      '__proto__',
    ],
    ['a constructor field', JSON.stringify({ ...HELLO, constructor: { tools: [] } }), 'invalid_body', 'constructor'],
    ['a toString field', JSON.stringify({ ...HELLO, toString: 1 }), 'invalid_body', 'toString'],
    ['a valueOf field', JSON.stringify({ ...HELLO, valueOf: 1 }), 'invalid_body', 'valueOf'],
    ['a temperature that is a string', JSON.stringify({ ...HELLO, temperature: '1' }), 'invalid_body', 'temperature'],
    ['a temperature out of range', JSON.stringify({ ...HELLO, temperature: 3 }), 'invalid_body', 'temperature'],
    ['a fractional max_tokens', JSON.stringify({ ...HELLO, max_tokens: 1.5 }), 'invalid_body', 'max_tokens'],
    ['a zero max_tokens', JSON.stringify({ ...HELLO, max_tokens: 0 }), 'invalid_body', 'max_tokens'],
    ['a stream that is a string', JSON.stringify({ ...HELLO, stream: 'true' }), 'invalid_body', 'stream'],
  ])('refuses %s with 400', async (_name, body, code, param) => {
    const response = await call('/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body,
    })
    expect(response.status).toBe(400)
    const error = await errorOf(response)
    expect(error.type).toBe('invalid_request_error')
    expect(error.code).toBe(code)
    expect(error.param).toBe(param)
    expect(error.message).toEqual(expect.any(String))
    expect(seen).toHaveLength(0)
  })

  it('names the limits in its messages', async () => {
    const tooMany = await server.chat(key, { model: MODEL, messages: [1, 2, 3, 4].map(() => message('hi')) })
    expect((await errorOf(tooMany)).message).toContain('3')
    const tooLong = await server.chat(key, { model: MODEL, messages: [message('x'.repeat(101))] })
    expect((await errorOf(tooLong)).message).toContain('100')
  })

  it('accepts exactly MAX_MESSAGES messages of exactly MAX_MESSAGE_CHARS characters', async () => {
    const response = await server.chat(key, { model: MODEL, messages: [1, 2, 3].map(() => message('x'.repeat(100))) })
    expect(response.status).toBe(200)
  })

  it('passes on tool parameters and a json_schema nested exactly 64 levels deep', async () => {
    const tools = [{ type: 'function', function: { name: 'f', parameters: nested(64) } }]
    const responseFormat = { type: 'json_schema', json_schema: { name: 'r', schema: nested(64) } }
    const response = await server.chat(key, { ...HELLO, tools, response_format: responseFormat })
    expect(response.status).toBe(200)
    expect(seen[0]!.body.tools).toEqual(tools)
    expect(seen[0]!.body.response_format).toEqual(responseFormat)
  })

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1'])(
    'refuses the content type %s',
    async (type) => {
      const response = await server.chat(key, HELLO, { 'content-type': type })
      expect(response.status).toBe(400)
      const error = await errorOf(response)
      expect(error.code).toBe('invalid_json')
      expect(error.message).toContain('application/json')
    },
  )

  it('answers 413 to a body over MAX_BODY_BYTES sent with a Content-Length', async () => {
    const body = JSON.stringify({ model: MODEL, messages: [message('x'.repeat(3000))] })
    const response = await rawHttp(
      [CHAT_LINE, 'Content-Type: application/json', `Content-Length: ${body.length}`, `Authorization: Bearer ${key}`],
      body,
    )
    expect(response.status).toBe(413)
    expect(JSON.parse(response.body).error).toMatchObject({ type: 'invalid_request_error', code: 'request_too_large' })
    expect(JSON.parse(response.body).error.message).toContain('2048')
  })

  it('answers 413 to a chunked body that grows over MAX_BODY_BYTES', async () => {
    const body = JSON.stringify({ model: MODEL, messages: [message('x'.repeat(3000))] })
    const pieces = body.match(/[^]{1,500}/g)!
    const chunked = pieces.map((piece) => `${piece.length.toString(16)}\r\n${piece}\r\n`).join('') + '0\r\n\r\n'
    const response = await rawHttp(
      [CHAT_LINE, 'Content-Type: application/json', 'Transfer-Encoding: chunked', `Authorization: Bearer ${key}`],
      chunked,
    )
    expect(response.status).toBe(413)
    expect(JSON.parse(response.body).error.code).toBe('request_too_large')
  })

  it('accepts a chunked body within the limit', async () => {
    const body = JSON.stringify(HELLO)
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`
    const response = await rawHttp(
      [CHAT_LINE, 'Content-Type: application/json', 'Transfer-Encoding: chunked', `Authorization: Bearer ${key}`],
      chunked,
    )
    expect(response.status).toBe(200)
  })
})

describe('routes', () => {
  it.each([
    ['GET', '/'],
    ['GET', '/v1/completions'],
    ['POST', '/v1/chat/completions/extra'],
    ['GET', '/widget.js/x'],
  ])('answers %s %s with 404 not_found', async (method, path) => {
    const response = await call(path, { method })
    expect(response.status).toBe(404)
    expect(await errorOf(response)).toMatchObject({ type: 'invalid_request_error', code: 'not_found' })
  })

  it.each<[string, string, string[], string[]]>([
    ['GET', '/v1/chat/completions', ['POST'], ['GET']],
    ['PUT', '/v1/chat/completions', ['POST'], ['PUT']],
    ['POST', '/v1/models', ['GET', 'HEAD'], ['POST']],
    ['DELETE', '/healthz', ['GET', 'HEAD'], ['DELETE']],
    ['POST', '/widget.js', ['GET', 'HEAD'], ['POST']],
  ])('answers %s %s with 405 and an Allow header', async (method, path, allowed, notAllowed) => {
    const response = await call(path, { method })
    expect(response.status).toBe(405)
    expect(await errorOf(response)).toMatchObject({ type: 'invalid_request_error', code: 'method_not_allowed' })
    const allow = response.headers.get('allow')!.split(/\s*,\s*/)
    for (const name of allowed) expect(allow).toContain(name)
    for (const name of notAllowed) expect(allow).not.toContain(name)
  })

  it('answers GET /healthz with 200 ok and HEAD /healthz with 200 and no body', async () => {
    const get = await call('/healthz')
    expect(get.status).toBe(200)
    expect(await get.json()).toEqual({ status: 'ok' })
    const head = await call('/healthz', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
  })

  it('lists the public model on GET /v1/models for a valid key', async () => {
    const { key } = await server.createKey()
    const response = await call('/v1/models', { headers: { authorization: `Bearer ${key}` } })
    expect(response.status).toBe(200)
    const body = await response.json()
    expect(body.object).toBe('list')
    expect(body.data.map((model: { id: string }) => model.id)).toEqual([MODEL])
  })

  it('answers GET /v1/models/assisters-chat-v1 with the model, and 404 model_not_found for any other id', async () => {
    const { key } = await server.createKey()
    const headers = { authorization: `Bearer ${key}` }
    const found = await call(`/v1/models/${MODEL}`, { headers })
    expect(found.status).toBe(200)
    expect(await found.json()).toEqual({ id: MODEL, object: 'model', created: expect.any(Number), owned_by: 'assisters' })
    for (const id of ['gpt-4o', '', 'assisters-chat-v1/x']) {
      const missing = await call(`/v1/models/${id}`, { headers })
      expect(missing.status).toBe(404)
      expect(await errorOf(missing)).toMatchObject({ type: 'invalid_request_error', code: 'model_not_found', param: 'model' })
    }
    expect((await call(`/v1/models/${MODEL}`)).status).toBe(401)
  })

  it("counts GET /v1/models against the key's rate limit, with the rate-limit headers", async () => {
    const { key } = await server.createKey({ rate_limit_rpm: 2 })
    const headers = { authorization: `Bearer ${key}` }
    const first = await call('/v1/models', { headers })
    expect(first.headers.get('x-ratelimit-limit-requests')).toBe('2')
    expect(first.headers.get('x-ratelimit-remaining-requests')).toBe('1')
    expect((await call('/v1/models', { headers })).status).toBe(200)
    const third = await call('/v1/models', { headers })
    expect(third.status).toBe(429)
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
  })
})

describe('GET /v1/key: the check the widget makes on opening', () => {
  const ORIGIN = 'https://shop.example'
  const check = (key: string | undefined, origin = ORIGIN, method = 'GET') =>
    call('/v1/key', { method, headers: { origin, ...(key && { authorization: `Bearer ${key}` }) } })

  it('answers 200 {"ok":true}, never cached, readable cross-origin, with nothing of the key in it', async () => {
    const { key, id } = await server.createKey({ allowed_domains: ['shop.example'] })
    const response = await check(key)
    expect(response.status).toBe(200)
    const text = await response.text()
    expect(JSON.parse(text)).toEqual({ ok: true })
    expect(text).not.toContain(id)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.headers.get('access-control-allow-origin')).toBe(ORIGIN)
    // Its own window is no business of a chat client's: no x-ratelimit headers.
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBeNull()
  })

  it("answers the contract's exact 401 to a missing, malformed or revoked key, and 403 to an origin the key does not allow", async () => {
    const { key } = await server.createKey({ allowed_domains: ['shop.example'] })
    const revoked = await server.createKey()
    expect((await server.admin('POST', `/admin/keys/${revoked.id}/revoke`)).status).toBe(200)
    for (const bad of [undefined, 'ask_nope', revoked.key]) {
      const response = await check(bad, 'https://evil.test')
      expect(response.status).toBe(401)
      expect(await response.json()).toEqual(INVALID_KEY)
    }
    for (const origin of ['https://evil.test', 'null']) {
      const response = await check(key, origin)
      expect(response.status).toBe(403)
      expect(await response.json()).toEqual(ORIGIN_NOT_ALLOWED)
      expect(response.headers.get('access-control-allow-origin')).toBe(origin)
    }
  })

  it("spends nothing of the key's chat limit", async () => {
    const { key } = await server.createKey({ rate_limit_rpm: 2 })
    for (let i = 0; i < 2; i++) expect((await check(key)).status).toBe(200)
    const chats = [await server.chat(key), await server.chat(key)]
    expect(chats.map((response) => response.status)).toEqual([200, 200])
    expect(chats[1]!.headers.get('x-ratelimit-remaining-requests')).toBe('0')
  })

  it('has a window of its own, as large as the chat limit: over it, 429 with Retry-After, and chat still answers', async () => {
    const { key } = await server.createKey({ rate_limit_rpm: 2 })
    for (let i = 0; i < 2; i++) expect((await check(key)).status).toBe(200)
    const refused = await check(key)
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(refused.headers.get('retry-after-ms')).toMatch(/^\d+$/)
    expect(refused.headers.get('x-ratelimit-limit-requests')).toBeNull()
    const error = await errorOf(refused)
    expect(error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' })
    expect(error.message).toContain('Too many key checks: this key allows 2 per minute')
    expect((await server.chat(key)).status).toBe(200)
  })

  it('counts only checks it answered: refused origins cost the window nothing', async () => {
    const { key } = await server.createKey({ rate_limit_rpm: 1, allowed_domains: ['shop.example'] })
    for (let i = 0; i < 3; i++) expect((await check(key, 'https://evil.test')).status).toBe(403)
    expect((await check(key)).status).toBe(200)
  })

  it('answers a preflight with 204 allowing GET and the Authorization header, HEAD with no body, and 405 to POST', async () => {
    const preflight = await call('/v1/key', {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-methods')!.split(/\s*,\s*/)).toContain('GET')
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization')
    const { key } = await server.createKey()
    const head = await check(key, ORIGIN, 'HEAD')
    expect([head.status, await head.text()]).toEqual([200, ''])
    const post = await check(key, ORIGIN, 'POST')
    expect(post.status).toBe(405)
    expect(
      post.headers
        .get('allow')!
        .split(/\s*,\s*/)
        .sort(),
    ).toEqual(['GET', 'HEAD', 'OPTIONS'])
  })
})

describe('CORS', () => {
  const ORIGIN = 'https://site.example'

  /** Every case returns a response to a request sent with Origin: ORIGIN. */
  it.each<[string, number, () => Promise<Response>]>([
    ['a success', 200, async () => server.chat((await server.createKey()).key, HELLO, { origin: ORIGIN })],
    ['a 401', 401, async () => server.chat(undefined, HELLO, { origin: ORIGIN })],
    ['a 403', 403, async () => server.chat((await server.createKey({ allowed_domains: ['example.com'] })).key, HELLO, { origin: ORIGIN })],
    [
      'a 429',
      429,
      async () => {
        const { key } = await server.createKey({ rate_limit_rpm: 1 })
        await (await server.chat(key, HELLO, { origin: ORIGIN })).arrayBuffer()
        return server.chat(key, HELLO, { origin: ORIGIN })
      },
    ],
    ['a 400', 400, async () => server.chat((await server.createKey()).key, '{', { origin: ORIGIN })],
    ['a 404', 404, () => call('/nowhere', { headers: { origin: ORIGIN } })],
    ['a 405', 405, () => call('/healthz', { method: 'POST', headers: { origin: ORIGIN } })],
    [
      'GET /v1/models',
      200,
      async () => call('/v1/models', { headers: { origin: ORIGIN, authorization: `Bearer ${(await server.createKey()).key}` } }),
    ],
    ['GET /healthz', 200, () => call('/healthz', { headers: { origin: ORIGIN } })],
  ])('echoes the origin on %s with Vary: Origin and the exposed headers', async (_name, status, send) => {
    const response = await send()
    expect(response.status).toBe(status)
    expect(response.headers.get('access-control-allow-origin')).toBe(ORIGIN)
    expect(
      response.headers
        .get('vary')!
        .toLowerCase()
        .split(/\s*,\s*/),
    ).toContain('origin')
    const exposed = response.headers
      .get('access-control-expose-headers')!
      .toLowerCase()
      .split(/\s*,\s*/)
    for (const name of [
      'x-ratelimit-limit-requests',
      'x-ratelimit-remaining-requests',
      'x-ratelimit-reset-requests',
      'retry-after',
      'retry-after-ms',
    ]) {
      expect(exposed).toContain(name)
    }
    expect(response.headers.get('access-control-allow-credentials')).toBeNull()
  })

  it('grants nothing to a request without an Origin', async () => {
    const response = await call('/healthz')
    expect(response.headers.get('access-control-allow-origin')).toBeNull()
    expect(response.headers.get('access-control-allow-credentials')).toBeNull()
  })

  it.each(['https://any.example', 'http://localhost:3000', 'https://evil.test'])(
    'answers a preflight from %s with 204, no key needed',
    async (origin) => {
      const response = await call('/v1/chat/completions', {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type, x-custom',
        },
      })
      expect(response.status).toBe(204)
      expect(await response.text()).toBe('')
      expect(response.headers.get('access-control-allow-origin')).toBe(origin)
      expect(response.headers.get('access-control-allow-methods')!.split(/\s*,\s*/)).toContain('POST')
      expect(
        response.headers
          .get('access-control-allow-headers')!
          .toLowerCase()
          .split(/\s*,\s*/),
      ).toEqual(expect.arrayContaining(['authorization', 'content-type', 'x-custom']))
      expect(response.headers.get('access-control-max-age')).toBe('7200')
      expect(response.headers.get('vary')!.toLowerCase()).toContain('origin')
      expect(response.headers.get('access-control-allow-credentials')).toBeNull()
    },
  )

  it.each(['/v1/models', '/widget.js', '/healthz'])('answers a preflight to %s with 204', async (path) => {
    const response = await call(path, {
      method: 'OPTIONS',
      headers: { origin: 'https://any.example', 'access-control-request-method': 'GET' },
    })
    expect(response.status).toBe(204)
    expect(response.headers.get('access-control-allow-origin')).toBe('https://any.example')
  })
})

describe('Vary', () => {
  const ORIGIN = 'https://site.example'
  const varied = (response: Response) =>
    response.headers
      .get('vary')!
      .toLowerCase()
      .split(/\s*,\s*/)
  const widget = (headers: Record<string, string> = {}) => call('/widget.js', { headers: { origin: ORIGIN, ...headers } })

  // Added to, never replaced: a shared cache must not hand one site's answer (and its
  // Access-Control-Allow-Origin) to another, nor a brotli body to a client that cannot read it.
  it('keeps Origin on /widget.js next to Accept-Encoding, on its 404, its 200 in every encoding and its 304', async () => {
    const missing = await widget()
    expect(missing.status).toBe(404)
    expect(varied(missing)).toContain('origin')
    writeFileSync(widgetPath, 'console.log("vary")\n')
    try {
      for (const encoding of ['br', 'gzip', 'identity']) {
        const served = await widget({ 'accept-encoding': encoding })
        expect(served.status).toBe(200)
        expect(varied(served)).toEqual(['origin', 'accept-encoding'])
        const cached = await widget({ 'accept-encoding': encoding, 'if-none-match': served.headers.get('etag')! })
        expect(cached.status).toBe(304)
        expect(varied(cached)).toEqual(['origin', 'accept-encoding'])
        expect(cached.headers.get('access-control-allow-origin')).toBe(ORIGIN)
      }
    } finally {
      rmSync(widgetPath)
    }
  })

  it.each<[string, number, () => Promise<Response>]>([
    ['a chat answer', 200, async () => server.chat((await server.createKey()).key, HELLO, { origin: ORIGIN })],
    [
      'a streamed chat answer',
      200,
      async () => server.chat((await server.createKey()).key, { ...HELLO, stream: true }, { origin: ORIGIN }),
    ],
    ['a 401', 401, () => server.chat(undefined, HELLO, { origin: ORIGIN })],
    ['a 403', 403, async () => server.chat((await server.createKey({ allowed_domains: ['example.com'] })).key, HELLO, { origin: ORIGIN })],
    ['a 400', 400, async () => server.chat((await server.createKey()).key, '{', { origin: ORIGIN })],
    ['a 413', 413, async () => server.chat((await server.createKey()).key, 'x'.repeat(3000), { origin: ORIGIN })],
    ['a 404', 404, () => call('/nowhere', { headers: { origin: ORIGIN } })],
    ['a 405', 405, () => call('/v1/models', { method: 'POST', headers: { origin: ORIGIN } })],
    [
      'GET /v1/models',
      200,
      async () => call('/v1/models', { headers: { origin: ORIGIN, authorization: `Bearer ${(await server.createKey()).key}` } }),
    ],
    [
      'GET /v1/models/{id}',
      200,
      async () => call(`/v1/models/${MODEL}`, { headers: { origin: ORIGIN, authorization: `Bearer ${(await server.createKey()).key}` } }),
    ],
    [
      'GET /v1/models/{id} for an unknown id',
      404,
      async () => call('/v1/models/gpt-4', { headers: { origin: ORIGIN, authorization: `Bearer ${(await server.createKey()).key}` } }),
    ],
    ['GET /healthz', 200, () => call('/healthz', { headers: { origin: ORIGIN } })],
    [
      'a preflight',
      204,
      () => call('/v1/chat/completions', { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'POST' } }),
    ],
  ])('names Origin in Vary on %s', async (_name, status, send) => {
    const response = await send()
    expect(response.status).toBe(status)
    expect(response.headers.get('access-control-allow-origin')).toBe(ORIGIN)
    expect(varied(response)).toContain('origin')
    await response.arrayBuffer()
  })
})

describe('the server-side policy as the upstream sees it', () => {
  let key: string
  beforeAll(async () => {
    key = (await server.createKey({ rate_limit_rpm: 1000 })).key
  })

  it('maps the public model to UPSTREAM_MODEL and authenticates with the upstream key', async () => {
    expect((await server.chat(key)).status).toBe(200)
    expect(seen).toHaveLength(1)
    expect(seen[0]!.body.model).toBe('upstream-model')
    expect(seen[0]!.authorization).toBe(`Bearer ${UPSTREAM_KEY}`)
    expect(seen[0]!.body.messages).toEqual([{ role: 'user', content: 'Hello' }])
  })

  it.each<[string, Record<string, number>, number]>([
    ['sets max_tokens to MAX_OUTPUT_TOKENS when absent', {}, 256],
    ['keeps a smaller max_tokens', { max_tokens: 10 }, 10],
    ['caps a larger max_tokens', { max_tokens: 100_000 }, 256],
    ['folds max_completion_tokens into max_tokens', { max_completion_tokens: 20 }, 20],
    ['caps max_completion_tokens too', { max_completion_tokens: 5000 }, 256],
  ])('%s', async (_name, fields, expected) => {
    expect((await server.chat(key, { ...HELLO, ...fields })).status).toBe(200)
    expect(seen[0]!.body.max_tokens).toBe(expected)
    expect(seen[0]!.body).not.toHaveProperty('max_completion_tokens')
  })

  it('takes an optional parameter sent as null as not sent, as OpenAI does', async () => {
    const optional = [
      'max_tokens',
      'max_completion_tokens',
      'temperature',
      'top_p',
      'presence_penalty',
      'frequency_penalty',
      'stop',
      'seed',
      'n',
      'stream',
      'stream_options',
      'logprobs',
      'top_logprobs',
      'user',
      'tools',
      'tool_choice',
      'parallel_tool_calls',
      'response_format',
    ]
    const response = await server.chat(key, { ...HELLO, ...Object.fromEntries(optional.map((field) => [field, null])) })
    expect(response.status).toBe(200)
    expect(seen[0]!.body.max_tokens).toBe(256)
    expect(seen[0]!.body.user).toEqual(expect.any(String))
    for (const field of optional.filter((name) => name !== 'max_tokens' && name !== 'user')) expect(seen[0]!.body).not.toHaveProperty(field)
    // model and messages are required: null is no answer to them.
    for (const field of ['model', 'messages']) {
      const refused = await server.chat(key, { ...HELLO, [field]: null })
      expect(refused.status).toBe(400)
      expect((await errorOf(refused)).param).toBe(field)
    }
  })

  it("prepends the key's instructions as the first system message", async () => {
    const { key: instructed } = await server.createKey({ instructions: 'Answer in French.' })
    const messages = [
      { role: 'system', content: 'From the page' },
      { role: 'user', content: 'Hello' },
    ]
    expect((await server.chat(instructed, { model: MODEL, messages })).status).toBe(200)
    expect(seen[0]!.body.messages).toEqual([{ role: 'system', content: 'Answer in French.' }, ...messages])
  })

  it('forwards a developer message as a system message, which every compatible upstream knows', async () => {
    const messages = [
      { role: 'developer', content: 'Be brief.' },
      { role: 'user', content: 'Hello' },
    ]
    expect((await server.chat(key, { model: MODEL, messages })).status).toBe(200)
    expect(seen[0]!.body.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello' },
    ])
  })

  it('relays tools, tool_choice, parallel_tool_calls, earlier tool calls and their results, response_format and logprobs', async () => {
    const tools = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Weather in a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
          strict: true,
        },
      },
    ]
    const responseFormat = { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' }, strict: true } }
    const messages = [
      { role: 'user', content: 'Weather in Paris?' },
      // As a client built it from streamed deltas: the index is not the upstream's business.
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
    ]
    const fields = {
      tools,
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
      response_format: responseFormat,
      logprobs: true,
      top_logprobs: 3,
    }
    expect((await server.chat(key, { model: MODEL, messages, ...fields })).status).toBe(200)
    expect(seen[0]!.body).toMatchObject(fields)
    expect(seen[0]!.body.messages).toEqual([
      messages[0],
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
      },
      messages[2],
    ])
  })

  it.each(['none', 'auto', 'required'])('relays tool_choice %s and a json_object response_format', async (choice) => {
    const tools = [{ type: 'function', function: { name: 'f' } }]
    expect((await server.chat(key, { ...HELLO, tools, tool_choice: choice, response_format: { type: 'json_object' } })).status).toBe(200)
    expect(seen[0]!.body).toMatchObject({ tool_choice: choice, response_format: { type: 'json_object' } })
  })

  it('asks a streaming upstream for usage', async () => {
    const response = await server.chat(key, { ...HELLO, stream: true })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('1000')
    await response.text()
    expect(seen[0]!.body.stream).toBe(true)
    expect(seen[0]!.body.stream_options).toEqual({ include_usage: true })
  })

  it('never sends the upstream key or the visitor key to the client', async () => {
    const response = await server.chat(key)
    const text = JSON.stringify([...response.headers]) + (await response.text())
    expect(text).not.toContain(UPSTREAM_KEY)
    expect(text).not.toContain(key)
  })
})

describe('GET /widget.js', () => {
  // In order: the file does not exist until the second test writes it.
  it('answers 404 with a message that says how to build it while the file is missing', async () => {
    const response = await call('/widget.js')
    expect(response.status).toBe(404)
    const error = await errorOf(response)
    expect(error.code).toBe('not_found')
    expect(error.message).toMatch(/npm run build/)
  })

  it('serves the file as JavaScript with an ETag and a short max-age once it exists', async () => {
    writeFileSync(widgetPath, 'console.log("widget v1")\n')
    const response = await call('/widget.js')
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/javascript/)
    expect(await response.text()).toBe('console.log("widget v1")\n')
    expect(response.headers.get('etag')).toMatch(/^"[^"]+"$/)
    const maxAge = Number(/max-age=(\d+)/.exec(response.headers.get('cache-control') ?? '')?.[1])
    expect(maxAge).toBeGreaterThan(0)
    expect(maxAge).toBeLessThanOrEqual(3600)
  })

  it('answers 304 to If-None-Match with the current ETag, and 200 to a stale one', async () => {
    const etag = (await call('/widget.js')).headers.get('etag')!
    const notModified = await call('/widget.js', { headers: { 'if-none-match': etag } })
    expect(notModified.status).toBe(304)
    expect(notModified.headers.get('etag')).toBe(etag)
    expect(await notModified.text()).toBe('')
    const stale = await call('/widget.js', { headers: { 'if-none-match': '"stale"' } })
    expect(stale.status).toBe(200)
  })

  it.each<[string, (etag: string) => string]>([
    ['a list holding the current ETag', (etag) => `"old", ${etag}`],
    ['the weak form a compressing proxy sends back', (etag) => `W/${etag}`],
    ['*', () => '*'],
  ])('answers 304 to If-None-Match with %s', async (_name, header) => {
    const etag = (await call('/widget.js')).headers.get('etag')!
    const response = await call('/widget.js', { headers: { 'if-none-match': header(etag) } })
    expect(response.status).toBe(304)
  })

  it('gives a changed file a new ETag and serves the new content', async () => {
    const before = (await call('/widget.js')).headers.get('etag')!
    writeFileSync(widgetPath, 'console.log("widget v2, rebuilt")\n')
    const after = await call('/widget.js', { headers: { 'if-none-match': before } })
    expect(after.status).toBe(200)
    expect(after.headers.get('etag')).not.toBe(before)
    expect(await after.text()).toBe('console.log("widget v2, rebuilt")\n')
  })

  it('answers HEAD with the headers and no body', async () => {
    const response = await call('/widget.js', { method: 'HEAD' })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/javascript/)
    expect(await response.text()).toBe('')
  })

  describe('compression', () => {
    // fetch would ask for and undo compression itself; node:http shows what goes over the wire.
    const get = (headers: Record<string, string>, method = 'GET') =>
      new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
        const req = request(`${server.url}/widget.js`, { method, headers }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
        })
        req.on('error', reject).end()
      })
    const script = `console.log(${JSON.stringify('a widget that compresses well '.repeat(200))})\n`
    beforeAll(() => writeFileSync(widgetPath, script))

    it.each<[string, string | undefined, string | undefined, (body: Buffer) => Buffer]>([
      ['brotli when offered', 'gzip, deflate, br', 'br', brotliDecompressSync],
      ['gzip when brotli is not offered', 'gzip, deflate', 'gzip', gunzipSync],
      ['gzip when brotli is refused with q=0', 'br;q=0, gzip', 'gzip', gunzipSync],
      ['gzip to a wildcard that refuses brotli', 'br;q=0, *', 'gzip', gunzipSync],
      ['the file as it is without Accept-Encoding', undefined, undefined, (body) => body],
      ['the file as it is to identity only', 'identity', undefined, (body) => body],
    ])('sends %s', async (_, accept, encoding, decode) => {
      const response = await get(accept === undefined ? {} : { 'accept-encoding': accept })
      expect(response.status).toBe(200)
      expect(response.headers['content-encoding']).toBe(encoding)
      expect(response.headers.vary).toBe('Origin, Accept-Encoding')
      expect(Number(response.headers['content-length'])).toBe(response.body.length)
      expect(decode(response.body).toString()).toBe(script)
      if (encoding) expect(response.body.length).toBeLessThan(script.length / 5)
    })

    it('gives each encoding its own ETag, and 304 only for the one it serves', async () => {
      const br = await get({ 'accept-encoding': 'br' })
      const gz = await get({ 'accept-encoding': 'gzip' })
      expect(br.headers.etag).not.toBe(gz.headers.etag)
      expect((await get({ 'accept-encoding': 'br', 'if-none-match': br.headers.etag! })).status).toBe(304)
      expect((await get({ 'accept-encoding': 'gzip', 'if-none-match': br.headers.etag! })).status).toBe(200)
    })

    it('answers HEAD with the compressed length and no body', async () => {
      const full = await get({ 'accept-encoding': 'br' })
      const head = await get({ 'accept-encoding': 'br' }, 'HEAD')
      expect(head.headers['content-length']).toBe(String(full.body.length))
      expect(head.body.length).toBe(0)
    })
  })
})

// After GET /widget.js, whose first test needs the loader missing.
describe('GET /panel-<hash>.js', () => {
  const name = 'panel-0123456789.js'
  beforeAll(() => writeFileSync(join(widgetDir, name), 'console.log("panel")\n'))

  it('serves a panel file from next to the loader, cached for a year as immutable, readable cross-origin for its integrity check', async () => {
    const response = await call(`/${name}`, { headers: { origin: 'https://shop.example' } })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/javascript/)
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(response.headers.get('access-control-allow-origin')).toBe('https://shop.example')
    expect(response.headers.get('etag')).toMatch(/^"[^"]+"$/)
    expect(await response.text()).toBe('console.log("panel")\n')
  })

  it('serves a language table as JSON, cached for a year', async () => {
    writeFileSync(join(widgetDir, 'panel-ar-0123456789.json'), '{"dir":"rtl"}')
    const response = await call('/panel-ar-0123456789.json', { headers: { origin: 'https://shop.example' } })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/json')
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(response.headers.get('access-control-allow-origin')).toBe('https://shop.example')
    expect(await response.json()).toEqual({ dir: 'rtl' })
  })

  it('serves the answers file as a script, cached for a year', async () => {
    writeFileSync(join(widgetDir, 'panel-answers-0123456789.js'), 'console.log("answers")\n')
    const response = await call('/panel-answers-0123456789.js', { headers: { origin: 'https://shop.example' } })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/javascript/)
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(response.headers.get('access-control-allow-origin')).toBe('https://shop.example')
    expect(await response.text()).toBe('console.log("answers")\n')
  })

  it('keeps the loader on its short cache', async () => {
    writeFileSync(widgetPath, 'console.log("loader")\n')
    expect((await call('/widget.js')).headers.get('cache-control')).toBe('public, max-age=300')
  })

  it('answers HEAD with the headers and no body, and 405 to POST', async () => {
    const head = await call(`/${name}`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
    const post = await call(`/${name}`, { method: 'POST' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD, OPTIONS')
  })

  it.each([
    ['a hash no build made', '/panel-abcdef0123.js'],
    ['upper-case hex', '/panel-0123456789.JS'],
    ['a short hash', '/panel-0123.js'],
    ['a path below the file', `/${name}/x`],
    ['an escaped climb out of the folder', '/panel-%2e%2e%2f%2e%2e.js'],
    ['a climb out of the folder', '/panel-../../etc/passwd'],
    ['another file in the folder', '/widget.js.map'],
    ['a language table as a script', '/panel-ar-0123456789.js'],
    ['the panel as JSON', '/panel-0123456789.json'],
    ['a language name of three letters', '/panel-ara-0123456789.json'],
    ["the answers' file as JSON", '/panel-answers-0123456789.json'],
    ['another name before the hash', '/panel-markup-0123456789.js'],
  ])('answers 404 not_found for %s', async (_, path) => {
    const response = await call(path)
    expect(response.status).toBe(404)
    expect(await errorOf(response)).toMatchObject({ code: 'not_found' })
  })
})
