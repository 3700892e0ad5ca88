/**
 * The Settings page's sessions in real Chromium: an owner signed in on two browsers sees both, ends
 * the other one (whose next step lands on the sign-in page), and signs this one out from the list.
 */
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { skipWithoutChromium } from './browser.ts'
import { useBrowserAndStack } from './stack.ts'

const PASSWORD = 'a sessions owner password'
const EMAIL = 'sessions@lumen.example'

async function signIn(page: Page, apiUrl: string) {
  await page.goto(`${apiUrl}/dashboard/sign-in`)
  await page.getByLabel('Email').fill(EMAIL)
  await page.getByLabel('Password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'API Keys' }).waitFor()
}

describe.skipIf(skipWithoutChromium)("the Settings page's sessions", () => {
  const suite = useBrowserAndStack()

  it('lists both browsers, ends the other one, and signs this one out', async () => {
    const stack = suite.stack
    const page = await suite.newPage()
    await page.goto(await stack.createOwner(EMAIL, 'Lumen Sessions'))
    await page.getByLabel('New password').fill(PASSWORD)
    await page.getByLabel('The same password again').fill(PASSWORD)
    await page.getByRole('button', { name: 'Save and sign in' }).click()
    await page.getByRole('heading', { name: 'API Keys' }).waitFor()
    const laptop = await suite.newPage()
    await signIn(laptop, stack.demo.apiUrl)

    await page.getByRole('link', { name: 'Settings' }).click()
    const sessions = page.getByRole('list', { name: 'Signed-in browsers' }).getByRole('listitem')
    await expect.poll(() => sessions.count()).toBe(2)
    expect(await sessions.filter({ hasText: 'This browser' }).count()).toBe(1)

    await sessions.filter({ hasText: 'Another browser' }).getByRole('button', { name: 'End session' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => sessions.count()).toBe(1)
    // Its button went with it: the focus goes to the list, not to the page's body.
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Signed-in browsers')
    // The laptop's next call finds its session gone and shows the sign-in page.
    await laptop.getByRole('link', { name: 'Usage' }).click()
    await laptop.getByRole('heading', { name: 'Sign in to your dashboard' }).waitFor()

    await sessions.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Sign in to your dashboard' }).waitFor()
    expect((await page.request.get(`${stack.demo.apiUrl}/dashboard/api/me`)).status()).toBe(401)
  })
})
