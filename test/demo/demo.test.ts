/**
 * The demo's parts without a browser: the account it makes once and reuses, the site's routes and
 * headers, the stale-widget check, and `npm start` itself as a real process on free ports.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { demoStatePath, prepareDemoAccount } from '../../demo/demo-account.ts'
import { widgetIsStale } from '../../demo/build-widget.ts'
import { loadDemoSettings, startDemo, startFailure } from '../../demo/demo.ts'
import { embedSnippet, startDemoSite } from '../../demo/site.ts'
import { ConfigError } from '../../server/config.ts'
import { createLogger } from '../../server/log.ts'
import { hashKey } from '../../server/keys.ts'
import { openSqliteStore } from '../../server/store/sqlite.ts'
import { exchange } from '../support/raw-http.ts'
import { startUpstreamDouble } from '../support/upstream-double.ts'
import { ROOT, runCommand } from '../server/harness.ts'

let dir: string
beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'assisters-demo-'))))
afterEach(() => rmSync(dir, { recursive: true, force: true }))

describe('the demo account', () => {
  const database = () => ({ kind: 'sqlite', path: join(dir, 'demo.db') }) as const
  const prepare = (adminToken?: string) => prepareDemoAccount(database(), { adminToken, defaultRpm: 60, defaultVisitorRpm: 20 })

  async function keyRecord(key: string) {
    const store = openSqliteStore(join(dir, 'demo.db'))
    try {
      return await store.findKeyByHash(hashKey(key))
    } finally {
      await store.close()
    }
  }

  it('is made once: a primary key for localhost and 127.0.0.1, a second key for example.com only', async () => {
    const { owner: _owner, ...account } = await prepare()
    const primary = await keyRecord(account.primaryKey)
    const restricted = await keyRecord(account.restrictedKey)
    expect(primary).toMatchObject({ account_id: account.accountId, is_primary: true, allowed_domains: ['localhost', '127.0.0.1'] })
    expect(restricted).toMatchObject({ account_id: account.accountId, is_primary: false, allowed_domains: ['example.com'] })
    expect(account.adminToken).toMatch(/^\S{32}$/)
    // Kept beside the database, for its owner's eyes only.
    expect(statSync(demoStatePath(database())).mode & 0o777).toBe(0o600)

    const { owner: _again, ...again } = await prepare()
    expect(again).toEqual(account)
  })

  it('gives the demo owner a new one-time link on every start, and never saves it', async () => {
    const first = await prepare()
    const second = await prepare()
    expect(first.owner.email).toBe('demo@example.com')
    expect(second.owner.email).toBe('demo@example.com')
    expect(second.owner.linkToken).toMatch(/^[\w-]{43}$/)
    expect(second.owner.linkToken).not.toBe(first.owner.linkToken)
    expect(readFileSync(demoStatePath(database()), 'utf8')).not.toContain(second.owner.linkToken)
  })

  it('replaces a key revoked since, and the new one becomes primary', async () => {
    const first = await prepare()
    const store = openSqliteStore(join(dir, 'demo.db'))
    await store.revokeKey((await store.findKeyByHash(hashKey(first.primaryKey)))!.id)
    await store.close()

    const second = await prepare()
    expect(second.primaryKey).not.toBe(first.primaryKey)
    expect(second.restrictedKey).toBe(first.restrictedKey)
    expect(second.accountId).toBe(first.accountId)
    expect(await keyRecord(second.primaryKey)).toMatchObject({ is_primary: true, revoked_at: null })
  })

  it('starts afresh when the database is new but the saved keys are from another', async () => {
    const first = await prepare()
    for (const suffix of ['', '-wal', '-shm']) rmSync(join(dir, `demo.db${suffix}`), { force: true })
    const second = await prepare()
    expect(second.accountId).not.toBe(first.accountId)
    expect(second.primaryKey).not.toBe(first.primaryKey)
    expect(second.adminToken).toBe(first.adminToken)
  })

  it.each([
    ['not JSON', '{ nope'],
    ['not an object', '"text"'],
    ['wrong types', '{"accountId": 7, "primaryKey": [], "adminToken": "short"}'],
  ])('starts afresh from a saved file that is %s', async (_, content) => {
    writeFileSync(demoStatePath(database()), content)
    const account = await prepare()
    expect(await keyRecord(account.primaryKey)).toMatchObject({ is_primary: true })
    expect(account.adminToken).not.toBe('short')
  })

  it('uses ADMIN_TOKEN from the environment over the saved one, without writing it down', async () => {
    const saved = await prepare()
    expect((await prepare('env-admin-token-0123456789')).adminToken).toBe('env-admin-token-0123456789')
    expect(readFileSync(demoStatePath(database()), 'utf8')).not.toContain('env-admin-token')
    expect((await prepare()).adminToken).toBe(saved.adminToken)
  })

  it('makes an existing key file owner-only when it rewrites it', async () => {
    writeFileSync(demoStatePath(database()), '{}', { mode: 0o644 })
    chmodSync(demoStatePath(database()), 0o644)
    await prepare()
    expect(statSync(demoStatePath(database())).mode & 0o777).toBe(0o600)
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([])
  })

  it('replaces a key whose allowed domains were changed since', async () => {
    const first = await prepare()
    // No API changes a key's domains; an owner with the database at hand can.
    const db = new Database(join(dir, 'demo.db'))
    db.prepare('UPDATE keys SET allowed_domains = ? WHERE prefix = ?').run('["shop.example"]', first.primaryKey.slice(0, 12))
    db.close()
    const second = await prepare()
    expect(second.primaryKey).not.toBe(first.primaryKey)
    expect(await keyRecord(second.primaryKey)).toMatchObject({ allowed_domains: ['localhost', '127.0.0.1'] })
    expect(second.restrictedKey).toBe(first.restrictedKey)
  })
})

describe('the demo site', () => {
  const keys = { primaryKey: 'ask_primary123', restrictedKey: 'ask_restricted1' }
  let site: { url: string; close(): void }
  beforeEach(async () => {
    site = await startDemoSite({ host: '127.0.0.1', port: 0, api: 'http://localhost:9999', keys })
  })
  afterEach(() => site.close())

  it.each([
    ['/', 'ask_primary123'],
    ['/playground', 'ask_primary123'],
    ['/refused', 'ask_restricted1'],
  ])('serves %s embedding its key, under a CSP that allows only the API', async (path, key) => {
    const response = await fetch(site.url + path)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self' http://localhost:9999")
    expect(response.headers.get('content-security-policy')).toContain('connect-src http://localhost:9999;')
    const html = await response.text()
    expect(html).toContain(`<script src="http://localhost:9999/widget.js" data-key="${key}"`)
    expect(html).not.toMatch(/\{\{\w+\}\}/)
    // Pages carry no inline script, which the CSP would block.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
  })

  it.each(['/site.css', '/site.js', '/playground.js', '/favicon.svg'])('serves %s', async (path) => {
    const response = await fetch(site.url + path)
    expect(response.status).toBe(200)
    expect((await response.text()).length).toBeGreaterThan(0)
  })

  it.each(['/nope', '/index.html', '/../package.json', '/%2e%2e/package.json', '//etc/passwd', '/site.css/'])(
    'answers 404 for %s',
    async (path) => {
      expect((await fetch(site.url + path)).status).toBe(404)
    },
  )

  it.each(['GET //[ HTTP/1.1', 'GET http://[ HTTP/1.1', 'GET /%zz HTTP/1.1'])(
    'answers 404 to the raw request line %s, and keeps serving',
    async (line) => {
      const { port } = new URL(site.url)
      const reply = await exchange(Number(port), `${line}\r\nHost: x\r\nConnection: close\r\n\r\n`)
      expect(reply.status).toBe(404)
      expect((await fetch(site.url)).status).toBe(200)
    },
  )

  it('answers HEAD without a body and other methods with 405', async () => {
    const head = await fetch(site.url, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
    const post = await fetch(site.url, { method: 'POST', body: 'x' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD')
  })

  it('escapes what it writes into the snippet', () => {
    expect(embedSnippet('http://a.test', 'ask_x', { 'data-title': 'Say "hi" <b>' })).toBe(
      '<script src="http://a.test/widget.js" data-key="ask_x" data-title="Say &#34;hi&#34; &#60;b&#62;" async></script>',
    )
  })
})

describe('the widget build check', () => {
  function fakeProject() {
    mkdirSync(join(dir, 'src/components'), { recursive: true })
    for (const file of ['src/main.ts', 'src/components/App.tsx', 'vite.config.ts', 'package-lock.json']) {
      writeFileSync(join(dir, file), '')
      utimesSync(join(dir, file), 1000, 1000)
    }
    mkdirSync(join(dir, 'dist'))
    return join(dir, 'dist/widget.js')
  }

  it('builds when the widget is missing, or older than any source, the config or the lockfile', () => {
    const widget = fakeProject()
    expect(widgetIsStale(dir, widget)).toBe(true)
    writeFileSync(widget, '')
    utimesSync(widget, 2000, 2000)
    expect(widgetIsStale(dir, widget)).toBe(false)
    for (const file of ['src/components/App.tsx', 'package-lock.json']) {
      utimesSync(join(dir, file), 3000, 3000)
      expect(widgetIsStale(dir, widget)).toBe(true)
      utimesSync(join(dir, file), 1000, 1000)
    }
  })
})

const running = new Set<ChildProcess>()
afterEach(() => {
  for (const child of running) child.kill('SIGKILL')
  running.clear()
})

/** `npm start` as a newcomer runs it, on free ports and a scratch database; resolves once it prints its banner. */
function startDemoProcess(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/main.ts'], { cwd: ROOT, env: { ...process.env, ...env } })
  running.add(child)
  child.once('exit', () => running.delete(child))
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk))
  const banner = new Promise<{ site: string; api: string; admin: string }>((resolve, reject) => {
    child.stdout.on('data', () => {
      if (!output.includes('Ctrl+C stops both.')) return
      const field = (name: string) => new RegExp(`${name}\\s+(\\S+)`).exec(output)?.[1] ?? ''
      resolve({ site: field('Demo site'), api: field('API server'), admin: field('Admin token') })
    })
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)))
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { banner, exited, stop: () => child.kill('SIGTERM'), output: () => output }
}

describe('npm start', () => {
  it('is the demo entry point', () => {
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start).toBe('node --import tsx demo/main.ts')
  })

  it('starts the API and the demo site, which chats with no manual step, and reuses its keys on the next start', async () => {
    const env = { PORT: '0', DEMO_PORT: '0', DATABASE_URL: `sqlite:${join(dir, 'demo.db')}`, UPSTREAM_BASE_URL: '', ADMIN_TOKEN: '' }
    const first = startDemoProcess(env)
    const urls = await first.banner
    expect(urls.site).toMatch(/^http:\/\/localhost:\d+$/)
    expect(urls.api).toMatch(/^http:\/\/localhost:\d+$/)
    expect(first.output()).toContain('built-in offline demo responder')
    // The way into the dashboard: the printed one-time link sets the demo owner's password.
    const link = new URL(/Dashboard\s+(\S+)/.exec(first.output())![1]!)
    expect(`${link.origin}${link.pathname}`).toBe(`${urls.api}/dashboard/set-password`)
    const set = await fetch(`${urls.api}/dashboard/api/set-password`, {
      method: 'POST',
      headers: { origin: urls.api, 'content-type': 'application/json' },
      body: JSON.stringify({ token: link.hash.slice(1), password: 'my demo password' }),
    })
    expect(set.status).toBe(200)
    expect((await set.json()).owner.email).toBe('demo@example.com')

    const page = await (await fetch(urls.site)).text()
    const key = /data-key="(ask_\w+)"/.exec(page)![1]!
    expect((await fetch(`${urls.api}/widget.js`)).status).toBe(200)
    // What the widget on that page sends: its key, from its origin.
    const answer = await fetch(`${urls.api}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, origin: urls.site, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'assisters-chat-v1', messages: [{ role: 'user', content: 'Hi' }] }),
    })
    expect(answer.status).toBe(200)
    expect((await answer.json()).choices[0].message.content).toContain('demo responder')
    const admin = await fetch(`${urls.api}/admin/accounts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${urls.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Mine' }),
    })
    expect(admin.status).toBe(201)
    first.stop()
    expect(await first.exited).toBe(0)

    const second = startDemoProcess(env)
    const again = await second.banner
    expect(again.admin).toBe(urls.admin)
    expect(await (await fetch(again.site)).text()).toContain(`data-key="${key}"`)
    second.stop()
    expect(await second.exited).toBe(0)
  }, 90_000)

  it('chats with the model at UPSTREAM_BASE_URL when it is set', async () => {
    const upstream = await startUpstreamDouble()
    const demo = startDemoProcess({
      PORT: '0',
      DEMO_PORT: '0',
      DATABASE_URL: `sqlite:${join(dir, 'demo.db')}`,
      UPSTREAM_BASE_URL: upstream.baseUrl,
      UPSTREAM_MODEL: 'llama3.2',
    })
    try {
      const urls = await demo.banner
      expect(demo.output()).toContain(`llama3.2 at ${new URL(upstream.baseUrl).host}`)
      const key = /data-key="(ask_\w+)"/.exec(await (await fetch(urls.site)).text())![1]!
      const answer = await fetch(`${urls.api}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, origin: urls.site, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'assisters-chat-v1', messages: [{ role: 'user', content: 'Hi' }] }),
      })
      expect((await answer.json()).choices[0].message.content).toBe('You asked: “Hi”. This answer streams.')
      expect(upstream.requests).toHaveLength(1)
    } finally {
      demo.stop()
      await demo.exited
      await upstream.close()
    }
  }, 90_000)

  it('stops with exit status 1 and one line naming a bad variable', async () => {
    const result = await runCommand(
      process.execPath,
      ['--import', 'tsx', 'demo/main.ts'],
      {
        PORT: '0',
        DEMO_PORT: '80800',
        DATABASE_URL: `sqlite:${join(dir, 'demo.db')}`,
      },
      60_000,
    )
    expect(result.code).toBe(1)
    expect(result.stderr.trim()).toBe("assisters demo: DEMO_PORT must be a whole number from 0 to 65535, got '80800'")
  }, 60_000)
})

// What npm start says when it cannot start, checked in-process: the process adds only its prefix and exit status (above).
describe('the demo refusing to start', () => {
  it('says which port is taken', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as AddressInfo).port
    try {
      const settings = loadDemoSettings({
        HOST: '127.0.0.1',
        PORT: '0',
        DEMO_PORT: String(port),
        DATABASE_URL: `sqlite:${join(dir, 'demo.db')}`,
      })
      const err = await startDemo(settings, { log: createLogger({ write: () => {} }) }).then(
        () => undefined,
        (err: unknown) => err,
      )
      expect(startFailure(err)).toBe(`port ${port} is already in use; set PORT (API) or DEMO_PORT (demo site) to a free one`)
    } finally {
      taken.close()
    }
  })

  it.each([
    [{ DEMO_PORT: '80800' }, "DEMO_PORT must be a whole number from 0 to 65535, got '80800'"],
    [{ DEMO_PORT: 'http' }, "DEMO_PORT must be a whole number from 0 to 65535, got 'http'"],
    [{ UPSTREAM_BASE_URL: 'localhost:11434' }, "UPSTREAM_BASE_URL must be an http or https URL, got 'localhost:'"],
    [{ DATABASE_URL: 'sqlite::memory:' }, 'DATABASE_URL must name a file for the demo, not :memory:'],
  ])('names a bad variable in one line: %o', (bad, message) => {
    const env = { PORT: '0', DEMO_PORT: '0', DATABASE_URL: `sqlite:${join(dir, 'demo.db')}`, ...bad }
    expect(() => loadDemoSettings(env)).toThrow(new ConfigError(message))
  })
})
