/**
 * The panel file's entry (dist/panel-<hash>.js): everything the loader leaves out, loaded on intent.
 * It hands its mount function to the script element that loaded it, so it adds no global of its own.
 * A language other than English comes from a file of its own next to it (dist/panel-<lang>-<hash>.json).
 */
import { createMountPanel } from './mount.ts'
import type { PanelScript } from './panel-host.ts'

/** The hash in the language files' names, written into the panel by the build (vite.config.ts). */
declare const __ASSISTERS_WORDS__: string

const script = document.currentScript as PanelScript
// Read now: currentScript is set only while this file first runs.
const base = script.src

// A table is words only, shown as text: fetched as data, never run.
script.mountPanel = createMountPanel(async (language) => {
  const response = await fetch(new URL(`panel-${language}-${__ASSISTERS_WORDS__}.json`, base))
  if (!response.ok) throw new Error(`${response.url} answered ${response.status}`)
  return response.json()
})
