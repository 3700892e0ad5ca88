/**
 * Prometheus metrics (`GET /metrics`) for operators watching many processes. Each server has its
 * own registry, so tests and benchmarks that run several servers in one process never mix counts.
 * With WORKERS, every worker hands its registry to prom-client's cluster aggregation, and whichever
 * process answers the scrape asks the primary for the sum of all of them: one scrape sees every worker.
 */
import cluster from 'node:cluster'
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

export interface Metrics {
  readonly registry: Registry
  /** One answered request; `route` is a route template or a fixed word, never the raw path. */
  request(route: string, method: string, status: number): void
  /** A relayed answer, from the upstream call to the answer's end. */
  relayed(stream: boolean, seconds: number): void
  /** From the upstream call to the first byte of the answer reaching the visitor. */
  firstByte(stream: boolean, seconds: number): void
  /** Counts one open stream until the returned function is called. */
  streamOpened(): () => void
  limiterDecision(admitted: boolean): void
  upstreamFailure(kind: 'error' | 'timeout'): void
  storeError(): void
  redisError(): void
}

// Seconds, from a fast cached answer to a long stream.
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

export function createMetrics(): Metrics {
  const registry = new Registry()
  // Process CPU, memory, event-loop lag and GC under their standard names, which dashboards expect.
  collectDefaultMetrics({ register: registry })
  const registers = [registry]

  const requests = new Counter({
    name: 'assisters_http_requests_total',
    help: 'Requests answered, by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers,
  })
  const relayDuration = new Histogram({
    name: 'assisters_relay_duration_seconds',
    help: 'Relayed chat completions, from the upstream call to the end of the answer',
    labelNames: ['stream'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  })
  const firstByte = new Histogram({
    name: 'assisters_relay_first_byte_seconds',
    help: 'Relayed chat completions, from the upstream call to the first byte sent to the client (first event of a stream)',
    labelNames: ['stream'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  })
  const openStreams = new Gauge({ name: 'assisters_open_streams', help: 'Event streams open now', registers })
  const limiter = new Counter({
    name: 'assisters_rate_limit_decisions_total',
    help: 'Rate limiter decisions',
    labelNames: ['decision'] as const,
    registers,
  })
  const upstreamFailures = new Counter({
    name: 'assisters_upstream_failures_total',
    help: 'Upstream calls that failed (error) or took too long (timeout)',
    labelNames: ['kind'] as const,
    registers,
  })
  const storeErrors = new Counter({ name: 'assisters_store_errors_total', help: 'Database calls that failed', registers })
  const redisErrors = new Counter({ name: 'assisters_redis_errors_total', help: 'Redis calls that failed', registers })

  return {
    registry,
    request: (route, method, status) => requests.inc({ route, method: METHODS.has(method) ? method : 'other', status: String(status) }),
    relayed: (stream, seconds) => relayDuration.observe({ stream: String(stream) }, seconds),
    firstByte: (stream, seconds) => firstByte.observe({ stream: String(stream) }, seconds),
    streamOpened() {
      openStreams.inc()
      let open = true
      return () => {
        if (open) openStreams.dec()
        open = false
      }
    },
    limiterDecision: (admitted) => limiter.inc({ decision: admitted ? 'admitted' : 'refused' }),
    upstreamFailure: (kind) => upstreamFailures.inc({ kind }),
    storeError: () => storeErrors.inc(),
    redisError: () => redisErrors.inc(),
  }
}

const SCRAPE_REQUEST = 'assisters:metrics-request'
const SCRAPE_ANSWER = 'assisters:metrics-answer'
const SCRAPE_TIMEOUT_MS = 5_000

/** The scrape's text: this process's registry, or, under WORKERS, the sum over every worker. */
export type MetricsSource = () => Promise<string>

/**
 * Where a scrape's text comes from in this process. A worker registers its registry for the
 * primary's aggregation and asks the primary for the total; a lone process reads its own.
 */
export function metricsSource(metrics: Metrics): MetricsSource {
  if (!cluster.isWorker) return () => metrics.registry.metrics()
  // Constructing one makes prom-client answer the primary's requests for this worker's figures.
  new AggregatorRegistry()
  AggregatorRegistry.setRegistries([metrics.registry])
  let next = 0
  return () =>
    new Promise((resolve, reject) => {
      const id = `${process.pid}:${next++}`
      const timer = setTimeout(() => finish(new Error('the primary did not answer the metrics request')), SCRAPE_TIMEOUT_MS)
      const onMessage = (message: { type?: string; id?: string; text?: string; error?: string }) => {
        if (message?.type !== SCRAPE_ANSWER || message.id !== id) return
        finish(message.error === undefined ? undefined : new Error(message.error), message.text)
      }
      const finish = (err?: Error, text?: string) => {
        clearTimeout(timer)
        process.off('message', onMessage)
        if (err) reject(err)
        else resolve(text ?? '')
      }
      // A worker whose primary is gone (it is draining) has no one to ask.
      if (!process.connected) return finish(new Error('the primary is gone'))
      process.on('message', onMessage)
      process.send!({ type: SCRAPE_REQUEST, id }, undefined, undefined, (err) => err && finish(err))
    })
}

/** In the primary: answers workers' scrape requests with every worker's figures added up. */
export function aggregateWorkerMetrics(): MetricsSource {
  const aggregator = new AggregatorRegistry()
  const scrape = () => aggregator.clusterMetrics()
  cluster.on('message', (worker, message: { type?: string; id?: string }) => {
    if (message?.type !== SCRAPE_REQUEST) return
    scrape().then(
      (text) => worker.isConnected() && worker.send({ type: SCRAPE_ANSWER, id: message.id, text }),
      (err: Error) => worker.isConnected() && worker.send({ type: SCRAPE_ANSWER, id: message.id, error: err.message }),
    )
  })
  return scrape
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE
