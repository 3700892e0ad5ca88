/**
 * `npm start` builds the widget when it must: when dist/widget.js is missing or older than anything
 * it is built from, so a newcomer never sees a stale widget and a second start costs nothing.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'vite'

const INPUTS = ['src', 'vite.config.ts', 'package-lock.json']

/** True when `widgetPath` is missing or older than a source file, the build config or the lockfile. */
export function widgetIsStale(root: string, widgetPath: string): boolean {
  if (!existsSync(widgetPath)) return true
  const built = statSync(widgetPath).mtimeMs
  return INPUTS.flatMap((input) => filesUnder(join(root, input))).some((file) => statSync(file).mtimeMs > built)
}

/** The production build (`npm run build`), run in-process; a failed build throws. */
export async function buildWidget(root: string, options: { outDir?: string; quiet?: boolean } = {}): Promise<void> {
  const { outDir = join(root, 'dist'), quiet = false } = options
  await build({ root, configFile: join(root, 'vite.config.ts'), logLevel: quiet ? 'silent' : 'warn', build: { outDir } })
}

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return []
  if (!statSync(path).isDirectory()) return [path]
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
}
