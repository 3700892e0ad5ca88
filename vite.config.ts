import { defineConfig } from 'vitest/config'

export default defineConfig({
  // Preact's h() with the classic transform (no jsx-runtime module: fewer bytes). Never the dev
  // transform: it adds __self/__source props, which Preact would write to the DOM as attributes.
  oxc: { jsx: { runtime: 'classic', pragma: 'h', pragmaFrag: 'Fragment', development: false } },
  // The widget: one self-contained IIFE that a page loads with a script tag; its CSS is inlined
  // as strings (`?inline`) and injected into the shadow root, so there is no second file.
  build: {
    lib: {
      entry: 'src/main.ts',
      formats: ['iife'],
      name: 'AssistersWidget',
      fileName: () => 'widget.js',
    },
    target: 'es2022',
    // Terser, with a second pass and top-level mangling, packs the widget ~1% tighter than the default
    // minifier; the widget has a hard gzip budget (test/widget/bundle.test.ts).
    minify: 'terser',
    terserOptions: { ecma: 2020, toplevel: true, compress: { passes: 2 } },
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
      { extends: true, test: { name: 'server', include: ['test/server/**/*.test.ts'], environment: 'node' } },
      { extends: true, test: { name: 'widget', include: ['test/widget/**/*.test.{ts,tsx}'], environment: 'happy-dom' } },
    ],
  },
})
