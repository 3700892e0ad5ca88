/**
 * Section 3 of `npm run bench`: the widget. Its size (gzip -9 and brotli q11 of a fresh production
 * build), and what it costs a page in real Chromium: the demo site's home page loaded without the
 * widget, with today's split widget and with the single file it was before issue 13 split it
 * (widget-single-file.ts), side by side in the same run, at 1× and 4× CPU throttling, each load in a
 * fresh browser context (a first visit: empty HTTP cache, no V8 code cache, empty localStorage).
 * This file measures; widget-report.ts turns the measurements into the section's tables and targets.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core'
import { buildWidget } from '../demo/build-widget.ts'
import { demoCsp, embedSnippet, escapeHtml } from '../demo/site.ts'
import { CHROMIUM, chromiumMissing, launchChromium } from '../tools/chromium.ts'
import { ROOT } from './processes.ts'
import { rotated, type BenchSection } from './report.ts'
import { buildSingleFile } from './widget-single-file.ts'
import { widgetReport } from './widget-report.ts'

const SITE = join(ROOT, 'demo', 'site')

/** CPU throttling rates (CDP Emulation.setCPUThrottlingRate): 1 is this machine's own speed. */
const RATES = [1, 4] as const
export type Rate = (typeof RATES)[number]
const VIEWPORT = { width: 1280, height: 720 }
/** The launcher's centre: 56 px wide, 20 px from the bottom-right corner (src/styles.css); a scroll bar still leaves it inside. */
const LAUNCHER_POINT = { x: VIEWPORT.width - 20 - 28, y: VIEWPORT.height - 20 - 28 }
/** Longest wait for any one step in the browser before the section gives up. */
const STEP_TIMEOUT_MS = 20_000
/** A well-formed key: the widget renders its launcher without asking the API anything, so none runs. */
const KEY = 'ask_B3nchW1dget0000000000000000000000000000'

/**
 * The same page without the widget (the baseline), with the owner's embed tag, and (at 1× only, to
 * split the cost) with the script but no data-key: the bundle evaluated, nothing mounted. The embed
 * tag's page is opened two ways: `widget`, the mouse arriving and clicking at once (the panel fetched
 * on the way: a cold open), and `prefetched`, the mouse resting on the launcher until the panel has
 * loaded and mounted, then the click. The `single` variants are the same with the single file from
 * before the split, which has nothing to fetch on a hover: `single-hovered` rests the mouse on the
 * launcher for two frames before the click.
 */
export type Variant = 'blank' | 'widget' | 'prefetched' | 'script' | 'single' | 'single-hovered' | 'single-script'
const PATHS: Record<Variant, string> = {
  blank: '/',
  widget: '/with-widget',
  prefetched: '/with-widget',
  script: '/script-only',
  single: '/with-single-file',
  'single-hovered': '/with-single-file',
  'single-script': '/single-file-script-only',
}
/** The API origin's folder for the single file, which keeps the name it had: `widget.js`. */
const SINGLE_FILE_FOLDER = '/single-file'

export interface LongTask {
  duration: number
  /** It overlaps a script run from widget.js or the panel (Long Animation Frames attribution). */
  widget: boolean
}

/** One page load and one click, in one fresh context. Times are ms since the navigation started. */
export interface Run {
  /** CDP Performance.getMetrics once the load settled, ms. */
  loadScript: number
  loadTasks: number
  /** The same metrics' growth from just before the click until its result was painted, ms. */
  openScript: number
  openTasks: number
  fcp: number
  loadEvent: number
  /** Widget page only: the launcher painted (the next frame after it entered the page). */
  launcherVisible: number | null
  /** The click's event time → the composer focused (widget) or the next frame (otherwise). */
  clickToResult: number
  /** The click's event time → the next frame painted after that. */
  clickToPaint: number
  longTasksLoad: LongTask[]
  longTasksOpen: LongTask[]
}

interface Instrumented {
  longTasks: { start: number; duration: number }[]
  widgetScripts: { start: number; duration: number }[]
  launcherVisible: number | null
  click: number | null
  composerFocused: number | null
  clickPaint: number | null
  resultPaint: number | null
}

/**
 * Runs in every document before the page's own scripts (CDP addScriptToEvaluateOnNewDocument, so the
 * page's CSP does not apply); the same on every page, so its own small cost cancels out.
 */
function instrument() {
  if (window !== window.top) return
  const b: Instrumented = {
    longTasks: [],
    widgetScripts: [],
    launcherVisible: null,
    click: null,
    composerFocused: null,
    clickPaint: null,
    resultPaint: null,
  }
  // "Painted": the next animation frame, then a message task after it (that frame's paint is done by then).
  const nextPaint = (then: (time: number) => void) =>
    requestAnimationFrame(() => {
      const channel = new MessageChannel()
      channel.port1.onmessage = () => then(performance.now())
      channel.port2.postMessage(0)
    })
  const signal = (text: string) => console.debug(text)
  const expectsWidget = () => document.querySelector('script[data-key]') !== null

  const addTasks = (entries: PerformanceEntryList) => {
    for (const entry of entries) b.longTasks.push({ start: entry.startTime, duration: entry.duration })
  }
  // Long Animation Frames name the scripts that ran in a long frame: which long tasks ran the widget's code.
  type Frame = { scripts?: { sourceURL: string; startTime: number; duration: number }[] }
  const addFrames = (entries: PerformanceEntryList) => {
    for (const frame of entries as unknown as Frame[]) {
      for (const script of frame.scripts ?? []) {
        if (/\/(widget|panel-(answers-)?[0-9a-f]+)\.js/.test(script.sourceURL))
          b.widgetScripts.push({ start: script.startTime, duration: script.duration })
      }
    }
  }
  const tasks = new PerformanceObserver((list) => addTasks(list.getEntries()))
  tasks.observe({ type: 'longtask', buffered: true })
  const frames = new PerformanceObserver((list) => addFrames(list.getEntries()))
  try {
    frames.observe({ type: 'long-animation-frame', buffered: true })
  } catch {
    // An older Chromium: no attribution, the counts stand.
  }
  // What the Node side reads, with the entries still queued for the observers taken first.
  ;(window as unknown as { __bench: () => Instrumented }).__bench = () => {
    addTasks(tasks.takeRecords())
    addFrames(frames.takeRecords())
    return b
  }

  // The widget appends its element to <body> (or <html> before <body> exists) and renders the launcher
  // in the same task: watch those two child lists only, not the whole parse.
  let seen = false
  const observer = new MutationObserver(() => {
    watch()
    const launcher = document.querySelector('assisters-widget')?.shadowRoot?.querySelector('.launcher')
    if (!launcher || seen) return
    seen = true
    observer.disconnect()
    nextPaint((time) => {
      const box = launcher.getBoundingClientRect()
      if (box.width > 0 && box.height > 0) b.launcherVisible = time
    })
    // On the shadow root, not window: a focus move from the launcher to the composer stays inside it
    // (target and relatedTarget retarget to the same host, so the event never reaches the document).
    launcher.getRootNode().addEventListener('focusin', () => {
      const host = document.activeElement
      const inner = host?.tagName === 'ASSISTERS-WIDGET' ? host.shadowRoot?.activeElement : null
      if (b.click === null || b.composerFocused !== null || inner?.tagName !== 'TEXTAREA') return
      b.composerFocused = performance.now()
      nextPaint((time) => {
        b.resultPaint = time
        setTimeout(() => signal('bench:opened'), 20)
      })
    })
  })
  const watch = () => {
    for (const node of [document.documentElement, document.body]) if (node) observer.observe(node, { childList: true })
  }
  observer.observe(document, { childList: true })
  watch()

  // Settled: loaded, the launcher painted (on a page that embeds it), two more frames (Preact runs its
  // effects after one) and 100 ms, so the metrics read next hold the whole load.
  addEventListener('load', () => {
    const started = performance.now()
    const wait = () => {
      if (expectsWidget() && b.launcherVisible === null && performance.now() - started < 15_000) return void setTimeout(wait, 20)
      nextPaint(() => nextPaint(() => setTimeout(() => signal('bench:settled'), 100)))
    }
    wait()
  })

  addEventListener(
    'click',
    (event) => {
      if (b.click !== null) return
      // The event's own time (when the input arrived), never later than now.
      b.click = Math.min(event.timeStamp, performance.now())
      nextPaint((time) => {
        b.clickPaint = time
        if (!expectsWidget()) setTimeout(() => signal('bench:opened'), 20)
      })
    },
    true,
  )
}

export async function benchWidget(options: { repeats: number }): Promise<BenchSection> {
  const repeats = Math.max(3, Math.floor(options.repeats))
  if (chromiumMissing)
    throw new Error(`the widget benchmark needs Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`)
  const started = performance.now()
  const loadBefore = loadavg()[0]!
  const cleanup: (() => unknown)[] = []
  try {
    // 1. A fresh production build of the current source, into a scratch folder.
    const outDir = mkdtempSync(join(tmpdir(), 'assisters-bench-widget-'))
    cleanup.push(() => rmSync(outDir, { recursive: true, force: true }))
    await buildWidget(ROOT, { outDir, quiet: true })
    // The loader, the panel it fetches on intent, its answers' file and its language tables (English rides inside).
    const built = new Map<string, Buffer>(readdirSync(outDir).map((name) => [`/${name}`, readFileSync(join(outDir, name))]))
    const named = (pattern: RegExp) => built.get([...built.keys()].find((name) => pattern.test(name))!)!
    const sizes = measureSizes(built.get('/widget.js')!, named(/^\/panel-[0-9a-f]{10}\.js$/), named(/^\/panel-answers-[0-9a-f]{10}\.js$/))
    // The single file from before the split, built fresh from its commit (or why it could not be).
    const singleFile = await buildSingleFile(ROOT)
    if ('code' in singleFile) built.set(`${SINGLE_FILE_FOLDER}/widget.js`, singleFile.code)
    const single = 'code' in singleFile ? { commit: singleFile.commit, size: compressed(singleFile.code) } : singleFile

    // 2. Two origins, as on a customer's site: the page's, and the API's, which serves the widget's
    // files as the server does (the panel readable cross-origin, for its integrity check).
    const brotli = new Map([...built].map(([name, body]) => [name, brotliQ11(body)]))
    const api = await listen((req, res) => {
      const name = (req.url ?? '').split('?')[0]!
      const code = built.get(name)
      if (!code) return void res.writeHead(404).end()
      const br = /\bbr\b/.test(String(req.headers['accept-encoding'] ?? ''))
      res.writeHead(200, {
        'content-type': name.endsWith('.json') ? 'application/json' : 'text/javascript; charset=utf-8',
        'cache-control': name.endsWith('/widget.js') ? 'public, max-age=300' : 'public, max-age=31536000, immutable',
        vary: 'accept-encoding',
        'cross-origin-resource-policy': 'cross-origin',
        ...(typeof req.headers.origin === 'string' && { 'access-control-allow-origin': req.headers.origin }),
        ...(br && { 'content-encoding': 'br' }),
      })
      res.end(br ? brotli.get(name) : code)
    })
    cleanup.push(() => close(api.server))
    const files = siteFiles(api.origin)
    const site = await listen((req, res) => {
      const file = files.get((req.url ?? '').split('?')[0]!)
      if (!file) return void res.writeHead(404).end()
      res.writeHead(200, {
        'content-type': file.type,
        'cache-control': 'no-cache',
        ...(file.csp && { 'content-security-policy': file.csp }),
      })
      res.end(file.body)
    })
    cleanup.push(() => close(site.server))

    // 3. The browser: one unrecorded warm-up load, then each repeat loads every page at each rate,
    // rotating which page goes first so drift on a shared machine falls on all of them alike.
    const browser = await launchChromium()
    cleanup.push(() => browser.close())
    await measure(browser, site.origin + PATHS.widget, 'widget', 1)
    const noRuns = () => ({ blank: [], widget: [], prefetched: [], script: [], single: [], 'single-hovered': [], 'single-script': [] })
    const runs: Runs = { 1: noRuns(), 4: noRuns() }
    const withSingle = 'size' in single
    for (let repeat = 0; repeat < repeats; repeat++) {
      for (const rate of RATES) {
        const variants: Variant[] = ['blank', 'widget', 'prefetched']
        if (withSingle) variants.push('single', 'single-hovered')
        if (rate === 1) variants.push('script', ...(withSingle ? (['single-script'] as const) : []))
        for (const variant of rotated(variants, repeat))
          runs[rate][variant].push(await measure(browser, site.origin + PATHS[variant], variant, rate))
      }
    }
    const version = browser.version()
    const machine = { cores: availableParallelism(), load: [loadBefore, loadavg()[0]!] as const }
    return widgetReport({ sizes, single, runs, rates: RATES, repeats, seconds: (performance.now() - started) / 1000, version, machine })
  } finally {
    for (const step of cleanup.reverse()) {
      try {
        await step()
      } catch {
        // Closing is best effort: one failure must not keep the others open.
      }
    }
  }
}

/** Every repeat's run, by CPU rate and page (and way of opening); the script-only pages are loaded at 1× only, the single file's not at all when it could not be built. */
export type Runs = Record<Rate, Record<Variant, Run[]>>

/** One fresh context and page: load, settle, read the metrics, click the launcher's spot, wait, read again. */
async function measure(browser: Browser, url: string, variant: Variant, rate: number): Promise<Run> {
  let context: BrowserContext | undefined
  try {
    context = await browser.newContext({ viewport: VIEWPORT })
    // As source text, with a stand-in for the name helper that tsx (esbuild keepNames) may insert.
    await context.addInitScript({ content: `var __name = (f) => f;\n(${instrument.toString()})()` })
    const page = await context.newPage()
    const cdp = await context.newCDPSession(page)
    // Thread ticks: the main thread's own CPU time, which other processes on a shared machine inflate far
    // less than wall-clock time (here, under a load average of 5 to 10 on 2 cores, wall-clock script time
    // swung by about 3× from run to run; CPU time by about 1.5×).
    await cdp.send('Performance.enable', { timeDomain: 'threadTicks' })
    await cdp.send('Emulation.setCPUThrottlingRate', { rate })

    const where = `${url} at ${rate}× CPU`
    const settled = waitForSignal(
      page,
      'bench:settled',
      `${where} did not finish loading${variant !== 'blank' ? ' with the launcher painted' : ''}`,
    )
    await page.goto(url, { waitUntil: 'load', timeout: STEP_TIMEOUT_MS })
    await settled
    if (variant === 'prefetched') {
      // The pointer over the launcher fetches the panel, which mounts (closed) into the shadow root.
      await page.mouse.move(LAUNCHER_POINT.x, LAUNCHER_POINT.y)
      await page.waitForFunction(() => document.querySelector('assisters-widget')?.shadowRoot?.querySelector('.slot'), null, {
        timeout: STEP_TIMEOUT_MS,
      })
    }
    if (variant === 'single-hovered') {
      // Nothing to fetch: the pointer rests on the launcher while two frames paint its hover state.
      await page.mouse.move(LAUNCHER_POINT.x, LAUNCHER_POINT.y)
      await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))))
    }
    const beforeClick = await metrics(cdp)

    // A real click (CDP input events), where the launcher is; on the page without the widget it lands on
    // the page. The script-only pages serve the load figures alone.
    let afterOpen = beforeClick
    const scriptOnly = variant === 'script' || variant === 'single-script'
    if (!scriptOnly) {
      const opened = waitForSignal(
        page,
        'bench:opened',
        `${where}: a click ${variant !== 'blank' ? 'on the launcher did not focus the composer' : 'did not reach the page'}`,
      )
      await page.mouse.click(LAUNCHER_POINT.x, LAUNCHER_POINT.y)
      await opened
      afterOpen = await metrics(cdp)
    }

    const seen = await page.evaluate(() => {
      const paint = performance.getEntriesByName('first-contentful-paint')[0]
      const navigation = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined
      return {
        bench: (window as unknown as { __bench: () => Instrumented }).__bench(),
        fcp: paint?.startTime ?? Number.NaN,
        loadEvent: navigation?.loadEventStart ?? Number.NaN,
      }
    })
    const { bench } = seen
    const opensWidget = variant !== 'blank' && !scriptOnly
    if (opensWidget && (bench.launcherVisible === null || bench.composerFocused === null || bench.resultPaint === null)) {
      throw new Error(`widget bench: ${where}: the launcher never showed, or the composer never took the focus`)
    }
    const click = bench.click ?? Number.POSITIVE_INFINITY
    const result = (opensWidget ? bench.composerFocused : bench.clickPaint) ?? Number.NaN
    const resultPaint = (opensWidget ? bench.resultPaint : bench.clickPaint) ?? Number.NaN
    const task = (entry: { start: number; duration: number }): LongTask => ({
      duration: entry.duration,
      widget: bench.widgetScripts.some(
        (script) => script.start < entry.start + entry.duration && script.start + script.duration > entry.start,
      ),
    })
    return {
      loadScript: beforeClick.script,
      loadTasks: beforeClick.tasks,
      openScript: afterOpen.script - beforeClick.script,
      openTasks: afterOpen.tasks - beforeClick.tasks,
      fcp: seen.fcp,
      loadEvent: seen.loadEvent,
      launcherVisible: bench.launcherVisible,
      clickToResult: result - click,
      clickToPaint: resultPaint - click,
      longTasksLoad: bench.longTasks.filter((entry) => entry.start < click).map(task),
      longTasksOpen: bench.longTasks.filter((entry) => entry.start >= click).map(task),
    }
  } finally {
    await context?.close()
  }
}

/** Waits for the instrument's console signal; on a timeout, says which page and step never got there. */
function waitForSignal(page: Page, text: string, what: string): Promise<unknown> {
  const signal = page
    .waitForEvent('console', { predicate: (message) => message.text() === text, timeout: STEP_TIMEOUT_MS })
    .catch((err: Error) => {
      throw new Error(`widget bench: ${what} within ${STEP_TIMEOUT_MS / 1000} s (${err.message.split('\n')[0]})`)
    })
  // Started before the step it waits for: if that step throws first, this one must not become an unhandled rejection.
  signal.catch(() => {})
  return signal
}

/** CDP Performance.getMetrics: the page's cumulative script and main-thread task time (CPU time), in ms. */
async function metrics(cdp: CDPSession): Promise<{ script: number; tasks: number }> {
  const { metrics } = await cdp.send('Performance.getMetrics')
  const value = (name: string) => (metrics.find((metric) => metric.name === name)?.value ?? Number.NaN) * 1000
  return { script: value('ScriptDuration'), tasks: value('TaskDuration') }
}

// ---------------------------------------------------------------------------------------------------
// Sizes and the pages

export interface Size {
  raw: number
  gzip: number
  brotli: number
}

const brotliQ11 = (body: Buffer) =>
  brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } })

const compressed = (body: Buffer): Size => ({ raw: body.length, gzip: gzipSync(body, { level: 9 }).length, brotli: brotliQ11(body).length })

/** The loader's, the panel's and its answers' file's bytes, and the baseline page's: its HTML, stylesheet, script and icon, each compressed alone. */
function measureSizes(loader: Buffer, panel: Buffer, answers: Buffer): { widget: Size; panel: Size; answers: Size; page: Size } {
  const page = ['index.html', 'site.css', 'site.js', 'favicon.svg'].map((file) => compressed(readFileSync(join(SITE, file))))
  const sum = (key: keyof Size) => page.reduce((total, file) => total + file[key], 0)
  return {
    widget: compressed(loader),
    panel: compressed(panel),
    answers: compressed(answers),
    page: { raw: sum('raw'), gzip: sum('gzip'), brotli: sum('brotli') },
  }
}

interface SiteFile {
  body: Buffer
  type: string
  csp?: string
}

/**
 * The demo site's home page, identical but for what stands before </body> (every version shows the
 * snippet as text, as the demo does), with its stylesheet, script and icon, under the demo's CSP.
 */
function siteFiles(apiOrigin: string): Map<string, SiteFile> {
  const html = 'text/html; charset=utf-8'
  const csp = demoCsp(apiOrigin)
  // The single file put its stylesheet in a <style> in its shadow root: it needs the 'unsafe-inline' the demo's CSP then had.
  const singleFileCsp = csp
    .split('; ')
    .map((directive) => (directive.startsWith('style-src ') ? `${directive} 'unsafe-inline'` : directive))
    .join('; ')
  const attributes = {
    'data-title': 'Ask Lumen',
    'data-color': '#0f766e',
    'data-starters': 'What does Lumen cost?|Does it work offline?|How do I import my notes?',
  }
  const snippet = embedSnippet(apiOrigin, KEY, attributes)
  const raw = readFileSync(join(SITE, 'index.html'), 'utf8').replaceAll('{{embedShown}}', () => escapeHtml(snippet))
  const page = (embed: string, policy = csp): SiteFile => ({
    body: Buffer.from(raw.replaceAll('{{embed}}', () => embed)),
    type: html,
    csp: policy,
  })
  const file = (name: string, type: string): SiteFile => ({ body: readFileSync(join(SITE, name)), type })
  return new Map([
    [PATHS.blank, page('')],
    [PATHS.widget, page(snippet)],
    [PATHS.script, page(`<script src="${apiOrigin}/widget.js" async></script>`)],
    [PATHS.single, page(embedSnippet(apiOrigin + SINGLE_FILE_FOLDER, KEY, attributes), singleFileCsp)],
    [PATHS['single-script'], page(`<script src="${apiOrigin}${SINGLE_FILE_FOLDER}/widget.js" async></script>`, singleFileCsp)],
    ['/site.css', file('site.css', 'text/css; charset=utf-8')],
    ['/site.js', file('site.js', 'text/javascript; charset=utf-8')],
    ['/favicon.svg', file('favicon.svg', 'image/svg+xml')],
  ])
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; origin: string }> {
  const server = createServer(handler)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

function close(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}
