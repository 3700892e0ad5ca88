import { createAssisters, type AssistersApi } from './assisters.ts'
import { fromDataset } from './config.ts'

declare global {
  interface Window {
    Assisters?: AssistersApi
  }
}

// currentScript is set only while this file first runs (async, defer or injected alike): read it now.
const script = document.currentScript as HTMLScriptElement | null

// A second copy of the script (pasted twice, or re-injected by a single-page app) leaves the first in charge.
if (!window.Assisters) {
  const assisters = createAssisters(script?.src ? new URL(script.src).origin : undefined)
  window.Assisters = assisters
  if (script?.dataset.key !== undefined) {
    try {
      assisters.init(fromDataset(script.dataset))
    } catch (err) {
      console.error(`[Assisters] ${(err as Error).message}`)
    }
  }
}
