import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { http, HttpResponse } from 'msw'
import { UPSTREAM_URL, completion, createUpstreamMock, deltaChunk, sseEvents, startServer, usageChunk, type TestServer } from './harness.ts'

const upstream = createUpstreamMock()
let server: TestServer
beforeAll(async () => {
  upstream.listen()
  server = await startServer()
})
afterEach(() => upstream.mock.resetHandlers())
afterAll(async () => {
  await server.close()
  upstream.mock.close()
})

describe('smoke', () => {
  it('relays a completion', async () => {
    upstream.mock.use(http.post(UPSTREAM_URL, () => HttpResponse.json(completion('Hi!'))))
    const { key } = await server.createKey()
    const response = await server.chat(key)
    expect(response.status).toBe(200)
    expect((await response.json()).choices[0].message.content).toBe('Hi!')
  })

  it('relays a stream', async () => {
    upstream.mock.use(http.post(UPSTREAM_URL, () => new HttpResponse(sseEvents([deltaChunk('a'), deltaChunk('b'), usageChunk(1, 2)]), { headers: { 'content-type': 'text/event-stream' } })))
    const { key } = await server.createKey()
    const response = await server.chat(key, { model: 'assisters-chat-v1', stream: true, messages: [{ role: 'user', content: 'x' }] })
    const text = await response.text()
    expect(text).toContain('"content":"a"')
    expect(text).not.toContain('usage')
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true)
  })
})
