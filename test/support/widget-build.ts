/**
 * Global setup shared by the projects that need the real widget (the bundle test and the browser
 * suite): one production build per run, into a scratch folder (never touching dist/), whichever
 * of them run. Vitest loads a global setup once per project, so the build is kept on globalThis,
 * which the projects share, and its folder is removed after the last of them has finished.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestProject } from 'vitest/node'
import { buildWidget } from '../../demo/build-widget.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

declare module 'vitest' {
  export interface ProvidedContext {
    /** The scratch folder holding this run's build. */
    widgetDir: string
    /** Its widget.js. */
    widgetPath: string
  }
}

interface SharedBuild {
  dir: Promise<string>
  users: number
}

const shared = globalThis as typeof globalThis & { assistersWidgetBuild?: SharedBuild }

export default async function setup(project: TestProject) {
  const build = (shared.assistersWidgetBuild ??= {
    dir: (async () => {
      const outDir = mkdtempSync(join(tmpdir(), 'assisters-widget-'))
      await buildWidget(ROOT, { outDir, quiet: true })
      return outDir
    })(),
    users: 0,
  })
  build.users++
  const dir = await build.dir
  project.provide('widgetDir', dir)
  project.provide('widgetPath', join(dir, 'widget.js'))
  return () => {
    if (--build.users > 0) return
    rmSync(dir, { recursive: true, force: true })
    delete shared.assistersWidgetBuild
  }
}
