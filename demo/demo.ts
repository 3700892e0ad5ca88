/**
 * The demo, wired: the real API server (the same createAppServer as `npm run serve`) on one origin,
 * the demo site on another, and the demo account both share. `npm start` runs it (main.ts); the
 * browser suite starts it in-process with test ports and a test upstream.
 */
import { ConfigError, loadConfig, portFrom, type Config } from '../server/config.ts'
import type { Logger } from '../server/log.ts'
import { setPasswordUrl } from '../server/admin.ts'
import { createAppServer } from '../server/server.ts'
import { prepareDemoAccount, type DemoAccount, type DemoOwner } from './demo-account.ts'
import { displayHost, startDemoSite } from './site.ts'

export interface Demo {
  /** Where the pages are, e.g. http://localhost:8080. */
  siteUrl: string
  /** The API base the pages embed the widget from, e.g. http://localhost:8787. */
  apiUrl: string
  account: DemoAccount
  /** The demo account's dashboard owner and this start's one-time link. */
  owner: DemoOwner & { link: string }
  config: Config
  close(): Promise<void>
}

export interface DemoSettings {
  config: Config
  sitePort: number
}

/** The server's variables, plus DEMO_PORT for the site; throws ConfigError naming a bad one. */
export function loadDemoSettings(env: Record<string, string | undefined>): DemoSettings {
  const config = loadConfig(env)
  // The demo account is made before the server opens the database: an in-memory one would not outlive it.
  if (config.database.kind === 'sqlite' && config.database.path === ':memory:') {
    throw new ConfigError('DATABASE_URL must name a file for the demo, not :memory:')
  }
  return { config, sitePort: portFrom(env, 'DEMO_PORT', 8080) }
}

/** The one line `npm start` stops with when startDemo rejects: a taken port says which, and what to set. */
export function startFailure(err: unknown): string {
  const { code, port, message } = err as NodeJS.ErrnoException & { port?: number }
  if (code === 'EADDRINUSE') return `port ${port} is already in use; set PORT (API) or DEMO_PORT (demo site) to a free one`
  return `could not start: ${message}`
}

/** Starts both servers; rejects with the listen error (EADDRINUSE…) for a taken port. */
export async function startDemo(
  { config: fromEnv, sitePort }: DemoSettings,
  options: { log: Logger; widgetPath?: string; dashboardDir?: string },
): Promise<Demo> {
  const { owner, ...account } = await prepareDemoAccount(fromEnv.database, {
    adminToken: fromEnv.adminToken,
    defaultRpm: fromEnv.rateLimitRpm,
    defaultVisitorRpm: fromEnv.visitorRpm,
  })
  const config = { ...fromEnv, adminToken: account.adminToken }
  const app = await createAppServer(config, { log: options.log, widgetPath: options.widgetPath, dashboardDir: options.dashboardDir })
  try {
    const listening = new URL(await app.listen())
    const apiUrl = `http://${displayHost(config.host)}:${listening.port}`
    const site = await startDemoSite({ host: config.host, port: sitePort, api: apiUrl, keys: account })
    return {
      siteUrl: site.url,
      apiUrl,
      account,
      owner: { ...owner, link: setPasswordUrl(config.publicUrl ?? apiUrl, owner.linkToken) },
      config,
      async close() {
        site.close()
        await app.close()
      },
    }
  } catch (err) {
    await app.close()
    throw err
  }
}
