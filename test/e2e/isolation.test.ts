/**
 * The widget and the page leave each other alone: a page's hostile global CSS does not change the
 * widget, the widget does not change the page, a script pasted twice mounts one widget, and
 * destroy() takes everything out again, an answer in flight included.
 */
import type { Page } from 'playwright-core'
import { beforeEach, describe, expect, it } from 'vitest'
import { skipWithoutChromium } from './browser.ts'
import { useBrowserAndStack, type Stack } from './stack.ts'
import { answers, ask, dialog, idle, launcher, pixelDifference } from './widget.ts'

const HOSTILE_CSS = `<style>
  :root { font-size: 40px !important; --bg: red; --fg: red; --accent: red; --line: red; --vh: 10px; }
  * { font-family: "Comic Sans MS", cursive !important; color: red !important; background: yellow !important;
      border: 3px dashed lime !important; box-sizing: content-box !important; line-height: 3 !important;
      letter-spacing: 2px !important; text-transform: uppercase !important; visibility: visible !important; }
  div, p, button, textarea, header, form { padding: 30px !important; margin: 10px !important; display: block !important; }
  button { display: none !important; }
  svg { width: 200px !important; }
  assisters-widget, :host { display: none !important; position: static !important; opacity: 0 !important; zoom: 3 !important; }
</style>`

const PAGE = `<h1>Garden shop</h1><p>Seeds, tools and advice.</p><button>Buy</button><a href="#top">Top</a>`

/** Geometry and computed styles of every element in the widget's shadow root, in document order. */
function widgetLook(page: Page) {
  return page.evaluate(() => {
    const root = document.querySelector('assisters-widget')!.shadowRoot!
    const properties = [
      'display',
      'position',
      'color',
      'background-color',
      'font-family',
      'font-size',
      'line-height',
      'letter-spacing',
      'text-transform',
      'border-top-width',
      'border-top-color',
      'padding-top',
      'margin-top',
      'box-sizing',
      'width',
      'height',
      'opacity',
      'visibility',
      'z-index',
    ]
    return [...root.querySelectorAll('*')].map((el) => {
      const style = getComputedStyle(el)
      const { x, y, width, height } = el.getBoundingClientRect()
      const look = {
        el: `${el.tagName.toLowerCase()}.${el.getAttribute('class')}`,
        box: [x, y, width, height],
        ...Object.fromEntries(properties.map((name) => [name, style.getPropertyValue(name)])),
      }
      // The root box sits in the page's flow, with no height (all it holds is position: fixed): where it sits, and how wide, is the page's business.
      if (el.classList.contains('root')) Object.assign(look, { box: [height], width: '' })
      return look
    })
  })
}

/** Geometry and computed styles of every element of the page itself (the widget's host left out). */
function pageLook(page: Page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('body *:not(assisters-widget):not(script)')]
      .map((el) => {
        const style = getComputedStyle(el)
        const { x, y, width, height } = el.getBoundingClientRect()
        return {
          el: el.tagName,
          box: [x, y, width, height],
          font: style.font,
          color: style.color,
          background: style.background,
          margin: style.margin,
          padding: style.padding,
          display: style.display,
        }
      })
      .concat([
        {
          el: 'stylesheets',
          box: [document.styleSheets.length, document.head.children.length],
          font: getComputedStyle(document.body).font,
          color: '',
          background: '',
          margin: '',
          padding: '',
          display: '',
        },
      ]),
  )
}

describe.skipIf(skipWithoutChromium)('the widget and the page leave each other alone', () => {
  const suite = useBrowserAndStack()
  let stack: Stack
  let page: Page
  beforeEach(async () => {
    stack = suite.stack
    page = await suite.newPage({ viewport: { width: 1280, height: 800 } })
  })

  /** Loads `url`, opens the chat, asks one question and waits for the answer. */
  async function chatOn(target: Page, url: string) {
    await target.goto(url)
    await launcher(target).click()
    await ask(target, 'Do you sell tomato seeds?')
    await expect.poll(() => answers(target).first().textContent()).toContain('This answer streams.')
    await idle(target)
  }

  it('looks the same on a page with hostile global CSS as on a plain page', async () => {
    await chatOn(page, stack.page(PAGE + stack.embed()))
    const plain = await widgetLook(page)

    const hostile = await suite.newPage({ viewport: { width: 1280, height: 800 } })
    await chatOn(hostile, stack.page(PAGE + stack.embed(), HOSTILE_CSS))
    // The hostile page really is hostile to its own elements.
    expect(await hostile.locator('h1').evaluate((h1) => getComputedStyle(h1).color)).toBe('rgb(255, 0, 0)')

    expect(plain.length).toBeGreaterThan(10)
    expect(await widgetLook(hostile)).toEqual(plain)
    // The panel's inside, pixel by pixel (its rounded corners and shadow blend with what is behind).
    // Chromium's anti-aliasing of a curve can differ by a level or two with the order it painted
    // things in; a page style getting through would change whole glyphs and surfaces.
    const box = (await dialog(hostile).boundingBox())!
    const inside = { x: box.x + 12, y: box.y + 12, width: box.width - 24, height: box.height - 24 }
    const [a, b] = await Promise.all(
      [page, hostile].map((target) => target.screenshot({ clip: inside, animations: 'disabled', caret: 'hide' })),
    )
    const difference = await pixelDifference(page, a!, b!)
    expect(difference.maxDelta).toBeLessThanOrEqual(8)
    expect(difference.pixels).toBeLessThan(50)
  })

  it('does not change the page it is on, even open and chatting', async () => {
    await page.goto(stack.page(PAGE))
    const before = await pageLook(page)
    // Injected later, as a single-page app would.
    await page.evaluate((api) => {
      const script = document.createElement('script')
      script.src = api
      document.body.append(script)
    }, `${stack.demo.apiUrl}/widget.js`)
    await expect.poll(() => page.evaluate(() => typeof (window as any).Assisters)).toBe('object')
    expect(await page.locator('assisters-widget').count()).toBe(0) // no data-key: nothing mounted yet
    await page.evaluate((key) => (window as any).Assisters.init({ key }), stack.demo.account.primaryKey)
    await launcher(page).click()
    await ask(page, 'Hello')
    await expect.poll(() => answers(page).count()).toBe(1)
    await idle(page)

    expect(await pageLook(page)).toEqual(before)
  })

  it('stays on a page whose body a single-page app replaces (Turbo, htmx), its tag run again, and in view when the body has a transform', async () => {
    await page.goto(stack.page(`<p>Page one</p>${stack.embed()}`))
    await launcher(page).click()
    await ask(page, 'Still here after the next page?')
    await idle(page)
    // Turbo Drive's visit: a new <body> in place of the old one, whose scripts it runs again.
    await page.evaluate((tag) => {
      const body = document.createElement('body')
      body.innerHTML = '<p>Page two</p>'
      document.body.replaceWith(body)
      const parsed = document.createRange().createContextualFragment(tag).querySelector('script')!
      const again = document.createElement('script')
      for (const { name, value } of parsed.attributes) again.setAttribute(name, value)
      body.append(again)
    }, stack.embed())
    await page.waitForTimeout(300)
    expect(await page.locator('assisters-widget').count()).toBe(1)
    expect(await answers(page).count()).toBe(1)

    // A transformed body is the containing block of anything fixed inside it: the launcher would sit at its foot.
    const transformed = await suite.newPage({ viewport: { width: 1280, height: 800 } })
    await transformed.goto(
      stack.page(`<div style="height: 3000px">Long page</div>${stack.embed()}`, '<style>body { transform: translateZ(0) }</style>'),
    )
    expect(await launcher(transformed).boundingBox()).toEqual({ x: 1280 - 20 - 56, y: 800 - 20 - 56, width: 56, height: 56 })
  })

  it("sets off none of the page's keyboard shortcuts with what the visitor types in the composer", async () => {
    // As a docs site's search shortcut does (DocSearch, GitHub): "/" anywhere but in a text field focuses the search.
    const shortcut = `<input id="search" aria-label="Search"><script>
      document.addEventListener('keydown', (e) => {
        if (['INPUT', 'TEXTAREA'].includes(e.target.tagName)) return
        window.heard = (window.heard ?? '') + e.key
        if (e.key === '/') { e.preventDefault(); document.getElementById('search').focus() }
      })
    </script>`
    await page.goto(stack.page(PAGE + shortcut + stack.embed()))
    await launcher(page).click()
    await dialog(page).waitFor()
    await page.keyboard.type('and/or')
    expect(await page.getByRole('textbox', { name: 'Message' }).inputValue()).toBe('and/or')
    expect(await page.locator('#search').inputValue()).toBe('')
    expect(await page.evaluate(() => (window as any).heard ?? '')).toBe('')
  })

  it('mounts one widget when the script is pasted twice, and destroy() leaves nothing behind', async () => {
    const warnings: string[] = []
    page.on('console', (message) => message.type() === 'warning' && warnings.push(message.text()))
    await page.goto(stack.page(PAGE + stack.embed() + stack.embed()))
    await expect.poll(() => warnings).toContain('[Assisters] already running; destroy() first')
    expect(await page.locator('assisters-widget').count()).toBe(1)
    await launcher(page).click()

    // An answer still streaming when the page destroys the widget: the request is aborted upstream too.
    stack.upstream.answerWith(() => ({ pieces: Array.from({ length: 100 }, (_, i) => `word${i} `), delayMs: 50 }))
    const aborted = stack.upstream.outcome.aborted
    await ask(page, 'A long answer, please')
    await expect.poll(() => answers(page).first().textContent()).toContain('word2')
    const bodyBefore = await page.evaluate(() => document.body.innerHTML.replace(/<assisters-widget><\/assisters-widget>/, ''))
    await page.evaluate(() => (window as any).Assisters.destroy())

    expect(await page.evaluate(() => document.querySelectorAll('assisters-widget').length)).toBe(0)
    expect(await page.evaluate(() => document.body.innerHTML)).toBe(bodyBefore)
    expect(await page.evaluate(() => document.head.querySelectorAll('style, link').length)).toBe(0)
    await expect.poll(() => stack.upstream.outcome.aborted).toBe(aborted + 1)
    // Nothing keeps running: no request, no error, no element coming back.
    const requests: string[] = []
    page.on('request', (request) => requests.push(request.url()))
    await page.waitForTimeout(500)
    expect(requests).toEqual([])
    expect(await page.evaluate(() => document.querySelectorAll('assisters-widget').length)).toBe(0)
  })
})
