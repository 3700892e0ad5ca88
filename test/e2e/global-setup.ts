/**
 * Once per run of the browser suite: insist on Chromium when CI is set, so a CI machine without it
 * fails instead of passing with the suite skipped. (The widget it serves is built by
 * test/support/widget-build.ts.)
 */
import { CHROMIUM, chromiumMissing } from '../../tools/chromium.ts'

export default function setup() {
  if (!chromiumMissing) return
  const message = `Chromium is not at ${CHROMIUM}: install it with apt-get install -y chromium (or set CHROMIUM_PATH)`
  if (process.env.CI) throw new Error(`The browser suite cannot run in CI. ${message}`)
  console.warn(`\n  SKIPPING the browser suite. ${message}\n`)
}
