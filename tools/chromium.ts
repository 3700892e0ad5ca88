/**
 * Real Chromium, driven by playwright-core, launched the way this machine allows: shared by the
 * browser suite (test/e2e) and the widget benchmark (bench/widget.ts), neither of which owns it.
 */
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

export const chromiumMissing = !existsSync(CHROMIUM)

/** A fresh headless Chromium; Playwright gives each launch its own empty profile folder. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The closed network here refuses Chromium's background connections; keep it from making any.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}
