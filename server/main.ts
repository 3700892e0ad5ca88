/**
 * The production entry point (`npm run serve`): configuration from the environment only, then
 * serve until SIGTERM or SIGINT, and shut down gracefully.
 */
import { ConfigError, loadConfig } from './config.ts'
import { createLogger } from './log.ts'
import { createAppServer } from './server.ts'
import { databaseSecrets, describeDatabase } from './store/open.ts'

let config
try {
  config = loadConfig(process.env)
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(`assisters: ${err.message}`)
  process.exit(1)
}

const log = createLogger({ secrets: [config.upstream?.apiKey ?? '', config.adminToken ?? '', ...databaseSecrets(config.database)] })
// A stray rejection is a bug to log, never a reason to drop every open conversation.
process.on('unhandledRejection', (err) => log.error('unhandled rejection', { err }))

let app
try {
  app = await createAppServer(config, { log })
  const url = await app.listen()
  log.info('listening', {
    url,
    upstream: config.upstream ? new URL(config.upstream.baseUrl).host : 'built-in demo responder',
    database: describeDatabase(config.database),
    admin: config.adminToken ? 'enabled' : 'disabled',
  })
} catch (err) {
  console.error(`assisters: could not start: ${(err as Error).message}`)
  await app?.close()
  process.exit(1)
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, async () => {
    log.info('shutting down', { signal })
    try {
      await app.close()
      log.info('stopped')
      process.exit(0)
    } catch (err) {
      log.error('shutdown failed', { err })
      process.exit(1)
    }
  })
}
