/**
 * Test harness: the real server on a real socket (port 0) with a real SQLite file in a temporary
 * folder (or, with TEST_STORE=postgres, a fresh PostgreSQL database), msw standing in for the
 * upstream model API at UPSTREAM_BASE_URL, and small helpers for the admin API and chat requests.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { http, HttpResponse } from 'msw'
import { setupServer } from 'msw/node'
import { loadConfig } from '../../server/config.ts'
import { createLogger } from '../../server/log.ts'
import { createAppServer, type AppServer, type AppServerOptions } from '../../server/server.ts'
import { sleep } from '../support/sleep.ts'

export const ADMIN_TOKEN = 'test-admin-token-0123456789'
export const UPSTREAM_KEY = 'sk-upstream-secret-do-not-leak'
export const UPSTREAM_URL = 'http://upstream.test/v1/chat/completions'
export const MODEL = 'assisters-chat-v1'

/** The engine the server tests run on: SQLite, or PostgreSQL in the server-postgres project (vite.config.ts). */
export const TEST_STORE: 'sqlite' | 'postgres' = process.env.TEST_STORE === 'postgres' ? 'postgres' : 'sqlite'

/** A fresh, empty database on TEST_STORE's engine: a file in `dir`, or a new PostgreSQL database that `drop` removes. */
export async function freshDatabase(dir: string, file = 'test.db'): Promise<{ url: string; drop(): Promise<void> }> {
  if (TEST_STORE === 'sqlite') return { url: `sqlite:${join(dir, file)}`, drop: async () => {} }
  // Imported only here: the SQLite runs never look for PostgreSQL.
  const { createTestDatabase } = await import('../support/postgres.ts')
  return createTestDatabase()
}

/** msw for the upstream only; requests to the server under test (loopback) pass through. */
export function createUpstreamMock() {
  const mock = setupServer()
  return {
    mock,
    listen: () =>
      mock.listen({
        onUnhandledRequest(request, print) {
          const host = new URL(request.url).hostname
          if (host !== '127.0.0.1' && host !== 'localhost') print.error()
        },
      }),
  }
}

/** A streaming upstream body: each string becomes one `data:` event, then `[DONE]`. */
export function sseEvents(chunks: unknown[], options: { done?: boolean } = {}) {
  const lines = chunks.map((chunk) => `data: ${typeof chunk === 'string' ? chunk : JSON.stringify(chunk)}\n\n`)
  if (options.done !== false) lines.push('data: [DONE]\n\n')
  return lines.join('')
}

/** An OpenAI chat.completion.chunk carrying one piece of text. */
export const deltaChunk = (content: string) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'upstream-model',
  choices: [{ index: 0, delta: { content }, finish_reason: null }],
})

/** The usage chunk an upstream sends last when asked with stream_options.include_usage. */
export const usageChunk = (prompt: number, completion: number) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'upstream-model',
  choices: [],
  usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
})

/** A non-streaming OpenAI chat.completion answer. */
export const completion = (content: string, usage = { prompt_tokens: 5, completion_tokens: 7 }) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'upstream-model',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
})

/** An upstream handler answering every chat request with this JSON. */
export const answerJson = (body: Record<string, unknown>) => http.post(UPSTREAM_URL, () => HttpResponse.json(body))

export interface TestServer {
  url: string
  dir: string
  /** Every log line written so far, as text. */
  logs: string[]
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }>
  /** Creates an account and a key on it; returns the full key and its record. */
  createKey(fields?: Record<string, unknown>, accountId?: string): Promise<{ key: string; id: string; accountId: string; record: any }>
  /** POST /v1/chat/completions with a key (and by default a JSON body for the public model). */
  chat(key: string | undefined, body?: unknown, headers?: Record<string, string>): Promise<Response>
  close(): Promise<void>
}

/**
 * Starts the real server with test settings; `env` overrides them (an empty string unsets one).
 * `client.headers` go on every request its helpers send: `{ connection: 'close' }` leaves no pooled
 * connection behind, for tests that count open sockets.
 */
export async function startServer(
  env: Record<string, string> = {},
  options: Partial<AppServerOptions> = {},
  client: { headers?: Record<string, string> } = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'assisters-test-'))
  const logs: string[] = []
  // A test that names its own DATABASE_URL keeps it; the others get a fresh one on TEST_STORE's engine.
  const database = env.DATABASE_URL === undefined ? await freshDatabase(dir) : undefined
  const config = loadConfig({
    PORT: '0',
    DATABASE_URL: database?.url,
    ADMIN_TOKEN,
    UPSTREAM_BASE_URL: 'http://upstream.test/v1',
    UPSTREAM_MODEL: 'upstream-model',
    UPSTREAM_API_KEY: UPSTREAM_KEY,
    ...env,
  })
  const log = createLogger({ write: (line) => logs.push(line), secrets: [UPSTREAM_KEY, ADMIN_TOKEN] })
  let app: AppServer | undefined
  let url: string
  try {
    app = await createAppServer(config, { log, graceMs: 2000, ...options })
    url = await app.listen()
  } catch (err) {
    await app?.close()
    await database?.drop()
    throw err
  }
  const server = app

  const admin: TestServer['admin'] = async (method, path, body) => {
    const response = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...client.headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await response.text()
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers }
  }

  return {
    url,
    dir,
    logs,
    admin,
    async createKey(fields = {}, accountId) {
      const account = accountId ?? (await admin('POST', '/admin/accounts', { name: 'Test account' })).body.id
      const created = await admin('POST', `/admin/accounts/${account}/keys`, { name: 'Test key', ...fields })
      if (created.status !== 201) throw new Error(`key creation failed: ${JSON.stringify(created.body)}`)
      return { key: created.body.key, id: created.body.id, accountId: account, record: created.body }
    },
    chat(key, body = { model: MODEL, messages: [{ role: 'user', content: 'Hello' }] }, headers = {}) {
      return fetch(url + '/v1/chat/completions', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...client.headers,
          ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
          ...headers,
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      })
    },
    async close() {
      await server.close()
      await database?.drop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A promise with its resolve function outside, for upstreams that wait on the test. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((done) => (resolve = done))
  return { promise, resolve }
}

/** Rejects with `what` if the promise has not settled within `ms`, so a hang fails loudly. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

/**
 * Reads our server's event stream as it arrives: `next()` gives the next event's text (the lines
 * between blank lines, e.g. `data: {…}` or `: ping`), undefined at the end; `rest()` the remainder.
 */
export function eventReader(response: Response) {
  if (!response.body) throw new Error('response has no body')
  const reader = response.body.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  let ended = false
  const next = async (): Promise<string | undefined> => {
    for (;;) {
      const end = buffer.indexOf('\n\n')
      if (end !== -1) {
        const event = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        return event
      }
      if (ended) {
        if (buffer) throw new Error(`stream ended inside an event: ${JSON.stringify(buffer)}`)
        return undefined
      }
      const chunk = await reader.read()
      if (chunk.done) ended = true
      else buffer += decoder.decode(chunk.value, { stream: true })
    }
  }
  const rest = async () => {
    const events: string[] = []
    for (let event = await next(); event !== undefined; event = await next()) events.push(event)
    return events
  }
  return { next, rest, cancel: () => reader.cancel() }
}

/** The parsed JSON of a `data:` event (not a comment, not `[DONE]`). */
export function eventData(event: string | undefined): any {
  if (!event?.startsWith('data: ')) throw new Error(`not a data event: ${JSON.stringify(event)}`)
  return JSON.parse(event.slice(6))
}

/** The repository root, where npm scripts run. */
export const ROOT = new URL('../../', import.meta.url).pathname

/** Runs a real command in the repository with extra environment; a child still running after `timeoutMs` is killed (code null). */
export function runCommand(command: string, args: string[], env: Record<string, string> = {}, timeoutMs = 15_000) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, timeout: timeoutMs })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** Open timers and TCP sockets of this process, as `process.getActiveResourcesInfo()` counts them (ref'd ones only). */
export function resourceCounts() {
  const counts = { Timeout: 0, TCPSocketWrap: 0 }
  for (const kind of process.getActiveResourcesInfo()) if (kind in counts) counts[kind as keyof typeof counts]++
  return counts
}

/**
 * Polls until `check` holds or `ms` pass; returns its last value. Unlike vi.waitFor, it holds no
 * timer while `read` runs, so it can read resourceCounts().
 */
export async function eventually<T>(read: () => T, check: (value: T) => boolean, ms = 1000): Promise<T> {
  const deadline = Date.now() + ms
  let value = read()
  while (!check(value) && Date.now() < deadline) {
    await sleep(10)
    value = read()
  }
  return value
}
