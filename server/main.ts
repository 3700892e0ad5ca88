/**
 * The production entry point (`npm run serve`): configuration from the environment only, then
 * serve until SIGTERM or SIGINT, and shut down gracefully. With WORKERS > 1 this process is the
 * primary of a cluster (cluster.ts) and each worker runs the code below.
 */
import cluster from 'node:cluster'
import { runPrimary } from './cluster.ts'
import { ConfigError, loadConfig, type Config } from './config.ts'
import { createLogger, type Logger } from './log.ts'
import { listenForScrapes } from './metrics-endpoint.ts'
import { configSecrets } from './secrets.ts'
import { createAppServer, warnAboutMissingParts } from './server.ts'
import { describeDatabase } from './store/open.ts'

let config
try {
  config = loadConfig(process.env)
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(`assisters: ${err.message}`)
  process.exit(1)
}

const log = createLogger({ secrets: configSecrets(config) })
// A stray rejection is a bug to log, never a reason to drop every open conversation.
process.on('unhandledRejection', (err) => log.error('unhandled rejection', { err }))

try {
  await (config.workers > 1 && cluster.isPrimary ? runPrimary(config, log) : serve(config, log))
} catch (err) {
  console.error(`assisters: could not start: ${(err as Error).message}`)
  process.exit(1)
}

/** One server in this process; under WORKERS the primary announces the URL, not each worker. */
async function serve(config: Config, log: Logger) {
  const app = await createAppServer(config, { log })
  let scrapes: Awaited<ReturnType<typeof listenForScrapes>> | undefined
  try {
    const url = await app.listen().catch((err: Error) => {
      // Node names the address (or only the host) but not which variable to change.
      throw new Error(`cannot listen on HOST ${config.host} and PORT ${config.port}: ${err.message}`)
    })
    if (config.metrics && !cluster.isWorker) scrapes = await listenForScrapes(app.scrapeMetrics, config.metrics, log)
    if (!cluster.isWorker) {
      log.info('listening', {
        url,
        upstream: config.upstream ? new URL(config.upstream.baseUrl).host : 'built-in demo responder',
        database: describeDatabase(config.database),
        admin: config.adminToken ? 'enabled' : 'disabled',
        ...(scrapes && { metrics: scrapes.url }),
      })
      warnAboutMissingParts(config, log)
    }
  } catch (err) {
    await app.close()
    throw err
  }

  let stopping = false
  const stop = async (why: string) => {
    if (stopping) return
    stopping = true
    log.info('shutting down', { signal: why, ...(cluster.isWorker && { pid: process.pid }) })
    try {
      await Promise.all([app.close(), scrapes?.close()])
      if (!cluster.isWorker) log.info('stopped')
      process.exit(0)
    } catch (err) {
      log.error('shutdown failed', { err })
      process.exit(1)
    }
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void stop(signal))
  // A worker whose primary is gone has no one to replace it or stop it: drain and leave.
  if (cluster.isWorker) process.once('disconnect', () => void stop('primary gone'))
}
