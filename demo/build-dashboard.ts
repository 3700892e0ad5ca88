/**
 * `npm start` builds the owners' dashboard (dashboard/dist) when it must: when its page is missing or
 * older than any of its sources, its build config or the lockfile.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'vite'

/** True when `outDir`/index.html is missing or older than a source file, the config or the lockfile. */
export function dashboardIsStale(root: string, outDir = join(root, 'dashboard', 'dist')): boolean {
  const page = join(outDir, 'index.html')
  if (!existsSync(page)) return true
  const built = statSync(page).mtimeMs
  return [...sources(join(root, 'dashboard')), join(root, 'package-lock.json')].some((file) => statSync(file).mtimeMs > built)
}

/** The production build (the second half of `npm run build`), in-process; a failed build throws. */
export async function buildDashboard(root: string, options: { outDir?: string; quiet?: boolean } = {}): Promise<void> {
  const { outDir = join(root, 'dashboard', 'dist'), quiet = false } = options
  await build({
    configFile: join(root, 'dashboard', 'vite.config.ts'),
    logLevel: quiet ? 'silent' : 'warn',
    build: { outDir, emptyOutDir: true },
  })
}

/** Every file under the dashboard's folder but its build output. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(entry.parentPath, entry.name)
    if (entry.isDirectory()) return entry.name === 'dist' ? [] : sources(path)
    return entry.isFile() ? [path] : []
  })
}
