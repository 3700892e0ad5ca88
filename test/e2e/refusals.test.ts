/**
 * Refusals the visitor must understand: a key used on a site it does not allow (the demo's
 * restricted key on the demo's own refused page), and a key with a limit of one request a minute.
 */
import type { Page } from 'playwright-core'
import { beforeEach, describe, expect, it } from 'vitest'
import { skipWithoutChromium } from './browser.ts'
import { useBrowserAndStack, type Stack } from './stack.ts'
import { answers, ask, errorText, idle, launcher } from './widget.ts'

describe.skipIf(skipWithoutChromium)('refusals, in words', () => {
  const suite = useBrowserAndStack()
  let stack: Stack
  let page: Page
  beforeEach(async () => {
    stack = suite.stack
    page = await suite.newPage()
  })

  it('shows a key restricted to example.com refusing this page, and never reaches the model', async () => {
    const before = stack.upstream.requests.length
    const refusals: number[] = []
    page.on('response', (response) => response.url().endsWith('/v1/chat/completions') && refusals.push(response.status()))
    await page.goto(`${stack.demo.siteUrl}/refused`)
    await launcher(page).click()
    await ask(page, 'Hello?')

    await expect.poll(() => errorText(page)).toBe("This chat isn't enabled for this website. Please tell the site owner.")
    expect(refusals).toEqual([403])
    expect(await page.locator('assisters-widget .retry').count()).toBe(0)
    expect(stack.upstream.requests.length).toBe(before)
  })

  it('shows the wait when a key with a limit of 1 a minute gets a second question', async () => {
    const key = await stack.createKey({ allowed_domains: ['127.0.0.1'], rate_limit_rpm: 1 })
    await page.goto(stack.page(`<h1>Tiny plan</h1>${stack.embed({ 'data-open': '' }, key)}`))

    await ask(page, 'First question')
    await expect.poll(() => answers(page).first().textContent()).toContain('First question')
    await idle(page)
    await ask(page, 'Second question')

    await expect.poll(() => errorText(page)).toMatch(/^The chat is busy right now\. You can send again in \d+ s\.$/)
    const seconds = Number(/in (\d+) s/.exec(await errorText(page))![1])
    expect(seconds).toBeGreaterThanOrEqual(1)
    expect(seconds).toBeLessThanOrEqual(60)
    // Sending waits too, and the countdown ticks down.
    await page.getByRole('textbox', { name: 'Message' }).fill('Third question')
    expect(await page.getByRole('button', { name: 'Send message' }).isDisabled()).toBe(true)
    await expect.poll(() => errorText(page), { timeout: 5_000 }).not.toContain(`in ${seconds} s`)
    expect(await answers(page).count()).toBe(1)
  })

  it("tells a visitor who sends too fast for the key's per-visitor limit to slow down, with the real server's wait", async () => {
    const key = await stack.createKey({ allowed_domains: ['127.0.0.1'], visitor_rpm: 1 })
    await page.goto(stack.page(`<h1>Busy visitor</h1>${stack.embed({ 'data-open': '' }, key)}`))

    await ask(page, 'First question')
    await expect.poll(() => answers(page).first().textContent()).toContain('First question')
    await idle(page)
    await ask(page, 'Second question')

    await expect.poll(() => errorText(page)).toMatch(/^You're sending messages quickly\. You can send again in \d+ s\.$/)
    const seconds = Number(/in (\d+) s/.exec(await errorText(page))![1])
    expect(seconds).toBeGreaterThanOrEqual(1)
    expect(seconds).toBeLessThanOrEqual(60)
    await page.getByRole('textbox', { name: 'Message' }).fill('Third question')
    expect(await page.getByRole('button', { name: 'Send message' }).isDisabled()).toBe(true)
    expect(await answers(page).count()).toBe(1)
  })

  it('says the chat has reached its limit for today once the key’s daily token budget is spent', async () => {
    const key = await stack.createKey({ allowed_domains: ['127.0.0.1'], daily_token_limit: 1 })
    await page.goto(stack.page(`<h1>Budget spent</h1>${stack.embed({ 'data-open': '' }, key)}`))

    // The answer that crosses the budget completes (a soft cap); the next question is refused.
    await ask(page, 'First question')
    await expect.poll(() => answers(page).first().textContent()).toContain('First question')
    await idle(page)
    await ask(page, 'Second question')
    await expect.poll(() => errorText(page)).toMatch(/^This chat has reached its limit for today\./)
    expect(await answers(page).count()).toBe(1)
  })
})
