/**
 * A visitor who sends too fast (issue 16), in real Chromium: the widget, served as built, on one
 * origin; the page on another; an API that answers the visitor's second question with a 429
 * `visitor_rate_limit_exceeded`, its `Retry-After` and `retry-after-ms` readable through the real
 * server's CORS. The API is a stand-in on a socket (as msw is in the happy-dom tests) until the
 * server's own visitor limit can be driven from here; it writes the error with the server's own
 * HttpError and CORS code, so the wire is the server's.
 */
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest'
import { answerPreflight, applyCors } from '../../server/cors.ts'
import { HttpError } from '../../server/errors.ts'
import { sendJson } from '../../server/respond.ts'
import { launchChromium } from '../../tools/chromium.ts'
import { skipWithoutChromium } from './browser.ts'
import { answers, ask, errorText, launcher } from './widget.ts'

const KEY = `ask_${'e2e'.repeat(14)}`
const WAIT_S = 30

/** Listens on a loopback port; the server's origin. */
async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/**
 * The widget's files and an API that allows one question, then refuses the next as a visitor's too
 * many, then answers again: the order a visitor meets the limit in.
 */
async function startApi() {
  const dir = inject('widgetDir')
  let chats = 0
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://api').pathname
    if (req.method === 'OPTIONS') return answerPreflight(req, res)
    applyCors(req, res)
    if (path === '/widget.js' || /^\/panel-[\w-]+\.(js|json)$/.test(path)) {
      res.writeHead(200, { 'content-type': path.endsWith('.json') ? 'application/json' : 'text/javascript' })
      return res.end(readFileSync(join(dir, path.slice(1))))
    }
    if (path === '/v1/key') return sendJson(res, 200, { object: 'key' })
    if (path !== '/v1/chat/completions') return sendJson(res, 404, {})
    req.resume().on('end', () => {
      if (++chats === 2) {
        const refusal = new HttpError(
          429,
          'rate_limit_error',
          'visitor_rate_limit_exceeded',
          `Rate limit reached for this visitor: 1 request per minute; try again in ${WAIT_S} s`,
          undefined,
          { 'retry-after': String(WAIT_S), 'retry-after-ms': String(WAIT_S * 1000 - 400) },
        )
        return sendJson(res, refusal.status, refusal, refusal.headers)
      }
      const chunk = { object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: `Answer ${chats}.` } }] }
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.end(`data: ${JSON.stringify(chunk)}\n\ndata: [DONE]\n\n`)
    })
  })
  return { server, origin: await listen(server) }
}

/** A server for the test's page, on an origin of its own. */
async function startPage(html: string) {
  const server = createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(html)
  })
  return { server, origin: await listen(server) }
}

describe.skipIf(skipWithoutChromium)('a visitor who sends too fast', () => {
  let browser: Browser
  const servers: Server[] = []
  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    for (const server of servers) server.closeAllConnections(), server.close()
  })

  async function visit(lang: string): Promise<Page> {
    const api = await startApi()
    const site = await startPage(
      `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><title>Shop</title></head><body><h1>Shop</h1>` +
        `<script src="${api.origin}/widget.js" data-key="${KEY}" data-api="${api.origin}" async></script></body></html>`,
    )
    servers.push(api.server, site.server)
    const context = await browser.newContext()
    onTestFinished(() => context.close())
    const page = await context.newPage()
    // The page's clock, installed before it loads and paused once the countdown shows, so the test moves time itself.
    await page.clock.install({ time: new Date('2026-03-10T09:00:00Z') })
    await page.goto(site.origin)
    return page
  }

  it('is told to slow down, with a countdown from Retry-After and Send disabled until it ends', async () => {
    const page = await visit('en')
    await launcher(page).click()
    await ask(page, 'First question')
    await expect.poll(() => answers(page).first().textContent()).toBe('Answer 1.')
    await ask(page, 'Second question')

    await expect.poll(() => errorText(page)).toMatch(/^You're sending messages quickly\. You can send again in \d+ s\.$/)
    // A little ahead of the page's time: the clock runs on while this call travels, and cannot go back.
    await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 2000)
    const seconds = Number(/in (\d+) s/.exec(await errorText(page))![1])
    // The header's 30 s, readable across origins (a hidden Retry-After would have been the 10 s guess).
    expect(seconds).toBeGreaterThan(WAIT_S - 10)
    expect(seconds).toBeLessThanOrEqual(WAIT_S)
    const send = page.getByRole('button', { name: 'Send message' })
    await page.getByRole('textbox', { name: 'Message' }).fill('Third question')
    expect(await send.isDisabled()).toBe(true)

    await page.clock.runFor(1000)
    expect(await errorText(page)).toBe(`You're sending messages quickly. You can send again in ${seconds - 1} s.`)
    expect(await send.isDisabled()).toBe(true)
    await page.clock.runFor((seconds - 1) * 1000)
    expect(await send.isDisabled()).toBe(false)
    expect(await errorText(page)).toMatch(/^You're sending messages quickly\.\s+Try again$/)

    await page.clock.resume()
    await send.click()
    await expect.poll(() => answers(page).last().textContent()).toBe('Answer 3.')
    expect(await page.locator('assisters-widget [role="alert"]').count()).toBe(0)
  })

  it('is told in Arabic, right to left', async () => {
    const page = await visit('ar')
    await launcher(page).click()
    const box = page.getByRole('textbox', { name: 'الرسالة' })
    await box.fill('السؤال الأول')
    await box.press('Enter')
    await expect.poll(() => answers(page).first().textContent()).toBe('Answer 1.')
    await box.fill('السؤال الثاني')
    await box.press('Enter')
    await expect.poll(() => errorText(page)).toMatch(/^أنت ترسل الرسائل بسرعة كبيرة\. يمكنك الإرسال مجددًا بعد \d+ ث\.$/)
    const direction = await page.locator('assisters-widget [role="alert"]').evaluate((bar) => getComputedStyle(bar).direction)
    expect(direction).toBe('rtl')
  })
})
