/**
 * Two ways of reaching the chat that a mouse on a desktop never tests: the keyboard alone, and a
 * phone, where the panel takes the whole screen.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { skipWithoutChromium } from './browser.ts'
import { useBrowserAndStack, type Stack } from './stack.ts'
import { answers, composer, dialog, focused, idle, launcher } from './widget.ts'

describe.skipIf(skipWithoutChromium)('keyboard and phone', () => {
  const suite = useBrowserAndStack()
  let stack: Stack
  beforeEach(() => void (stack = suite.stack))

  it('works from the keyboard alone: Tab to the launcher, Enter opens into the composer, Escape comes back', async () => {
    const page = await suite.newPage()
    await page.goto(stack.page(`<h1>Bakery</h1><a href="#menu">Menu</a> <button>Order</button>${stack.embed()}`))
    await launcher(page).waitFor()

    const stops: string[] = []
    for (let i = 0; i < 5 && stops.at(-1) !== 'Open chat'; i++) {
      await page.keyboard.press('Tab')
      stops.push(await focused(page))
    }
    expect(stops).toEqual(['a', 'button', 'Open chat'])
    // The launcher shows where the focus is.
    expect(await launcher(page).evaluate((button) => button.matches(':focus-visible'))).toBe(true)

    await page.keyboard.press('Enter')
    await dialog(page).waitFor()
    await expect.poll(() => focused(page)).toBe('Message')
    await page.keyboard.type('Do you bake on Sundays?')
    await page.keyboard.press('Enter')
    await expect.poll(() => answers(page).first().textContent()).toBe('You asked: “Do you bake on Sundays?”. This answer streams.')
    await idle(page)
    expect(await focused(page)).toBe('Message')

    // Stop, from the keyboard: the button turns into a Send with nothing to send, and the focus goes back to the composer.
    stack.upstream.answerWith(() => ({ pieces: Array.from({ length: 50 }, (_, i) => `word${i} `), delayMs: 40 }))
    await page.keyboard.type('A long answer, please')
    await page.keyboard.press('Enter')
    await page.keyboard.press('Tab')
    expect(await focused(page)).toBe('Stop answering')
    await page.keyboard.press('Enter')
    await idle(page)
    expect(await focused(page)).toBe('Message')

    await page.keyboard.press('Escape')
    await dialog(page).waitFor({ state: 'detached' })
    expect(await focused(page)).toBe('Open chat')
    expect(await launcher(page).getAttribute('aria-expanded')).toBe('false')
    // And the way back in works the same.
    await page.keyboard.press('Enter')
    await dialog(page).waitFor()
    await expect.poll(() => focused(page)).toBe('Message')
  })

  it.each([
    ['portrait', { width: 390, height: 844 }],
    ['landscape', { width: 844, height: 390 }],
  ])('fills a phone screen (%s) with the open panel, with 16 px composer text', async (_, viewport) => {
    const page = await suite.newPage({ viewport, deviceScaleFactor: 2, isMobile: true, hasTouch: true })
    await page.goto(`${stack.demo.siteUrl}/`)
    await launcher(page).tap()
    await dialog(page).waitFor()

    expect(await dialog(page).boundingBox()).toEqual({ x: 0, y: 0, ...viewport })
    expect(await composer(page).evaluate((textarea) => getComputedStyle(textarea).fontSize)).toBe('16px')
    // Nothing of the page scrolls sideways because of the widget.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBe(viewport.width)
  })

  it('keeps the desktop panel a panel, clear of the screen edges', async () => {
    const page = await suite.newPage({ viewport: { width: 1280, height: 800 } })
    await page.goto(`${stack.demo.siteUrl}/`)
    await launcher(page).click()
    const box = (await dialog(page).boundingBox())!
    expect(box.width).toBe(380)
    expect(box.x + box.width).toBe(1280 - 20)
    expect(box.y).toBeGreaterThan(0)
  })
})
