// @vitest-environment node
import { brotliCompressSync, gzipSync } from 'node:zlib'
import { readdirSync, readFileSync } from 'node:fs'
import { Window } from 'happy-dom'
import { describe, expect, inject, it } from 'vitest'

/** The widget's budget: gzip level 9 bytes of dist/widget.js (issue 3). */
const GZIP_BUDGET = 15_000

// The real production build of this run (test/support/widget-build.ts), never a stale dist/.
const outDir = inject('widgetDir')
const code = readFileSync(inject('widgetPath'), 'utf8')

describe('dist/widget.js', () => {
  it('is one file: the CSS rides inside it', () => {
    expect(readdirSync(outDir)).toEqual(['widget.js'])
  })

  it(`stays within ${GZIP_BUDGET} bytes gzip -9`, () => {
    const gzip = gzipSync(code, { level: 9 }).length
    const brotli = brotliCompressSync(code).length
    console.info(`widget.js: ${Buffer.byteLength(code)} bytes, ${gzip} gzip -9, ${brotli} brotli`)
    expect(gzip).toBeLessThanOrEqual(GZIP_BUDGET)
  })

  it('opens with V8’s compile hint, so Chromium compiles its functions off the main thread while it streams in', () => {
    expect(code.startsWith('//# allFunctionsCalledOnLoad\n')).toBe(true)
  })

  it('is a classic script that leaks no globals besides window.Assisters', () => {
    expect(code).not.toMatch(/^\s*(import|export)\s/m)
    const window = new Window({
      url: 'https://shop.example/',
      settings: { enableJavaScriptEvaluation: true, suppressInsecureJavaScriptEnvironmentWarning: true },
    })
    const before = new Set(Object.keys(window))
    const script = window.document.createElement('script')
    script.textContent = code
    window.document.body.append(script)
    expect(Object.keys(window).filter((name) => !before.has(name))).toEqual(['Assisters'])
    void window.happyDOM.close()
  })

  it('boots from its own script tag: reads data-* and mounts the launcher in a shadow root', async () => {
    const window = new Window({
      url: 'https://shop.example/',
      settings: { enableJavaScriptEvaluation: true, suppressInsecureJavaScriptEnvironmentWarning: true },
    })
    const { document } = window
    for (let copy = 0; copy < 2; copy++) {
      // Pasted twice: the second copy must not mount a second widget.
      const script = document.createElement('script')
      script.dataset.key = 'ask_' + 'x'.repeat(42)
      script.dataset.api = 'https://api.assisters.test'
      script.dataset.title = 'Shop help'
      script.textContent = code
      document.body.append(script)
    }
    await window.happyDOM.waitUntilComplete()
    const hosts = document.querySelectorAll('assisters-widget')
    expect(hosts).toHaveLength(1)
    expect(hosts[0]!.shadowRoot!.querySelector('.launcher')!.getAttribute('aria-label')).toBe('Open chat')
    expect(typeof (window as unknown as { Assisters: { open: unknown } }).Assisters.open).toBe('function')
    await window.happyDOM.close()
  })
})
