/**
 * WORKERS > 1: this process becomes the primary of a node:cluster. It starts the workers (each the
 * whole server, sharing the port), replaces one that dies, answers METRICS_PORT scrapes with every
 * worker's figures added up, and on SIGTERM or SIGINT lets each worker drain before it exits.
 */
import cluster, { type Worker } from 'node:cluster'
import type { Config } from './config.ts'
import type { Logger } from './log.ts'
import { listenForScrapes } from './metrics-endpoint.ts'
import { aggregateWorkerMetrics } from './metrics.ts'
import { warnAboutMissingParts } from './server.ts'
import { describeDatabase } from './store/open.ts'

// A worker that dies this soon after it started is crash-looping: replace it after a growing pause.
const QUICK_DEATH_MS = 10_000
const MAX_RESTART_DELAY_MS = 30_000
// Past a worker's own grace period (10 s), a worker still running at shutdown is killed.
const STOP_DEADLINE_MS = 20_000

export async function runPrimary(config: Config, log: Logger): Promise<void> {
  const scrape = aggregateWorkerMetrics()
  const startedAt = new Map<number, number>()
  let listening = false
  let stopping = false
  let restartDelayMs = 0

  const replacements = new Set<NodeJS.Timeout>()
  const fork = () => {
    if (stopping) return
    const worker = cluster.fork()
    startedAt.set(worker.id, Date.now())
  }
  const workers = () => Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined)

  let exited: () => void
  const allExited = new Promise<void>((resolve) => (exited = resolve))

  cluster.on('listening', (worker, address) => {
    log.info('worker listening', { pid: worker.process.pid })
    if (listening) return
    listening = true
    const host = address.address ?? config.host
    log.info('listening', {
      url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`,
      workers: config.workers,
      database: describeDatabase(config.database),
      upstream: config.upstream ? new URL(config.upstream.baseUrl).host : 'built-in demo responder',
      admin: config.adminToken ? 'enabled' : 'disabled',
    })
    warnAboutMissingParts(config, log)
  })

  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker.id) ?? 0)
    startedAt.delete(worker.id)
    if (stopping) {
      if (workers().length === 0) exited()
      return
    }
    if (!listening) {
      // The worker said why on stderr; starting more would only fail the same way.
      log.error('a worker could not start; stopping', { pid: worker.process.pid, code, signal })
      stop(1)
      return
    }
    restartDelayMs = lived < QUICK_DEATH_MS ? Math.min(Math.max(restartDelayMs * 2, 1_000), MAX_RESTART_DELAY_MS) : 0
    log.error('worker died; starting a replacement', { pid: worker.process.pid, code, signal, inMs: restartDelayMs })
    const replacement = setTimeout(() => {
      replacements.delete(replacement)
      fork()
    }, restartDelayMs)
    replacements.add(replacement)
  })

  let exitCode = 0
  const stop = (code: number) => {
    if (stopping) return
    stopping = true
    exitCode = code
    for (const replacement of replacements) clearTimeout(replacement)
    if (workers().length === 0) exited()
    for (const worker of workers()) worker.process.kill('SIGTERM')
    setTimeout(() => {
      for (const worker of workers()) worker.process.kill('SIGKILL')
    }, STOP_DEADLINE_MS).unref()
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      log.info('shutting down', { signal, workers: workers().length })
      stop(0)
    })
  }

  // Before any worker starts, so a METRICS_PORT already in use stops start-up with nothing to clean up.
  const scrapes = config.metrics ? await listenForScrapes(scrape, config.metrics, log) : undefined
  if (scrapes) log.info('metrics', { url: scrapes.url })
  for (let i = 0; i < config.workers; i++) fork()

  await allExited
  await scrapes?.close()
  log.info('stopped')
  process.exit(exitCode)
}
