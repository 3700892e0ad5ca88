import type { MountPanel, PanelScript } from './panel-host.ts'

/** The panel file's name and its Subresource Integrity hash, written into the loader by the build (vite.config.ts). */
declare const __ASSISTERS_PANEL__: { file: string; integrity: string }

/**
 * Loads the panel file from next to the loader (`base` is the loader's own URL, so a copy on a CDN
 * loads its panel from the same CDN), refusing any file whose bytes are not the ones built with this
 * loader. Rejects when it cannot load (offline, blocked, tampered with).
 */
export function loadPanel(base: string): Promise<MountPanel> {
  return new Promise((resolve, reject) => {
    const script: PanelScript = document.createElement('script')
    script.src = new URL(__ASSISTERS_PANEL__.file, base).href
    script.integrity = __ASSISTERS_PANEL__.integrity
    // Integrity checks need a CORS request for a file from another origin (the API's CORS allows any).
    script.crossOrigin = 'anonymous'
    script.onload = script.onerror = () => {
      script.remove()
      if (script.mountPanel) resolve(script.mountPanel)
      else reject(new Error(`${script.src} did not load`))
    }
    ;(document.head ?? document.documentElement).append(script)
  })
}
