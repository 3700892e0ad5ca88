/**
 * The newcomer's path on the demo site, in real Chromium: the launcher, the dialog, a streamed answer
 * seen growing, and the conversation still there after a reload. Then an answer full of XSS
 * payloads, which must run nothing and link only where it is safe.
 */
import type { Page } from 'playwright-core'
import { beforeEach, describe, expect, it } from 'vitest'
import { skipWithoutChromium } from './browser.ts'
import { useBrowserAndStack, type Stack } from './stack.ts'
import { answers, ask, dialog, focused, idle, launcher, questions } from './widget.ts'

describe.skipIf(skipWithoutChromium)('chatting on the demo site', () => {
  const suite = useBrowserAndStack()
  let stack: Stack
  let page: Page
  beforeEach(async () => {
    stack = suite.stack
    page = await suite.newPage()
  })

  it('opens from the launcher, streams an answer as it grows, and keeps the conversation across a reload', async () => {
    stack.upstream.answerWith(() => ({ pieces: ['Lumen ', 'is ', 'free ', 'for ', 'three ', 'people.'], delayMs: 120 }))
    await page.goto(stack.demo.siteUrl)
    expect(new URL(page.url()).origin).not.toBe(new URL(stack.demo.apiUrl).origin)

    await launcher(page).click()
    await expect.poll(() => dialog(page).getAttribute('aria-labelledby')).toBe('assisters-title')
    expect(await dialog(page).textContent()).toContain('Ask Lumen')
    await expect.poll(() => focused(page)).toBe('Message')

    // Every text the answer bubble shows, as the page renders it.
    await page.evaluate(() => {
      const seen: string[] = ((window as any).seen = [])
      const root = document.querySelector('assisters-widget')!.shadowRoot!
      new MutationObserver(() => {
        const text = root.querySelector('.answer .msg')?.textContent
        if (text && text !== seen.at(-1)) seen.push(text)
      }).observe(root, { subtree: true, childList: true, characterData: true })
    })
    await ask(page, 'What does Lumen cost?')
    await expect.poll(() => answers(page).first().textContent()).toBe('Lumen is free for three people.')
    await idle(page)

    const seen: string[] = await page.evaluate(() => (window as any).seen)
    expect(seen.length).toBeGreaterThanOrEqual(3)
    for (const [i, text] of seen.entries()) {
      expect('Lumen is free for three people.'.startsWith(text)).toBe(true)
      if (i > 0) expect(text.length).toBeGreaterThan(seen[i - 1]!.length)
    }
    expect(stack.upstream.requests.at(-1)?.messages.at(-1)).toEqual({ role: 'user', content: 'What does Lumen cost?' })

    await page.reload()
    // The conversation is kept, not whether the panel was open.
    expect(await launcher(page).getAttribute('aria-expanded')).toBe('false')
    await launcher(page).click()
    await expect.poll(() => questions(page).allTextContents()).toEqual(['What does Lumen cost?'])
    expect(await answers(page).allTextContents()).toEqual(['Lumen is free for three people.'])
    // And the next question carries the history.
    await ask(page, 'And for ten?')
    await expect.poll(() => answers(page).count()).toBe(2)
    expect(stack.upstream.requests.at(-1)?.messages.map((message) => message.content)).toEqual(
      expect.arrayContaining(['What does Lumen cost?', 'Lumen is free for three people.', 'And for ten?']),
    )
  })

  it('runs nothing from an answer full of XSS payloads, and links only to safe URLs', async () => {
    const payloads = [
      '<script>window.pwned = "script"</script>',
      '<img src=x onerror="window.pwned = \'img\'">',
      '<svg onload="window.pwned = \'svg\'"></svg>',
      '<iframe src="javascript:window.pwned = \'iframe\'"></iframe>',
      '<a href="javascript:window.pwned = \'anchor\'">raw anchor</a>',
      '<b onmouseover="window.pwned = \'hover\'">hover me</b>',
      '[a javascript link](javascript:window.pwned="link")',
      '[a JaVaScRiPt link](  JaVaScRiPt:window.pwned="mixed")',
      '[a data link](data:text/html,<script>parent.pwned="data"</script>)',
      '[a vbscript link](vbscript:msgbox)',
      '**Docs:** [the safe link](https://example.com/docs?a=1&b=2)',
    ]
    stack.upstream.answerWith(() => ({ pieces: payloads.map((line) => line + '\n\n'), delayMs: 5 }))
    const dialogs: string[] = []
    page.on('dialog', (alert) => {
      dialogs.push(alert.message())
      void alert.dismiss()
    })
    const url = stack.page(`<h1>Shop</h1>${stack.embed({ 'data-open': '' })}`)
    await page.goto(url)

    await ask(page, 'Show me something nasty')
    await expect.poll(() => answers(page).first().textContent()).toContain('the safe link')
    await idle(page)
    const answer = answers(page).first()
    // As markdown, once the panel's answers' file has loaded (plain text till then).
    await expect.poll(() => answer.getAttribute('class')).toBe('msg')
    // Hover and click everything in the answer, as a curious visitor might.
    for (const element of await answer.locator('*').all()) await element.hover()
    for (const text of ['a javascript link', 'a JaVaScRiPt link', 'a data link', 'raw anchor']) {
      await answer.getByText(text).first().click()
    }

    expect(await page.evaluate(() => (window as any).pwned)).toBeUndefined()
    expect(dialogs).toEqual([])
    expect(page.context().pages()).toHaveLength(1)
    const rendered = await answer.evaluate((bubble) => ({
      tags: [...new Set([...bubble.querySelectorAll('*')].map((el) => el.tagName.toLowerCase()))].sort(),
      handlers: [...bubble.querySelectorAll('*')].flatMap((el) => el.getAttributeNames().filter((name) => name.startsWith('on'))),
      links: [...bubble.querySelectorAll('a')].map((a) => ({ href: a.href, target: a.target, rel: a.rel, text: a.textContent })),
      text: bubble.textContent,
    }))
    expect(rendered.tags.every((tag) => ['a', 'br', 'code', 'em', 'p', 'strong'].includes(tag))).toBe(true)
    expect(rendered.handlers).toEqual([])
    expect(rendered.links).toEqual([
      { href: 'https://example.com/docs?a=1&b=2', target: '_blank', rel: 'noopener noreferrer', text: 'the safe link' },
    ])
    // The payloads show as text, which is what the model said.
    expect(rendered.text).toContain('<script>window.pwned = "script"</script>')
    expect(rendered.text).toContain('<img src=x onerror=')
  })
})
