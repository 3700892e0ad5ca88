/** Reading and driving the widget in a real page. Playwright's CSS and role locators pierce its open shadow root. */
import type { Page } from 'playwright-core'

export const launcher = (page: Page) => page.locator('assisters-widget .launcher')
export const dialog = (page: Page) => page.getByRole('dialog')
export const composer = (page: Page) => page.getByRole('textbox', { name: 'Message' })
export const answers = (page: Page) => page.locator('assisters-widget .answer .msg')
export const questions = (page: Page) => page.locator('assisters-widget .msg.me')
export const errorBar = (page: Page) => page.locator('assisters-widget [role="alert"]')

/** The error bar's words, as the visitor reads them. */
// biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText is the rendered text, which is what a visitor reads
export const errorText = async (page: Page) => (await errorBar(page).innerText()).trim()

/**
 * Waits until the widget is ready for the next question: the stream has ended (its last text can
 * arrive well before its end) and the Send button is back in place of Stop.
 */
export const idle = (page: Page) => page.getByRole('button', { name: 'Send message' }).waitFor()

/** Types a question into the open panel and sends it with Enter. */
export async function ask(page: Page, text: string): Promise<void> {
  await composer(page).fill(text)
  await composer(page).press('Enter')
}

/** What has the focus, looking into the widget's shadow root: a class or accessible name, or the page element's tag. */
export function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    const active = document.activeElement
    if (active?.tagName !== 'ASSISTERS-WIDGET') return active?.tagName.toLowerCase() ?? 'nothing'
    const inner = active.shadowRoot?.activeElement
    return inner ? (inner.getAttribute('aria-label') ?? inner.className) : 'assisters-widget'
  })
}

/** How two same-sized PNGs differ: the number of pixels that differ, and the largest difference in any channel. */
export function pixelDifference(page: Page, a: Buffer, b: Buffer) {
  return page.evaluate(
    async ([first, second]) => {
      const pixels = async (base64: string) => {
        const bitmap = await createImageBitmap(await (await fetch(`data:image/png;base64,${base64}`)).blob())
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height)
        const context = canvas.getContext('2d')!
        context.drawImage(bitmap, 0, 0)
        return context.getImageData(0, 0, bitmap.width, bitmap.height).data
      }
      const [x, y] = await Promise.all([pixels(first!), pixels(second!)])
      if (x.length !== y.length) return { pixels: Infinity, maxDelta: Infinity }
      let count = 0
      let maxDelta = 0
      for (let i = 0; i < x.length; i += 4) {
        const delta = Math.max(...[0, 1, 2, 3].map((channel) => Math.abs(x[i + channel]! - y[i + channel]!)))
        if (delta > 0) count++
        maxDelta = Math.max(maxDelta, delta)
      }
      return { pixels: count, maxDelta }
    },
    [a.toString('base64'), b.toString('base64')],
  )
}
