/** A script file the build made: its name, content-hashed, and its Subresource Integrity hash (vite.config.ts). */
export interface BuiltFile {
  file: string
  integrity: string
}

/** The script element of a built file, which hands what it exports to it, so it adds no global of its own. */
export type HandingScript<T> = HTMLScriptElement & { exported?: T }

/**
 * Loads a built file (`file`, with its `integrity` hash) from next to `base`, the URL of the file that asks (the loader's for the panel,
 * so a copy on a CDN loads its panel from the same CDN; the panel's for its answers' file), refusing
 * any file whose bytes are not the ones built with the asking file. Resolves with what the file hands
 * its script element; rejects when it cannot load (offline, blocked, tampered with).
 */
export function loadScript<T>(file: string, integrity: string, base: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const script: HandingScript<T> = document.createElement('script')
    script.src = new URL(file, base).href
    script.integrity = integrity
    // Integrity checks need a CORS request for a file from another origin (the API's CORS allows any).
    script.crossOrigin = 'anonymous'
    script.onload = script.onerror = () => {
      script.remove()
      if (script.exported) resolve(script.exported)
      else reject(new Error(`${script.src} did not load`))
    }
    ;(document.head ?? document.documentElement).append(script)
  })
}
