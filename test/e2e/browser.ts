/** The browser suite's rule: outside CI a machine without Chromium skips it (loudly, see global-setup.ts); in CI it fails. */
import { chromiumMissing } from '../../tools/chromium.ts'

export const skipWithoutChromium = chromiumMissing && !process.env.CI
