/**
 * Global setup for the browser suite: one production build of the owners' dashboard per run, into a
 * scratch folder (never touching dashboard/dist), removed once the suite has finished.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestProject } from 'vitest/node'
import { buildDashboard } from '../../demo/build-dashboard.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

declare module 'vitest' {
  export interface ProvidedContext {
    /** The scratch folder holding this run's dashboard build. */
    dashboardDir: string
  }
}

export default async function setup(project: TestProject) {
  const outDir = mkdtempSync(join(tmpdir(), 'assisters-dashboard-'))
  await buildDashboard(ROOT, { outDir, quiet: true })
  project.provide('dashboardDir', outDir)
  return () => rmSync(outDir, { recursive: true, force: true })
}
