import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { resolve } from 'node:path'
import { minify, type CompressOptions } from 'terser'
import { build, type Plugin, type Rolldown } from 'vite'
import { configDefaults, defineConfig, type TestProjectInlineConfiguration } from 'vitest/config'

/**
 * V8's explicit compile hint (Chrome 136 on): compile every function while the script streams in,
 * off the main thread, instead of lazily on first call. The panel calls most of its code while
 * mounting, so this halved the main-thread time of its first mount (`npm run bench`). The loader
 * goes without: most of its few functions wait for the visitor, and every page pays its bytes.
 */
const COMPILE_HINT = '//# allFunctionsCalledOnLoad\n'

/**
 * Terser over Vite's own minified output: the two minifiers find different savings, about 300 gzip
 * bytes together, and both files have hard gzip budgets (test/widget/bundle.test.ts).
 */
const terserAfterOxc = (prefix = '', compress: CompressOptions = {}): Plugin => ({
  name: 'terser-after-oxc',
  apply: 'build',
  async generateBundle(_, bundle) {
    for (const chunk of Object.values(bundle)) {
      if (chunk.type !== 'chunk') continue
      const { code } = await minify(chunk.code, { ecma: 2020, toplevel: true, compress: { passes: 3, ...compress } })
      chunk.code = prefix + code!
    }
  },
})

// Preact's h() with the classic transform (no jsx-runtime module: fewer bytes). Never the dev
// transform: it adds __self/__source props, which Preact would write to the DOM as attributes.
const oxc = { jsx: { runtime: 'classic', pragma: 'h', pragmaFrag: 'Fragment', development: false } } as const

/** Builds one entry of the widget as a classic script (an IIFE with no global), minified as its budget wants. */
async function buildScript(root: string, entry: string, define: Record<string, string>, terser: Plugin): Promise<string> {
  const built = (await build({
    configFile: false,
    root,
    logLevel: 'silent',
    oxc,
    define,
    plugins: [terser],
    build: {
      lib: { entry: resolve(root, entry), formats: ['iife'], name: 'AssistersPanel', fileName: () => 'script.js' },
      target: 'es2022',
      write: false,
      copyPublicDir: false,
    },
  })) as Rolldown.RolldownOutput[]
  return built[0]!.output[0].code
}

/** A built script under a name that changes with its content, and what the file that loads it needs to know: the name and its SRI hash. */
function hashed(prefix: string, code: string) {
  const fileName = `${prefix}-${createHash('sha256').update(code).digest('hex').slice(0, 10)}.js`
  return {
    file: { fileName, source: code },
    define: JSON.stringify({ file: fileName, integrity: `sha256-${createHash('sha256').update(code).digest('base64')}` }),
  }
}

/**
 * The panel (src/panel.ts), its answers' file and its languages, built first and emitted next to the
 * loader under content-hashed names, so the server may cache them for a year. The panel is a classic
 * script, and the loader gets its name and Subresource Integrity hash as `__ASSISTERS_PANEL__`
 * (src/main.ts). The answers' file (src/answers-file.ts: the stream reader and the markdown renderer),
 * which the panel loads once it has mounted, is another, named `panel-answers-<hash>.js`, whose name
 * and hash the panel gets as `__ASSISTERS_ANSWERS__`. Each language table but English (which the panel carries) becomes
 * `panel-<lang>-<hash>.json`, the hash taken over all the tables, which the panel gets as
 * `__ASSISTERS_WORDS__`: data, not code, so a file that is not the one built can change words but run nothing.
 */
function panelFile(): Plugin {
  let files: { fileName: string; source: string }[] = []
  return {
    name: 'assisters-panel',
    apply: 'build',
    async config(config) {
      const root = config.root ?? process.cwd()
      const folder = resolve(root, 'src/words')
      const tables = readdirSync(folder)
        .filter((name) => name.endsWith('.json'))
        .sort()
        .map((name) => [name.replace(/\.json$/, ''), JSON.stringify(JSON.parse(readFileSync(resolve(folder, name), 'utf8')))] as const)
      const wordsHash = createHash('sha256').update(JSON.stringify(tables)).digest('hex').slice(0, 10)
      files = tables.map(([language, json]) => ({ fileName: `panel-${language}-${wordsHash}.json`, source: json }))

      const answers = hashed('panel-answers', await buildScript(root, 'src/answers-file.ts', {}, terserAfterOxc()))
      const panel = hashed(
        'panel',
        await buildScript(
          root,
          'src/panel.ts',
          { __ASSISTERS_WORDS__: JSON.stringify(wordsHash), __ASSISTERS_ANSWERS__: answers.define },
          terserAfterOxc(COMPILE_HINT),
        ),
      )
      files.push(answers.file, panel.file)
      return { define: { __ASSISTERS_PANEL__: panel.define } }
    },
    generateBundle() {
      for (const file of files) this.emitFile({ type: 'asset', ...file })
    },
  }
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

// The API, admin, CLI and dashboard tests run a second time on PostgreSQL (the harness reads TEST_STORE). With CI
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
    include: [
      'test/server/api.test.ts',
      'test/server/admin.test.ts',
      'test/server/cli.test.ts',
      'test/server/dashboard.test.ts',
      'test/server/key-limits-admin.test.ts',
    ],
    environment: 'node',
    env: { TEST_STORE: 'postgres' },
  },
}

export default defineConfig({
  oxc,
  // The widget in two classic scripts, each with its CSS inlined as a string (`?inline`) and adopted by
  // the shadow root: dist/widget.js, the loader every page loads, and the panel it loads on intent.
  // The loader is our code alone, with no function called with `new` or for its `arguments`: terser may
  // make its function expressions arrows and its methods shorthand (11 bytes under the loader's budget).
  plugins: [panelFile(), terserAfterOxc('', { unsafe_arrows: true, unsafe_methods: true })],
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
          css: { include: [/(styles|launcher)\.css/] },
        },
      },
      // The dashboard's pure parts (forms to API input, usage series); its pages run in the browser suite.
      { extends: true, test: { name: 'dashboard', include: ['test/dashboard/**/*.test.{ts,tsx}'], environment: 'happy-dom' } },
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
          globalSetup: ['test/support/widget-build.ts', 'test/support/dashboard-build.ts', 'test/e2e/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          // A browser on a busy two-core machine: polls wait for what a visitor would wait for.
          expect: { poll: { timeout: 10_000 } },
        },
      },
    ],
  },
})
