/**
 * The panel file's entry (dist/panel-<hash>.js): everything the loader leaves out, loaded on intent.
 * It hands its mount function to the script element that loaded it, so it adds no global of its own.
 * A language other than English comes from a file of its own next to it (dist/panel-<lang>-<hash>.json),
 * and so do the stream reader and the markdown renderer (dist/panel-answers-<hash>.js), loaded once the
 * panel has mounted.
 */
import { loadScript, type BuiltFile, type HandingScript } from './load-script.ts'
import { type Answers, createMountPanel } from './mount.ts'
import type { MountPanel } from './panel-host.ts'

/** The hash in the language files' names, written into the panel by the build (vite.config.ts). */
declare const __ASSISTERS_WORDS__: string
/** The answers' file name and Subresource Integrity hash, written into the panel by the build. */
declare const __ASSISTERS_ANSWERS__: BuiltFile

const script = document.currentScript as HandingScript<MountPanel>
// Read now: currentScript is set only while this file first runs.
const base = script.src

script.exported = createMountPanel(
  // A table is words only, shown as text: fetched as data, never run.
  async (language) => {
    const response = await fetch(new URL(`panel-${language}-${__ASSISTERS_WORDS__}.json`, base))
    if (!response.ok) throw new Error(`${response.url} answered ${response.status}`)
    return response.json()
  },
  // Code, so checked as the panel itself is: only the bytes built with this panel run.
  () => loadScript<Answers>(__ASSISTERS_ANSWERS__.file, __ASSISTERS_ANSWERS__.integrity, base),
)
