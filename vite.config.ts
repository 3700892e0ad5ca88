import { minify } from 'terser'
import type { Plugin } from 'vite'
import { configDefaults, defineConfig } from 'vitest/config'

/**
 * V8's explicit compile hint (Chrome 136 on): compile every function while the script streams in,
 * off the main thread, instead of lazily on first call. The widget calls most of its code while
 * mounting, so this halves the main-thread time of the first mount (`npm run bench`).
 */
const COMPILE_HINT = '//# allFunctionsCalledOnLoad\n'

/**
 * Terser over Vite's own minified output: the two minifiers find different savings, about 300 gzip
 * bytes together, and the widget has a hard gzip budget (test/widget/bundle.test.ts).
 */
const terserAfterOxc: Plugin = {
  name: 'terser-after-oxc',
  apply: 'build',
  async generateBundle(_, bundle) {
    for (const chunk of Object.values(bundle)) {
      if (chunk.type !== 'chunk') continue
      const { code } = await minify(chunk.code, { ecma: 2020, toplevel: true, compress: { passes: 3 } })
      chunk.code = COMPILE_HINT + code!
    }
  },
}

export default defineConfig({
  // Preact's h() with the classic transform (no jsx-runtime module: fewer bytes). Never the dev
  // transform: it adds __self/__source props, which Preact would write to the DOM as attributes.
  oxc: { jsx: { runtime: 'classic', pragma: 'h', pragmaFrag: 'Fragment', development: false } },
  // The widget: one self-contained IIFE that a page loads with a script tag; its CSS is inlined
  // as strings (`?inline`) and injected into the shadow root, so there is no second file.
  plugins: [terserAfterOxc],
  build: {
    lib: {
      entry: 'src/main.ts',
      formats: ['iife'],
      name: 'AssistersWidget',
      fileName: () => 'widget.js',
    },
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    copyPublicDir: false,
  },
  test: {
    // Server tests bind real sockets and SQLite files; two cores, so keep the pool small.
    maxWorkers: 2,
    testTimeout: 15_000,
    hookTimeout: 15_000,
    projects: [
      { extends: true, test: { name: 'server', include: ['test/server/**/*.test.ts', 'test/demo/**/*.test.ts'], environment: 'node' } },
      {
        extends: true,
        // css.include: the widget's stylesheet reaches the tests (vitest empties CSS imports by default).
        test: { name: 'widget', include: ['test/widget/**/*.test.{ts,tsx}'], exclude: [...configDefaults.exclude, 'test/widget/bundle.test.ts'], environment: 'happy-dom', css: { include: [/styles\.css/] } },
      },
      // The production bundle, built once per run for this and the browser suite (test/support/widget-build.ts).
      { extends: true, test: { name: 'bundle', include: ['test/widget/bundle.test.ts'], environment: 'node', globalSetup: ['test/support/widget-build.ts'] } },
      {
        extends: true,
        // Real Chromium against the real server and demo site, serving this run's one widget build.
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/support/widget-build.ts', 'test/e2e/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          // A browser on a busy two-core machine: polls wait for what a visitor would wait for.
          expect: { poll: { timeout: 10_000 } },
        },
      },
    ],
  },
})
