/**
 * What every browser test runs against: the demo (the real API server and the demo site) on a
 * scratch SQLite file, chatting with a real upstream double on a socket, plus a page server on a
 * third origin for the test's own pages, all on loopback.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, BrowserContextOptions, Page } from 'playwright-core'
import { afterAll, beforeAll, beforeEach, inject, onTestFinished } from 'vitest'
import { loadDemoSettings, startDemo, type Demo } from '../../demo/demo.ts'
import { embedSnippet } from '../../demo/site.ts'
import { createLogger } from '../../server/log.ts'
import { launchChromium } from '../../tools/chromium.ts'
import { startUpstreamDouble } from '../support/upstream-double.ts'

export type Stack = Awaited<ReturnType<typeof startStack>>

export async function startStack() {
  const dir = mkdtempSync(join(tmpdir(), 'assisters-e2e-'))
  const upstream = await startUpstreamDouble()
  const logs: string[] = []
  const demo: Demo = await startDemo(
    loadDemoSettings({
      HOST: '127.0.0.1',
      PORT: '0',
      DEMO_PORT: '0',
      DATABASE_URL: `sqlite:${join(dir, 'e2e.db')}`,
      UPSTREAM_BASE_URL: upstream.baseUrl,
      UPSTREAM_MODEL: 'double',
    }),
    { log: createLogger({ write: (line) => logs.push(line) }), widgetPath: inject('widgetPath'), dashboardDir: inject('dashboardDir') },
  )
  const pages = await startPageServer()

  const admin = async (path: string, body: unknown) => {
    const response = await fetch(demo.apiUrl + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${demo.account.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`)
    return response.json()
  }

  return {
    demo,
    upstream,
    logs,
    /** The page server's origin (http://127.0.0.1:port): neither the API's nor the demo site's. */
    pageOrigin: pages.origin,
    /** Serves `body` (inside a plain HTML page) at a new URL on the page server. */
    page: pages.add,
    /** The embed tag for `key` (the demo's primary key by default), as on the demo site. */
    embed: (attributes: Record<string, string> = {}, key = demo.account.primaryKey) => embedSnippet(demo.apiUrl, key, attributes),
    /** A new account with a dashboard owner, through the admin API; the owner's one-time link. */
    async createOwner(email: string, accountName = `Account of ${email}`): Promise<string> {
      const account = await admin('/admin/accounts', { name: accountName })
      return (await admin(`/admin/accounts/${account.id}/owners`, { email })).set_password_url
    },
    /** A new key on its own account, through the admin API. */
    async createKey(fields: {
      allowed_domains?: string[]
      rate_limit_rpm?: number
      visitor_rpm?: number
      daily_token_limit?: number
    }): Promise<string> {
      const account = await admin('/admin/accounts', { name: 'E2E' })
      return (await admin(`/admin/accounts/${account.id}/keys`, { name: 'E2E key', ...fields })).key
    },
    async close() {
      pages.close()
      await demo.close()
      await upstream.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A server for the tests' own pages: no CSP, so an injected script would run if the widget let one in. */
async function startPageServer() {
  const pages = new Map<string, string>()
  const server = createServer((req, res) => {
    const html = pages.get(req.url ?? '')
    res.writeHead(html === undefined ? 404 : 200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(html ?? 'not found')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    origin,
    add(body: string, head = ''): string {
      const path = `/page-${pages.size + 1}`
      pages.set(
        path,
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test page</title>${head}</head><body>${body}</body></html>`,
      )
      return origin + path
    },
    close() {
      server.closeAllConnections()
      server.close()
    },
  }
}

/**
 * A test file's browser and stack: one Chromium and one stack shared by its tests, started one after
 * the other so a failure in either leaves nothing the afterAll cannot close. Each test gets its own
 * browser context (fresh storage), closed when the test ends, and the upstream back to echoing.
 */
export function useBrowserAndStack() {
  let browser: Browser | undefined
  let stack: Stack | undefined
  beforeAll(async () => {
    browser = await launchChromium()
    stack = await startStack()
  })
  afterAll(async () => {
    await browser?.close()
    await stack?.close()
  })
  beforeEach(() => stack?.upstream.answerWith())
  return {
    get stack(): Stack {
      return stack!
    },
    /** A page in a new browser context of its own. */
    async newPage(options?: BrowserContextOptions): Promise<Page> {
      const context = await browser!.newContext(options)
      onTestFinished(() => context.close())
      return context.newPage()
    },
  }
}
