/**
 * The demo site as a newcomer meets it: the pages work under their strict CSP with no console
 * errors, the home page shows the very snippet it embeds, the playground drives window.Assisters
 * from buttons and logs its events, and the suite takes the README's screenshots (written into
 * docs/screenshots/ only with UPDATE_SCREENSHOTS=1).
 */
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BrowserContextOptions, Page } from 'playwright-core'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { skipWithoutChromium } from './browser.ts'
import { useBrowserAndStack, type Stack } from './stack.ts'
import { answers, dialog, idle, launcher, questions } from './widget.ts'

// The README's pictures change only on request (`UPDATE_SCREENSHOTS=1 npm test`): a newer Chromium or
// other fonts must neither fail the suite nor dirty the checkout. Otherwise they go to a scratch folder.
const UPDATING = process.env.UPDATE_SCREENSHOTS === '1'
const SCREENSHOTS = UPDATING
  ? fileURLToPath(new URL('../../docs/screenshots/', import.meta.url))
  : mkdtempSync(join(tmpdir(), 'assisters-screenshots-'))
afterAll(() => {
  if (!UPDATING) rmSync(SCREENSHOTS, { recursive: true, force: true })
})

const PRICING_ANSWER = [
  'Lumen is **free** for up to three people. ',
  'Paid plans add shared notebooks and version history:\n\n',
  '- **Team**: €6 per user a month\n',
  '- **Business**: SSO and audit logs; [talk to us](https://example.com/sales)\n\n',
  'Every plan works offline and syncs when you are back.',
]

describe.skipIf(skipWithoutChromium)('the demo site', () => {
  const suite = useBrowserAndStack()
  let stack: Stack
  beforeEach(() => void (stack = suite.stack))

  /** A page that fails the test on any console error or uncaught exception (a CSP violation is one). */
  async function visit(path: string, options: BrowserContextOptions = {}): Promise<{ page: Page; problems: string[] }> {
    const page = await suite.newPage(options)
    const problems: string[] = []
    page.on('console', (message) => message.type() === 'error' && problems.push(message.text()))
    page.on('pageerror', (error) => problems.push(error.message))
    await page.goto(stack.demo.siteUrl + path)
    return { page, problems }
  }

  it('embeds on its home page exactly the snippet it shows for copying', async () => {
    const { page, problems } = await visit('/')
    await launcher(page).waitFor()
    const shown = await page.locator('#snippet').textContent()
    expect(shown).toBe(
      `<script src="${stack.demo.apiUrl}/widget.js" data-key="${stack.demo.account.primaryKey}" data-title="Ask Lumen" data-color="#0f766e" ` +
        'data-starters="What does Lumen cost?|Does it work offline?|How do I import my notes?" async></script>',
    )
    const embedded = await page.evaluate(() => document.querySelector('script[src$="/widget.js"]')!.outerHTML)
    expect(embedded.replace('async=""', 'async')).toBe(shown)

    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'])
    await page.locator('#copy-snippet').click()
    await expect.poll(() => page.locator('#copy-status').textContent()).toBe('Copied')
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(shown)
    expect(problems).toEqual([])
  })

  it('drives window.Assisters from the playground buttons and logs the events', async () => {
    const { page, problems } = await visit('/playground')
    const log = page.locator('#event-log li strong')
    await page.locator('#open:enabled').click()
    await dialog(page).waitFor()
    await page.locator('#question').fill('What can you do?')
    await page.locator('#send').click()
    await expect.poll(() => answers(page).count()).toBe(1)
    await idle(page)
    await expect.poll(() => log.allTextContents()).toEqual(['message', 'message', 'open'])
    expect(await page.locator('#event-log li').first().textContent()).toContain('This answer streams.')

    await page.getByRole('button', { name: 'Rose #be123c' }).click()
    expect(await launcher(page).evaluate((button) => getComputedStyle(button).backgroundColor)).toBe('rgb(190, 18, 60)')

    await page.locator('#reset').click()
    expect(await questions(page).count()).toBe(0)
    await page.locator('#close').click()
    await dialog(page).waitFor({ state: 'detached' })
    await expect.poll(() => log.allTextContents()).toEqual(['close', 'message', 'message', 'open'])
    await page.locator('#toggle').click()
    await dialog(page).waitFor()
    expect(problems).toEqual([])
  })

  it('says so on the playground when widget.js cannot load', async () => {
    const page = await suite.newPage()
    await page.context().route('**/widget.js', (route) => route.abort('connectionrefused'))
    await page.goto(`${stack.demo.siteUrl}/playground`)
    await expect.poll(() => page.locator('#widget-status').textContent()).toBe('widget.js did not load: is the API server running?')
    expect(await page.locator('#open').isDisabled()).toBe(true)
  })

  it.each([
    ['desktop', 'light'],
    ['desktop', 'dark'],
    ['phone', 'light'],
    ['phone', 'dark'],
  ] as const)('takes the %s screenshot in the %s scheme, mid-conversation', async (device, colorScheme) => {
    stack.upstream.answerWith(() => ({ pieces: PRICING_ANSWER, delayMs: 5 }))
    const viewport = device === 'phone' ? { width: 390, height: 844 } : { width: 1280, height: 800 }
    const { page, problems } = await visit('/', { viewport, colorScheme, isMobile: device === 'phone', hasTouch: device === 'phone' })
    await launcher(page).click()
    await page.getByRole('button', { name: 'What does Lumen cost?' }).click()
    await expect.poll(() => answers(page).first().textContent()).toContain('syncs when you are back.')
    await idle(page)
    // Out of the picture: the text cursor and the focus ring, which blink and move.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur())
    mkdirSync(SCREENSHOTS, { recursive: true })
    const path = join(SCREENSHOTS, `${device}-${colorScheme}.png`)
    await page.screenshot({ path, animations: 'disabled', caret: 'hide' })
    expect(statSync(path).size).toBeGreaterThan(0)
    expect(problems).toEqual([])
  })
})
