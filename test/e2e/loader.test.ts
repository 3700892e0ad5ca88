/**
 * The loader and the panel in real Chromium: a page whose visitor never reaches for the chat fetches
 * the loader alone; intent fetches the panel, and the panel its answers' file; a panel that cannot
 * load, or whose bytes are not the ones built with the loader, leaves words on the launcher and a
 * retry on the next click; an answers' file whose bytes are not the ones built is refused, and a
 * question asked meanwhile gets "Try again", which asks for the file again; a page
 * whose CSP allows no inline styles shows the widget exactly as a page without a CSP does.
 */
import type { Page } from 'playwright-core'
import { beforeEach, describe, expect, it } from 'vitest'
import { skipWithoutChromium } from './browser.ts'
import { useBrowserAndStack, type Stack } from './stack.ts'
import { answers, ask, dialog, errorBar, errorText, focused, idle, launcher, pixelDifference, questions } from './widget.ts'

const PAGE = `<h1>Garden shop</h1><p>Seeds, tools and advice.</p>`
const PANEL = /\/panel-[0-9a-f]{10}\.js$/
const ANSWERS = /\/panel-answers-[0-9a-f]{10}\.js$/

describe.skipIf(skipWithoutChromium)('the loader and the panel', () => {
  const suite = useBrowserAndStack()
  let stack: Stack
  beforeEach(() => void (stack = suite.stack))

  /** A page that records every request it makes to the API origin (paths only) and every console error. */
  async function visit(url: string, page?: Page) {
    page ??= await suite.newPage({ viewport: { width: 1280, height: 800 } })
    const requests: string[] = []
    const problems: string[] = []
    page.on('request', (request) => {
      if (request.url().startsWith(stack.demo.apiUrl)) requests.push(new URL(request.url()).pathname)
    })
    // The test pages have no favicon; the browser's own request for one is no problem of the widget's.
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) problems.push(message.text())
    })
    page.on('pageerror', (error) => problems.push(error.message))
    await page.goto(url)
    await launcher(page).waitFor()
    return { page, requests, problems }
  }

  it('fetches only the loader on a page where nobody reaches for the chat, and the panel on the first hover', async () => {
    const { page, requests, problems } = await visit(stack.page(PAGE + stack.embed()))
    // Long enough for anything started at load (an idle-time prefetch, a timer) to have gone out.
    await page.waitForTimeout(1500)
    expect(requests).toEqual(['/widget.js'])

    const panel = page.waitForResponse((response) => PANEL.test(response.url()))
    await launcher(page).hover()
    expect((await panel).status()).toBe(200)
    expect(await dialog(page).count()).toBe(0) // hovering fetches; only a click opens
    expect(requests.filter((path) => PANEL.test(path))).toHaveLength(1)
    expect(problems).toEqual([])
  })

  it('opens with the conversation after a reload, hover then click, focus in the composer', async () => {
    const { page } = await visit(stack.page(PAGE + stack.embed()))
    await launcher(page).click() // cold: no hover first
    await ask(page, 'Do you sell tomato seeds?')
    await expect.poll(() => answers(page).first().textContent()).toContain('This answer streams.')
    await idle(page)

    await page.reload()
    const panel = page.waitForResponse((response) => PANEL.test(response.url()))
    await launcher(page).hover()
    await panel
    await launcher(page).click()
    await expect.poll(() => questions(page).allTextContents()).toEqual(['Do you sell tomato seeds?'])
    await expect.poll(() => focused(page)).toBe('Message')
  })

  it('says so on the launcher when the panel cannot load or was tampered with, and loads it on the next click', async () => {
    const { page, problems } = await visit(stack.page(PAGE + stack.embed()))
    const note = page.locator('assisters-widget .note')

    // Offline, or blocked by an extension.
    await page.route(PANEL, (route) => route.abort('internetdisconnected'))
    await launcher(page).click()
    await expect.poll(() => note.textContent()).toBe("The chat couldn't load. Try again.")
    expect(await dialog(page).count()).toBe(0)

    // Served, readable cross-origin, but not the bytes this loader was built with: refused by the integrity check.
    await page.unroute(PANEL)
    await page.route(PANEL, (route) =>
      route.fulfill({
        status: 200,
        headers: { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' },
        body: 'document.title = "tampered"',
      }),
    )
    await launcher(page).click()
    await expect.poll(() => problems.some((text) => /integrity/i.test(text))).toBe(true)
    await expect.poll(() => note.textContent()).toBe("The chat couldn't load. Try again.")
    expect(await page.title()).toBe('Test page')
    expect(await dialog(page).count()).toBe(0)

    await page.unroute(PANEL)
    await launcher(page).click()
    await expect.poll(() => dialog(page).count()).toBe(1)
    expect(await note.textContent()).toBe('')
    await ask(page, 'Hello?')
    await expect.poll(() => answers(page).first().textContent()).toContain('This answer streams.')
  })

  it('loads the answers’ file once, after the panel; refuses one whose bytes are not the ones built, and asks for it again on "Try again"', async () => {
    stack.upstream.answerWith(() => ({ pieces: ['**Bold** and `code`', '\nsecond line'], delayMs: 5 }))
    const { page, requests, problems } = await visit(stack.page(PAGE + stack.embed()))
    const answersFile = page.waitForResponse((response) => ANSWERS.test(response.url()))
    await launcher(page).hover()
    expect((await answersFile).status()).toBe(200)
    await launcher(page).click()
    await ask(page, 'Format?')
    await expect.poll(() => answers(page).first().locator('strong').textContent()).toBe('Bold')
    await idle(page)
    await ask(page, 'Again?')
    await expect.poll(() => answers(page).count()).toBe(2)
    await launcher(page).click()
    await launcher(page).click()
    expect(requests.filter((path) => ANSWERS.test(path))).toHaveLength(1)
    expect(requests.findIndex((path) => PANEL.test(path))).toBeLessThan(requests.findIndex((path) => ANSWERS.test(path)))
    expect(problems).toEqual([])

    // Served, readable cross-origin, but not the bytes this panel was built with: refused by the integrity check.
    const tampered = await suite.newPage({ viewport: { width: 1280, height: 800 } })
    await tampered.route(ANSWERS, (route) =>
      route.fulfill({
        status: 200,
        headers: { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' },
        body: 'document.title = "tampered"',
      }),
    )
    const second = await visit(stack.page(PAGE + stack.embed()), tampered)
    await launcher(tampered).click()
    await expect.poll(() => second.problems.some((text) => /integrity/i.test(text))).toBe(true)
    await ask(tampered, 'Format?')
    await expect.poll(() => errorText(tampered)).toContain('You seem to be offline. Check your connection.')
    expect(await tampered.title()).toBe('Test page')
    expect(await answers(tampered).count()).toBe(0)

    await tampered.unroute(ANSWERS)
    await tampered.getByRole('button', { name: 'Try again' }).click()
    await expect.poll(() => answers(tampered).first().locator('strong').textContent()).toBe('Bold')
    expect(await errorBar(tampered).count()).toBe(0)
  })

  it('lays the panel out right to left on an Arabic page, in Arabic', async () => {
    const head = `<script>document.documentElement.lang = 'ar'; document.documentElement.dir = 'rtl'</script>`
    const { page, problems } = await visit(stack.page(PAGE + stack.embed(), head))
    await launcher(page).click()
    await dialog(page).waitFor()
    expect(await dialog(page).getAttribute('dir')).toBe('rtl')
    expect(await page.locator('assisters-widget .title').textContent()).toBe('تحدّث معنا')
    // The header mirrored: the title on the right, the close button on the left.
    const title = (await page.locator('assisters-widget .title').boundingBox())!
    const close = (await page.getByRole('button', { name: 'إغلاق المحادثة' }).last().boundingBox())!
    expect(close.x).toBeLessThan(title.x)
    await page.getByRole('textbox', { name: 'الرسالة' }).fill('Do you ship abroad?')
    await page.getByRole('textbox', { name: 'الرسالة' }).press('Enter')
    await expect.poll(() => answers(page).first().textContent()).toContain('This answer streams.')
    // An English question in an Arabic panel: its bubble on the visitor's side (the left), its text left to right.
    const question = page.locator('assisters-widget .msg.me')
    expect(await question.evaluate((el) => getComputedStyle(el).direction)).toBe('ltr')
    const panel = (await dialog(page).boundingBox())!
    expect((await question.boundingBox())!.x - panel.x).toBeLessThan(40)
    expect(problems).toEqual([])
  })

  it('runs on a page that enforces Trusted Types once its default policy admits the API’s scripts, as the README shows, and says it couldn’t load without one', async () => {
    stack.upstream.answerWith(() => ({ pieces: ['**Bold**'], delayMs: 5 }))
    const api = stack.demo.apiUrl
    const enforcing = `<meta http-equiv="Content-Security-Policy" content="script-src 'unsafe-inline' ${api}; require-trusted-types-for 'script'">`
    const policy = `<script>
      trustedTypes.createPolicy('default', {
        createScriptURL: (url) => {
          if (new URL(url, location.href).origin === '${api}') return url
          throw new TypeError(url + ' is not a script of ours')
        },
      })
    </script>`
    const without = await visit(stack.page(PAGE + stack.embed(), enforcing))
    await launcher(without.page).click()
    await expect.poll(() => without.page.locator('assisters-widget .note').textContent()).toBe("The chat couldn't load. Try again.")

    const { page, problems } = await visit(stack.page(PAGE + stack.embed(), enforcing + policy))
    await launcher(page).click()
    await ask(page, 'Format?')
    // The answers' file came through the policy too: the answer is markdown.
    await expect.poll(() => answers(page).first().locator('strong').textContent()).toBe('Bold')
    expect(problems).toEqual([])
  })

  it('reads the owner’s English title and starters left to right in an Arabic panel, and wraps a starter’s long word', async () => {
    const starters = 'Where is my order?|Tracking: https://shop.example/orders/0123456789abcdef0123456789abcdef0123456789abcdef'
    const { page } = await visit(
      stack.page(
        PAGE + stack.embed({ 'data-lang': 'ar', 'data-title': 'Ask Acme.', 'data-starters': starters }),
        '<meta name="viewport" content="width=device-width">',
      ),
      await suite.newPage({ viewport: { width: 390, height: 700 }, isMobile: true, hasTouch: true }),
    )
    await launcher(page).tap()
    await dialog(page).waitFor()
    expect(await dialog(page).getAttribute('dir')).toBe('rtl')
    const direction = (el: Element) => getComputedStyle(el).direction
    expect(await page.locator('assisters-widget .title').evaluate(direction)).toBe('ltr')
    expect(await page.locator('assisters-widget .starter').evaluateAll((all) => all.map((el) => getComputedStyle(el).direction))).toEqual([
      'ltr',
      'ltr',
    ])
    // Nothing of a starter is cut off at the panel's edge.
    const log = (await page.locator('assisters-widget .log').boundingBox())!
    for (const box of await page
      .locator('assisters-widget .starter')
      .evaluateAll((all) => all.map((el) => el.getBoundingClientRect().toJSON()))) {
      expect(box.x).toBeGreaterThanOrEqual(log.x)
      expect(box.x + box.width).toBeLessThanOrEqual(log.x + log.width)
    }
  })

  it('shows the same widget on a page whose CSP allows no inline styles as on a page without a CSP', async () => {
    const api = stack.demo.apiUrl
    const csp = `default-src 'none'; script-src ${api}; connect-src ${api}; style-src 'self'`
    const strict = await visit(stack.page(PAGE + stack.embed(), `<meta http-equiv="Content-Security-Policy" content="${csp}">`))
    const plain = await visit(stack.page(PAGE + stack.embed()))
    const violations = await strict.page.evaluate(() => {
      const seen: string[] = ((window as any).violations = [])
      document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`))
      return seen
    })
    for (const { page } of [strict, plain]) {
      await launcher(page).click()
      await dialog(page).waitFor()
      await idle(page)
    }
    const [a, b] = await Promise.all([plain.page, strict.page].map((page) => page.screenshot({ animations: 'disabled', caret: 'hide' })))
    expect(await pixelDifference(plain.page, a!, b!)).toEqual({ pixels: 0, maxDelta: 0 })
    expect(violations).toEqual([])
    expect(await strict.page.evaluate(() => (window as any).violations)).toEqual([])
    expect(strict.problems).toEqual([])
  })
})
