/**
 * The owners' dashboard in real Chromium against the real server: the demo owner's one-time link,
 * sign-in, a key created with its domains (each entry checked as typed), its snippet copied and pasted
 * into a page on another origin where the chat works, revoked (the page's next message shows the 401
 * words), another key made primary, sign-out, and a second account's owner who never sees the
 * first's keys. Keyboard-only use and a phone width too; the keys page's screenshots go to docs/
 * with UPDATE_SCREENSHOTS=1, as the demo site's do.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { openStore } from '../../server/store/open.ts'
import { skipWithoutChromium } from './browser.ts'
import { useBrowserAndStack, type Stack } from './stack.ts'
import { answers, ask, errorBar, errorText, idle } from './widget.ts'

const UPDATING = process.env.UPDATE_SCREENSHOTS === '1'
const SCREENSHOTS = UPDATING
  ? fileURLToPath(new URL('../../docs/screenshots/', import.meta.url))
  : mkdtempSync(join(tmpdir(), 'assisters-screenshots-'))
afterAll(() => {
  if (!UPDATING) rmSync(SCREENSHOTS, { recursive: true, force: true })
})

const PASSWORD = 'a demo owner password'

/** Chooses the password on a one-time link's page; lands on API Keys. */
async function setPassword(page: Page, link: string, password = PASSWORD) {
  await page.goto(link)
  // The token leaves the address bar at once.
  await expect.poll(() => page.url()).not.toContain('#')
  await page.getByLabel('New password').fill(password)
  await page.getByLabel('The same password again').fill(password)
  await page.getByRole('button', { name: 'Save and sign in' }).click()
  await page.getByRole('heading', { name: 'API Keys' }).waitFor()
}

const row = (page: Page, name: string) => page.getByRole('row').filter({ has: page.getByRole('rowheader').filter({ hasText: name }) })

describe.skipIf(skipWithoutChromium)("the owners' dashboard", () => {
  const suite = useBrowserAndStack()
  let stack: Stack
  beforeEach(() => {
    stack = suite.stack
  })

  it('signs in, creates a key whose snippet chats on another site, revokes it, moves the primary and signs out', async () => {
    const page = await suite.newPage({ permissions: ['clipboard-read', 'clipboard-write'] })
    const problems: string[] = []
    page.on('console', (message) => message.type() === 'error' && problems.push(message.text()))
    page.on('pageerror', (error) => problems.push(error.message))

    await setPassword(page, stack.demo.owner.link)
    await expect.poll(() => row(page, 'Demo site').locator('.badge').textContent()).toBe('Primary')

    // Sign out, then back in with the new password.
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Sign in to your dashboard' }).waitFor()
    await page.getByLabel('Email').fill(stack.demo.owner.email)
    await page.getByLabel('Password').fill('not the password')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('Incorrect email or password')
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'API Keys' }).waitFor()

    // Create New Key: each domain entry checked by the server as it is typed.
    await page.getByRole('button', { name: 'Create New Key' }).click()
    const create = page.getByRole('dialog', { name: 'Create New Key' })
    await create.getByLabel('Name').fill('Test page <b>bold</b>')
    await create.getByLabel('Allowed domains (optional)').fill('HTTP://127.0.0.1/\n*.com')
    await expect
      .poll(async () =>
        (await create.getByRole('list', { name: 'How each domain will be stored' }).getByRole('listitem').allTextContents()).join('\n'),
      )
      .toMatch(/HTTP:\/\/127\.0\.0\.1\/ stored as 127\.0\.0\.1\n\*\.com refused: .*public suffix/)
    await create.getByRole('button', { name: 'Create key' }).click()
    await expect.poll(() => create.getByRole('alert').textContent()).toMatch(/public suffix/)
    // A screen reader hears it on the field itself: invalid, described by its hint and then the server's words.
    const domains = create.getByLabel('Allowed domains (optional)')
    expect(await domains.getAttribute('aria-invalid')).toBe('true')
    const description = await domains.evaluate((el) =>
      (el.getAttribute('aria-describedby') ?? '')
        .split(' ')
        .map((id) => el.ownerDocument.getElementById(id)?.textContent)
        .join(' | '),
    )
    expect(description).toMatch(/^One per line: .* \| .*public suffix/)
    expect(await create.getByLabel('Name').getAttribute('aria-invalid')).toBe(null)
    await create.getByLabel('Allowed domains (optional)').fill('127.0.0.1')
    await create.getByRole('button', { name: 'Create key' }).click()

    const shown = page.getByRole('dialog', { name: /^Your new key/ })
    await expect.poll(() => shown.textContent()).toContain("it won't be shown again")
    const key = await shown.getByLabel('API key').inputValue()
    expect(key).toMatch(/^ask_\w{42}$/)
    await shown.getByRole('button', { name: 'Copy snippet' }).click()
    await expect.poll(() => shown.getByRole('button', { name: 'Copied' }).count()).toBe(1)
    const snippet = await page.evaluate(() => navigator.clipboard.readText())
    expect(snippet).toBe(`<script src="${stack.demo.apiUrl}/widget.js" data-key="${key}" async></script>`)
    await shown.getByRole('button', { name: 'Done' }).click()

    // Listed by its prefix, its name shown as text (never as HTML), the full key nowhere on the page.
    const created = row(page, 'Test page <b>bold</b>')
    await expect.poll(() => created.textContent()).toContain(`${key.slice(0, 12)}…`)
    expect(await page.locator('main b').count()).toBe(0)
    expect(await page.content()).not.toContain(key)

    // The snippet, pasted into a page on another origin: the chat works there.
    const site = await suite.newPage()
    await site.goto(stack.page(`<h1>My site</h1>${snippet.replace('async>', 'data-open async>')}`))
    await ask(site, 'Hello from my site')
    await expect.poll(() => answers(site).first().textContent()).toContain('Hello from my site')
    await idle(site)

    // Revoke, confirmed: the site's next message gets the widget's 401 words.
    await created.getByRole('button', { name: /^Revoke/ }).click()
    const confirm = page.getByRole('dialog', { name: /^Revoke Test page/ })
    await expect.poll(() => confirm.textContent()).toContain('stops working on its next request')
    await confirm.getByRole('button', { name: 'Revoke key' }).click()
    await expect.poll(() => page.getByText('Revoked keys (1)').count()).toBe(1)
    expect(await created.count()).toBe(0)
    await ask(site, 'Still there?')
    await expect.poll(() => errorText(site)).toBe("This chat isn't set up correctly. Please tell the site owner.")

    // Set as Primary moves the badge.
    await row(page, 'Restricted to example.com')
      .getByRole('button', { name: /Set .* as primary/ })
      .click()
    await expect.poll(() => row(page, 'Restricted to example.com').locator('.badge').count()).toBe(1)
    expect(await row(page, 'Demo site').locator('.badge').count()).toBe(0)
    expect(await row(page, 'Demo site').getByRole('button', { name: 'Set Demo site as primary' }).count()).toBe(1)

    // Signed out: the dashboard's API refuses this browser.
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Sign in to your dashboard' }).waitFor()
    expect((await page.request.get(`${stack.demo.apiUrl}/dashboard/api/keys`)).status()).toBe(401)
    await page.goto(`${stack.demo.apiUrl}/dashboard/keys`)
    await page.getByRole('heading', { name: 'Sign in to your dashboard' }).waitFor()
    // The refused *.com (400) and the signed-out calls (401) show as failed loads; nothing else may fail.
    expect(problems.filter((text) => !/status of 40[01] /.test(text))).toEqual([])
  })

  it("shows a second account's owner only their own keys", async () => {
    const page = await suite.newPage()
    await setPassword(page, await stack.createOwner('second@example.com'))
    await expect.poll(() => page.getByText('No active keys yet').count()).toBe(1)
    expect(await page.locator('main').textContent()).not.toContain('Demo site')
    const listed = await page.request.get(`${stack.demo.apiUrl}/dashboard/api/keys`)
    expect(listed.status()).toBe(200)
    expect(await listed.json()).toEqual({ data: [] })
    expect(await listed.text()).not.toContain(stack.demo.account.accountId)
  })

  it('can be used with the keyboard alone: create a key, read it, close the dialog', async () => {
    const page = await suite.newPage()
    await setPassword(page, await stack.createOwner('keyboard@example.com'))
    // Tab to Create New Key, then only typing and keys.
    for (let i = 0; i < 20 && (await page.evaluate(() => document.activeElement?.textContent)) !== 'Create New Key'; i++)
      await page.keyboard.press('Tab')
    await page.keyboard.press('Enter')
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('create-name')
    await page.keyboard.type('Typed only')
    await page.keyboard.press('Enter') // submits the form
    const shown = page.getByRole('dialog', { name: 'Your new key: Typed only' })
    await shown.waitFor()
    await page.keyboard.press('Escape')
    await expect.poll(() => shown.count()).toBe(0)
    // The focus goes back to the button that opened the dialog.
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Create New Key')
    await expect.poll(() => row(page, 'Typed only').count()).toBe(1)

    // Buttons that go away with what they did hand the focus on, never to the page's body: Set as Primary
    // to the same key's first button, Revoke (confirmed) to the revoked keys' list it went to.
    await page.getByRole('button', { name: 'Create New Key' }).click()
    await page.getByLabel('Name').fill('Second')
    await page.keyboard.press('Enter')
    await page.getByRole('button', { name: 'Done' }).click()
    const focused = () => page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.textContent)
    await row(page, 'Second').getByRole('button', { name: 'Set Second as primary' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => row(page, 'Second').locator('.badge').count()).toBe(1)
    await expect.poll(focused).toBe('Edit Second')
    await page.keyboard.press('Tab')
    expect(await focused()).toBe('Revoke Second')
    await page.keyboard.press('Enter')
    await page.getByRole('dialog', { name: 'Revoke Second?' }).waitFor()
    await page.keyboard.press('Tab')
    expect(await focused()).toBe('Revoke key')
    await page.keyboard.press('Enter')
    await expect.poll(() => row(page, 'Second').count()).toBe(0)
    await expect.poll(focused).toBe('Revoked keys (1)')
  })

  it.each([
    ['desktop', { width: 1280, height: 720 }, 'dashboard-keys.png'],
    ['phone', { width: 390, height: 844 }, 'dashboard-keys-phone.png'],
  ] as const)(
    'lays out the keys page at %s width, without sideways scrolling, and takes its screenshot',
    async (device, viewport, file) => {
      const page = await suite.newPage({ viewport, colorScheme: 'light' })
      await setPassword(page, await stack.createOwner(`maria.${device}@lumen.example`, 'Lumen Notes'))
      for (const [name, domains] of [
        ['Production site', 'lumen.example\n*.lumen.example'],
        ['Staging', 'staging.lumen.example:8443'],
      ] as const) {
        await page.getByRole('button', { name: 'Create New Key' }).click()
        const create = page.getByRole('dialog', { name: 'Create New Key' })
        await create.getByLabel('Name').fill(name)
        await create.getByLabel('Allowed domains (optional)').fill(domains)
        await create.getByRole('button', { name: 'Create key' }).click()
        await page
          .getByRole('dialog', { name: /^Your new key/ })
          .getByRole('button', { name: 'Done' })
          .click()
        await expect.poll(() => row(page, name).count()).toBe(1)
      }
      const sideways = await page.evaluate(() => ({
        by: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        // The table may scroll inside its own box; nothing else may stick out.
        wide: [...document.querySelectorAll('body *')]
          .filter((el) => el.getBoundingClientRect().right > innerWidth && !el.parentElement?.closest('.table-wrap'))
          .map((el) => `${el.tagName}.${el.className}`),
      }))
      expect(sideways).toEqual({ by: 0, wide: [] })
      expect(await page.getByRole('button', { name: 'Create New Key' }).isVisible()).toBe(true)
      await page.screenshot({ path: join(SCREENSHOTS, file), fullPage: true })
    },
  )
})

describe.skipIf(skipWithoutChromium)('the Embed and Usage pages', () => {
  const suite = useBrowserAndStack()

  it("gives the new primary key's snippet with the options, previews the look, and charts the requests that follow", async () => {
    const stack = suite.stack
    const page = await suite.newPage({ permissions: ['clipboard-read', 'clipboard-write'] })
    await setPassword(page, await stack.createOwner('embed@lumen.example', 'Lumen Notes'))
    await page.getByRole('button', { name: 'Create New Key' }).click()
    const create = page.getByRole('dialog', { name: 'Create New Key' })
    await create.getByLabel('Name').fill('Website')
    await create.getByLabel('Allowed domains (optional)').fill('127.0.0.1')
    await create.getByRole('button', { name: 'Create key' }).click()
    const key = await page
      .getByRole('dialog', { name: /^Your new key/ })
      .getByLabel('API key')
      .inputValue()
    await page.getByRole('button', { name: 'Done' }).click()

    await page.getByRole('link', { name: 'Embed' }).click()
    await page.getByLabel('Title').fill('Ask "Lumen" <now>')
    // A comma belongs to its question: starters are one per line.
    await page.getByLabel('Starter questions').fill('Pricing, roughly?\nOpening hours?')
    const snippet = page.getByLabel('Snippet for Website, the primary key')
    await expect
      .poll(() => snippet.inputValue())
      .toBe(
        `<script src="${stack.demo.apiUrl}/widget.js" data-key="${key}" data-title="Ask &quot;Lumen&quot; &lt;now&gt;" data-starters="Pricing, roughly?|Opening hours?" async></script>`,
      )
    // The real widget in the corner shows the look.
    await expect.poll(() => page.locator('assisters-widget').getByRole('dialog', { name: 'Ask "Lumen" <now>' }).count()).toBe(1)
    await expect.poll(() => page.locator('assisters-widget .starter').allTextContents()).toEqual(['Pricing, roughly?', 'Opening hours?'])
    // Its key check passed (the server's preview stand-in): the look, not a refused key's words.
    await expect.poll(() => page.locator('assisters-widget').getByRole('dialog').getAttribute('aria-busy')).not.toBe('true')
    expect((await errorBar(page).count()) === 0 ? '' : await errorText(page)).toBe('')

    // The snippet on another site chats; the usage page then counts it.
    const site = await suite.newPage()
    await site.goto(stack.page(`<h1>Lumen</h1>${(await snippet.inputValue()).replace('async>', 'data-open async>')}`))
    await ask(site, 'Counted?')
    await expect.poll(() => answers(site).first().textContent()).toContain('Counted?')
    await idle(site)

    // Someone copies the key onto their own site: refused, and counted.
    const copycat = await fetch(`${stack.demo.apiUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, origin: 'https://copycat.example', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'assisters-chat-v1', messages: [{ role: 'user', content: 'Hi' }] }),
    })
    expect(copycat.status).toBe(403)

    await page.getByRole('link', { name: 'Usage' }).click()
    await expect.poll(() => page.locator('.totals dd').first().textContent()).toBe('1')
    await page.getByText('Requests as a table').click()
    const today = page
      .getByRole('table')
      .first()
      .getByRole('row')
      .filter({ hasText: new Date().toISOString().slice(0, 10) })
    await expect.poll(() => today.getByRole('cell').allTextContents()).toEqual([new Date().toISOString().slice(0, 10), '1'])
    await expect.poll(() => page.locator('.reasons li').first().textContent()).toBe('1 403: a website the key does not allow')
    const where = page.getByRole('table').last()
    await expect.poll(() => where.getByRole('row', { name: stack.pageOrigin }).textContent()).toMatch(/Website\s*Allowed\s*2/) // the widget's key check on opening, then the question
    expect(await where.getByRole('row', { name: 'https://copycat.example' }).textContent()).toMatch(/Website\s*Refused \(403\)\s*1/)
    await page.getByText('Requests as a table').click()
    await page.setViewportSize({ width: 1280, height: 900 })
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-usage.png'), fullPage: true })

    // Later, in another tab, the key is known only by its prefix.
    const later = await suite.newPage()
    await later.goto(`${stack.demo.apiUrl}/dashboard/sign-in`)
    await later.getByLabel('Email').fill('embed@lumen.example')
    await later.getByLabel('Password').fill(PASSWORD)
    await later.getByRole('button', { name: 'Sign in' }).click()
    await later.getByRole('heading', { name: 'API Keys' }).waitFor()
    await later.getByRole('link', { name: 'Embed' }).click()
    await expect
      .poll(() => later.getByLabel('Snippet for Website, the primary key').inputValue())
      .toContain(`data-key="${key.slice(0, 12)}…"`)
    await expect.poll(() => later.getByText('replace').textContent()).toContain('with the key you saved')
    // Starters the widget would refuse, all of them, are refused here, where the owner reads it.
    await later.getByLabel('Starter questions').fill('1\n2\n3\n4\n5\n6\n7')
    await expect.poll(() => later.getByRole('alert').textContent()).toBe('Up to 6 starter questions (here 7).')
    expect(await later.getByLabel('Starter questions').getAttribute('aria-invalid')).toBe('true')
  })
})

describe.skipIf(skipWithoutChromium)('the Settings page', () => {
  const suite = useBrowserAndStack()

  it('changes the password (the other browser is signed out, this one stays), lists the owners, and signs out everywhere', async () => {
    const stack = suite.stack
    const page = await suite.newPage()
    await setPassword(page, await stack.createOwner('settings@lumen.example', 'Lumen Notes'))
    const phone = await suite.newPage()
    await phone.goto(`${stack.demo.apiUrl}/dashboard/sign-in`)
    await phone.getByLabel('Email').fill('settings@lumen.example')
    await phone.getByLabel('Password').fill(PASSWORD)
    await phone.getByRole('button', { name: 'Sign in' }).click()
    await phone.getByRole('heading', { name: 'API Keys' }).waitFor()

    await page.getByRole('link', { name: 'Settings' }).click()
    await expect.poll(() => page.getByRole('listitem').filter({ hasText: 'settings@lumen.example' }).count()).toBe(1)
    await page.getByLabel('Current password').fill('not my password')
    await page.getByLabel('New password').fill('a brand new password')
    await page.getByRole('button', { name: 'Change password' }).click()
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('The current password is not correct')
    await page.getByLabel('Current password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Change password' }).click()
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Password changed')

    // The other browser's next call finds its session gone and shows the sign-in page.
    await phone.getByRole('link', { name: 'Usage' }).click()
    await phone.getByRole('heading', { name: 'Sign in to your dashboard' }).waitFor()
    expect((await page.request.get(`${stack.demo.apiUrl}/dashboard/api/me`)).status()).toBe(200)

    await page.getByRole('button', { name: 'Sign out everywhere' }).click()
    await page.getByRole('heading', { name: 'Sign in to your dashboard' }).waitFor()
    expect((await page.request.get(`${stack.demo.apiUrl}/dashboard/api/me`)).status()).toBe(401)
  })

  it("sets a key's limits in its dialogs and the account's daily budget in Settings, and names each refusal on Usage", async () => {
    const stack = suite.stack
    const page = await suite.newPage({ locale: 'en-US' })
    await setPassword(page, await stack.createOwner('limits@lumen.example', 'Lumen Notes'))
    const keysNow = async () => (await (await page.request.get(`${stack.demo.apiUrl}/dashboard/api/keys`)).json()).data

    // Create New Key: the visitor limit's default follows the allowed domains (VISITOR_RPM is 20).
    await page.getByRole('button', { name: 'Create New Key' }).click()
    const create = page.getByRole('dialog', { name: 'Create New Key' })
    const visitor = create.getByLabel('Requests per minute from one visitor')
    expect(await visitor.locator('option').first().textContent()).toBe('Server default (none without allowed domains)')
    await create.getByLabel('Name').fill('Shop')
    await create.getByLabel('Allowed domains (optional)').fill('shop.lumen.example')
    await expect.poll(() => visitor.locator('option').first().textContent()).toBe('Server default (20)')
    await visitor.selectOption('custom')
    await create.getByLabel('Visitor requests per minute').fill('5')
    await create.getByLabel('Daily token budget (optional)').fill('lots')
    await create.getByLabel('Accept system messages from the page').uncheck()
    await create.getByRole('button', { name: 'Create key' }).click()
    await expect.poll(() => create.getByRole('alert').textContent()).toMatch(/^daily_token_limit must be a whole number/)
    await create.getByLabel('Daily token budget (optional)').fill('100,000')
    await create.getByRole('button', { name: 'Create key' }).click()
    await page
      .getByRole('dialog', { name: /^Your new key/ })
      .getByRole('button', { name: 'Done' })
      .click()

    await expect
      .poll(() => row(page, 'Shop').getByRole('cell').nth(2).textContent())
      .toBe('60/min5/min a visitor100,000 tokens a dayOnly your instructions')
    expect(await keysNow()).toEqual([
      expect.objectContaining({
        name: 'Shop',
        visitor_rpm: 5,
        visitor_rpm_is_default: false,
        daily_token_limit: 100_000,
        allow_system_messages: false,
      }),
    ])

    // Edit: the form shows what is set; back to the default, no budget, system messages accepted.
    await row(page, 'Shop').getByRole('button', { name: 'Edit Shop' }).click()
    const edit = page.getByRole('dialog', { name: 'Edit Shop' })
    expect(await edit.getByLabel('Visitor requests per minute').inputValue()).toBe('5')
    expect(await edit.getByLabel('Daily token budget (optional)').inputValue()).toBe('100000')
    expect(await edit.getByLabel('Accept system messages from the page').isChecked()).toBe(false)
    await edit.getByLabel('Requests per minute from one visitor').selectOption('default')
    await edit.getByLabel('Daily token budget (optional)').fill('')
    await edit.getByLabel('Accept system messages from the page').check()
    await edit.getByRole('button', { name: 'Save changes' }).click()
    await expect.poll(() => edit.count()).toBe(0)
    await expect.poll(() => row(page, 'Shop').getByRole('cell').nth(2).textContent()).toBe('60/min20/min a visitor')
    const [shop] = await keysNow()
    expect(shop).toMatchObject({ visitor_rpm: 20, visitor_rpm_is_default: true, daily_token_limit: null, allow_system_messages: true })

    // Settings: the account's budget across all keys, refused with the server's words, then saved.
    await page.getByRole('link', { name: 'Settings' }).click()
    const budget = page.getByLabel('Tokens per UTC day, across all keys (optional)')
    await budget.fill('0')
    await page.getByRole('button', { name: 'Save budget' }).click()
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/^daily_token_limit must be a whole number from 1/)
    await budget.fill('250000')
    await page.getByRole('button', { name: 'Save budget' }).click()
    await expect.poll(() => page.getByRole('status').textContent()).toBe('Saved: at most 250,000 tokens a day across all keys.')
    expect(await (await page.request.get(`${stack.demo.apiUrl}/dashboard/api/account`)).json()).toMatchObject({
      daily_token_limit: 250_000,
    })
    await page.reload()
    await expect.poll(() => page.getByLabel('Tokens per UTC day, across all keys (optional)').inputValue()).toBe('250000')

    // Usage: the refusals the server records for issue 16's limits, each in the owner's words.
    const store = await openStore(stack.demo.config.database)
    const day = new Date().toISOString().slice(0, 10)
    await store.addActivity(
      [
        { key_id: shop.id, day, reason: 'rate_limited', count: 4 },
        { key_id: shop.id, day, reason: 'visitor_rate_limited', count: 3 },
        { key_id: shop.id, day, reason: 'daily_token_limit', count: 2 },
        { key_id: shop.id, day, reason: 'too_many_streams', count: 1 },
      ],
      [],
      50,
    )
    await store.close()
    await page.getByRole('link', { name: 'Usage' }).click()
    await expect
      .poll(() => page.locator('.reasons li').allTextContents())
      .toEqual([
        '4 429: over the rate limit',
        '3 429: visitor sending too fast',
        '2 429: daily token budget reached',
        '1 429: too many answers in progress at once',
      ])
    await page.getByText('Refusals as a table').click()
    expect(await page.getByRole('row', { name: day }).last().getByRole('cell').allTextContents()).toEqual([day, '10'])
  })
})
