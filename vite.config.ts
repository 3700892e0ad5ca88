import { connect } from 'node:net'
import { minify } from 'terser'
import type { Plugin } from 'vite'
import { configDefaults, defineConfig, type TestProjectInlineConfiguration } from 'vitest/config'

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

/** Whether anything accepts connections at the test PostgreSQL's address (the shared one, or TEST_POSTGRES_URL's). */
function postgresListens(): Promise<boolean> {
  const url = new URL(process.env.TEST_POSTGRES_URL ?? 'postgres://127.0.0.1:5432/test')
  return new Promise((resolve) => {
    const socket = connect(Number(url.port || 5432), url.hostname)
    socket.setTimeout(1000, () => socket.destroy(new Error('timeout')))
    socket.once('connect', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => resolve(false))
  })
}

// The API, admin and CLI tests run a second time on PostgreSQL (the harness reads TEST_STORE). With CI
// set they always do, so a missing PostgreSQL fails them (test/support/postgres.ts says how to start it).
const onPostgres = Boolean(process.env.CI) || (await postgresListens())
if (!onPostgres) {
  console.warn(
    "\n⚠ SKIPPING the server tests on PostgreSQL: nothing listens at the test database's address.\n" +
      '  Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n',
  )
}

const SERVER_ON_POSTGRES: TestProjectInlineConfiguration = {
  extends: true,
  test: {
    name: 'server-postgres',
    include: ['test/server/api.test.ts', 'test/server/admin.test.ts', 'test/server/cli.test.ts'],
    environment: 'node',
    env: { TEST_STORE: 'postgres' },
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
      ...(onPostgres ? [SERVER_ON_POSTGRES] : []),
      {
        extends: true,
        // css.include: the widget's stylesheet reaches the tests (vitest empties CSS imports by default).
        test: {
          name: 'widget',
          include: ['test/widget/**/*.test.{ts,tsx}'],
          exclude: [...configDefaults.exclude, 'test/widget/bundle.test.ts'],
          environment: 'happy-dom',
          css: { include: [/styles\.css/] },
        },
      },
      // The production bundle, built once per run for this and the browser suite (test/support/widget-build.ts).
      {
        extends: true,
        test: {
          name: 'bundle',
          include: ['test/widget/bundle.test.ts'],
          environment: 'node',
          globalSetup: ['test/support/widget-build.ts'],
        },
      },
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
