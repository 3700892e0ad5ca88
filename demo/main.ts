/**
 * `npm start`: the newcomer's first minute. Builds the widget if needed, starts the API server and
 * the demo site, prints where they are, and stops both on Ctrl+C.
 */
import { fileURLToPath } from 'node:url'
import { ConfigError } from '../server/config.ts'
import { createLogger } from '../server/log.ts'
import { configSecrets } from '../server/secrets.ts'
import { describeDatabase } from '../server/store/open.ts'
import { buildDashboard, dashboardIsStale } from './build-dashboard.ts'
import { buildWidget, widgetIsStale } from './build-widget.ts'
import { demoStatePath } from './demo-account.ts'
import { loadDemoSettings, startDemo, startFailure, type Demo, type DemoSettings } from './demo.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const WIDGET = `${ROOT}dist/widget.js`

function fail(message: string): never {
  console.error(`assisters demo: ${message}`)
  process.exit(1)
}

// Settings first: a mistyped variable should not wait for a build to be reported.
let settings: DemoSettings
try {
  settings = loadDemoSettings(process.env)
} catch (err) {
  if (err instanceof ConfigError) fail(err.message)
  throw err
}

if (widgetIsStale(ROOT, WIDGET)) {
  console.log('Building the widget (dist/widget.js)…')
  await buildWidget(ROOT).catch((err: Error) => fail(`the widget build failed: ${err.message}`))
}

if (dashboardIsStale(ROOT)) {
  console.log('Building the dashboard (dashboard/dist)…')
  await buildDashboard(ROOT).catch((err: Error) => fail(`the dashboard build failed: ${err.message}`))
}

// The admin token is known only once the demo account is loaded: redact it by shape (any Bearer value).
const log = createLogger({
  secrets: configSecrets(settings.config),
})
process.on('unhandledRejection', (err) => log.error('unhandled rejection', { err }))

let demo: Demo
try {
  demo = await startDemo(settings, { log, widgetPath: WIDGET })
} catch (err) {
  fail(startFailure(err))
}

const { config, account, owner } = demo
const upstream = config.upstream
  ? `${config.upstream.model} at ${new URL(config.upstream.baseUrl).host}`
  : 'the built-in offline demo responder (set UPSTREAM_BASE_URL and UPSTREAM_MODEL for a real model)'
console.log(`
  Assisters Embed demo

  Demo site     ${demo.siteUrl}    open this, then the chat button
  API server    ${demo.apiUrl}
  Dashboard     ${owner.link}
                one-time link for ${owner.email}: choose a password, then manage the demo's keys
                (a new link on every start; later, sign in at ${demo.apiUrl}/dashboard/)
  Admin token   ${account.adminToken}
  Answers from  ${upstream}
  Database      ${describeDatabase(config.database)} (demo keys in ${demoStatePath(config.database)})

  Ctrl+C stops both.
`)

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, async () => {
    await demo.close().catch((err) => log.error('shutdown failed', { err }))
    process.exit(0)
  })
}
