/**
 * A closed-loop HTTP/1.1 load generator on raw keep-alive sockets: each connection sends the same
 * request, waits for the whole answer, and sends it again. Latency is kept in microseconds
 * (autocannon rounds to whole milliseconds, too coarse for a 0.2 ms target).
 * Run as its own process with one JSON argument; prints one JSON result line.
 */
import { connect, type Socket } from 'node:net'
import { quantile } from './report.ts'

export interface LoadOptions {
  url: string
  method: string
  headers: Record<string, string>
  body: string
  connections: number
  warmupMs: number
  durationMs: number
}

export interface LoadResult {
  requests: number
  /** Every answer, warm-up included (to divide the server's CPU time by). */
  allRequests: number
  perSecond: number
  p50Ms: number
  p99Ms: number
  statuses: Record<string, number>
  errors: number
}

const HEADER_END = Buffer.from('\r\n\r\n')

/** How many bytes the answer at the start of buffer takes, or -1 while it is incomplete. */
function answerLength(buffer: Buffer): { length: number; status: number } | undefined {
  const headerEnd = buffer.indexOf(HEADER_END)
  if (headerEnd < 0) return undefined
  const head = buffer.toString('latin1', 0, headerEnd)
  const status = Number(head.slice(9, 12))
  const declared = /\r\ncontent-length:\s*(\d+)/i.exec(head)
  if (declared) {
    const length = headerEnd + 4 + Number(declared[1])
    return buffer.length >= length ? { length, status } : undefined
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const end = buffer.indexOf('\r\n0\r\n\r\n', headerEnd)
    return end >= 0 ? { length: end + 7, status } : undefined
  }
  throw new Error(`an answer with neither Content-Length nor chunked encoding: ${head}`)
}

async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const url = new URL(options.url)
  const body = Buffer.from(options.body)
  const head = [
    `${options.method} ${url.pathname} HTTP/1.1`,
    `host: ${url.host}`,
    ...Object.entries(options.headers).map(([name, value]) => `${name}: ${value}`),
    `content-length: ${body.length}`,
  ].join('\r\n')
  const request = Buffer.concat([Buffer.from(`${head}\r\n\r\n`), body])

  const latencies: number[] = []
  const statuses: Record<string, number> = {}
  let errors = 0
  let allRequests = 0
  const started = performance.now()
  const measureFrom = started + options.warmupMs
  const stopAt = measureFrom + options.durationMs

  const connection = () =>
    new Promise<void>((resolve) => {
      const socket: Socket = connect({ host: url.hostname, port: Number(url.port), noDelay: true })
      let pending: Buffer = Buffer.alloc(0)
      let sentAt = 0
      const send = () => {
        sentAt = performance.now()
        socket.write(request)
      }
      socket.on('connect', send)
      socket.on('data', (data: Buffer) => {
        pending = pending.length ? Buffer.concat([pending, data]) : data
        const answer = answerLength(pending)
        if (!answer) return
        const now = performance.now()
        pending = pending.subarray(answer.length)
        allRequests++
        // Every status counts, warm-up included: a failure in the first second must not go unseen.
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1
        if (sentAt >= measureFrom && sentAt < stopAt) latencies.push(now - sentAt)
        if (now < stopAt) send()
        else socket.end()
      })
      // Any end before the run's own (a reset, or the server closing the connection) is an error.
      socket.on('error', () => {})
      socket.on('close', () => {
        if (performance.now() < stopAt) errors++
        resolve()
      })
    })

  await Promise.all(Array.from({ length: options.connections }, connection))
  latencies.sort((a, b) => a - b)
  return {
    requests: latencies.length,
    allRequests,
    perSecond: latencies.length / (options.durationMs / 1000),
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    statuses,
    errors,
  }
}

if (process.argv[2]) console.log(JSON.stringify(await runLoad(JSON.parse(process.argv[2]))))
