import { createAssisters, type AssistersApi } from './assisters.ts'
import { fromDataset } from './config.ts'
import { loadScript, type BuiltFile } from './load-script.ts'
import type { MountPanel } from './panel-host.ts'

/** The panel file's name and its Subresource Integrity hash, written into the loader by the build (vite.config.ts). */
declare const __ASSISTERS_PANEL__: BuiltFile

declare global {
  interface Window {
    Assisters?: AssistersApi
  }
}

// currentScript is set only while this file first runs (async, defer or injected alike): read it now.
const script = document.currentScript as HTMLScriptElement | null

// One window.Assisters per page, whoever loaded it first. A tag with data-key mounts the widget unless
// one is running: pasted twice, the second tag only warns; re-injected by a single-page app after
// destroy(), it mounts again.
// The panel comes from next to this file (a CDN copy included), or from the API when the loader was
// inlined rather than loaded from a URL.
const assisters = (window.Assisters ??= createAssisters(script?.src ? new URL(script.src).origin : undefined, (config) =>
  loadScript<MountPanel>(__ASSISTERS_PANEL__.file, __ASSISTERS_PANEL__.integrity, script?.src || `${config.api}/`),
))
if (script?.dataset.key !== undefined) {
  try {
    assisters.init(fromDataset(script.dataset))
  } catch (err) {
    console.error(`[Assisters] ${(err as Error).message}`)
  }
}
