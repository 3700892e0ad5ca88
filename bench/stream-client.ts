/**
 * Streaming clients: `concurrency` clients each open `streamsPerClient` streams one after another,
 * and every event of every stream is checked: the numbered pieces arrive all, in order, then
 * `[DONE]`. Reports time to the first event and to the end of the stream.
 * Run as its own process with one JSON argument; prints one JSON result line.
 */
import http from 'node:http'
import { quantile } from './report.ts'

export interface StreamOptions {
  url: string
  headers: Record<string, string>
  /** The chat request; its last message says `events=N gap=M` to the mock upstream. */
  body: string
  events: number
  concurrency: number
  streamsPerClient: number
  warmUp: boolean
}

export interface StreamResult {
  streams: number
  /** Streams that lost, reordered or added an event, missed [DONE], or failed. */
  broken: number
  firstEventP50Ms: number
  firstEventP99Ms: number
  totalP50Ms: number
  totalP99Ms: number
}

const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY })

/** One stream: resolves with its timings, or undefined when any event was lost or out of order. */
function oneStream(options: StreamOptions) {
  return new Promise<{ firstEventMs: number; totalMs: number } | undefined>((resolve) => {
    const started = performance.now()
    let firstEventMs = 0
    let next = 0
    let done = false
    let broken = false
    let pending = ''
    const request = http.request(options.url, { method: 'POST', headers: options.headers, agent }, (response) => {
      if (response.statusCode !== 200) broken = true
      response.setEncoding('utf8')
      response.on('data', (text: string) => {
        pending += text
        let end
        while ((end = pending.indexOf('\n\n')) >= 0) {
          const event = pending.slice(0, end)
          pending = pending.slice(end + 2)
          if (event.startsWith(':')) continue // a keep-alive comment
          if (!firstEventMs) firstEventMs = performance.now() - started
          // Exactly `data: <the next numbered piece>`, then `data: [DONE]`, and nothing else: no
          // usage chunk (the client does not ask for one), no error event, nothing after [DONE].
          if (done || !event.startsWith('data: ')) broken = true
          else if (event === 'data: [DONE]') done = true
          else if (contentOf(event.slice(6)) === `${next} `) next++
          else broken = true
        }
      })
      response.on('end', () => {
        const complete = !broken && done && next === options.events && pending === ''
        resolve(complete ? { firstEventMs, totalMs: performance.now() - started } : undefined)
      })
      response.on('error', () => resolve(undefined))
    })
    request.on('error', () => resolve(undefined))
    request.end(options.body)
  })
}

function contentOf(data: string): unknown {
  try {
    return JSON.parse(data).choices?.[0]?.delta?.content
  } catch {
    return undefined
  }
}

async function runStreams(options: StreamOptions): Promise<StreamResult> {
  const firstEvents: number[] = []
  const totals: number[] = []
  let broken = 0
  const client = async () => {
    // One stream first, not counted: it opens the client's connection and grows the relay's upstream pool.
    if (options.warmUp) await oneStream(options)
    for (let i = 0; i < options.streamsPerClient; i++) {
      const timing = await oneStream(options)
      if (!timing) broken++
      else {
        firstEvents.push(timing.firstEventMs)
        totals.push(timing.totalMs)
      }
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, client))
  firstEvents.sort((a, b) => a - b)
  totals.sort((a, b) => a - b)
  return {
    streams: options.concurrency * options.streamsPerClient,
    broken,
    firstEventP50Ms: quantile(firstEvents, 0.5),
    firstEventP99Ms: quantile(firstEvents, 0.99),
    totalP50Ms: quantile(totals, 0.5),
    totalP99Ms: quantile(totals, 0.99),
  }
}

if (process.argv[2]) {
  console.log(JSON.stringify(await runStreams(JSON.parse(process.argv[2]))))
  agent.destroy()
}
