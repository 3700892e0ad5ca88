/**
 * Once per run of the browser suite: build the real widget into a scratch folder (never touching
 * dist/), and insist on Chromium when CI is set, so a CI machine without it fails instead of
 * passing with the suite skipped.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestProject } from 'vitest/node'
import { buildWidget } from '../../demo/build-widget.ts'
import { CHROMIUM, chromiumMissing } from '../../tools/chromium.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

declare module 'vitest' {
  export interface ProvidedContext {
    widgetPath: string
  }
}

export default async function setup(project: TestProject) {
  if (chromiumMissing) {
    const message = `Chromium is not at ${CHROMIUM}: install it with apt-get install -y chromium (or set CHROMIUM_PATH)`
    if (process.env.CI) throw new Error(`The browser suite cannot run in CI. ${message}`)
    console.warn(`\n  SKIPPING the browser suite. ${message}\n`)
  }
  const outDir = mkdtempSync(join(tmpdir(), 'assisters-e2e-widget-'))
  await buildWidget(ROOT, { outDir, quiet: true })
  project.provide('widgetPath', join(outDir, 'widget.js'))
  return () => rmSync(outDir, { recursive: true, force: true })
}
