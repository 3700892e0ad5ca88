/**
 * Sections 1 and 2: what the relay costs. The same requests go straight to a mock upstream,
 * through a minimal pass-through proxy (the floor for any Node relay), and through our server with
 * every check on; repeats are interleaved so drift hits all three alike.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { LoadOptions, LoadResult } from './load-generator.ts'
import { CORES, freePort, listening, pinningNote, residentBytes, runJson, startProcess, type Started } from './processes.ts'
import { median, megabytes, ms, ratio, whole, withSpread, type BenchSection } from './report.ts'
import type { StreamOptions, StreamResult } from './stream-client.ts'

const ADMIN_TOKEN = 'bench-admin-token-0123456789'
const ORIGIN = 'http://localhost:3000'

type Target = 'direct' | 'passthrough' | 'ours'
const TARGETS: Target[] = ['direct', 'passthrough', 'ours']
const LABEL: Record<Target, string> = { direct: 'upstream direct', passthrough: 'pass-through proxy', ours: 'Assisters server' }

interface Stack {
  urls: Record<Target, string>
  ourPid: number
  proxyPid: number
  /** A fresh key on a fresh account, so no run ever meets the rate limit left by another. */
  freshKey(): Promise<string>
  close(): Promise<void>
}

async function startStack(): Promise<Stack> {
  const folder = mkdtempSync(join(tmpdir(), 'assisters-bench-'))
  const [upstreamPort, proxyPort, ourPort] = await Promise.all([freePort(), freePort(), freePort()])
  const started: Started[] = []
  const start = (script: string, args: string[], options: Parameters<typeof startProcess>[2]) => {
    const part = startProcess(script, args, options)
    started.push(part)
    return part
  }
  const close = async () => {
    await Promise.all(started.map((part) => part.stop()))
    rmSync(folder, { recursive: true, force: true })
  }
  try {
    const upstream = start('bench/mock-upstream.ts', [String(upstreamPort)], { core: CORES?.driver })
    const proxy = start('bench/passthrough-proxy.ts', [String(proxyPort), `http://127.0.0.1:${upstreamPort}`], {
      core: CORES?.underTest,
    })
    const ours = start('server/main.ts', [], {
      core: CORES?.underTest,
      // Its request log goes to a file, as in production, not through a pipe the bench must drain.
      logFile: join(folder, 'server.log'),
      env: {
        PORT: String(ourPort),
        HOST: '127.0.0.1',
        DATABASE_URL: `sqlite:${join(folder, 'bench.db')}`,
        UPSTREAM_BASE_URL: `http://127.0.0.1:${upstreamPort}/v1`,
        UPSTREAM_API_KEY: 'sk-bench-upstream',
        UPSTREAM_MODEL: 'bench-model',
        ADMIN_TOKEN,
      },
    })
    await Promise.all([listening(upstreamPort, upstream.child), listening(proxyPort, proxy.child), listening(ourPort, ours.child)])
    const api = `http://127.0.0.1:${ourPort}`
    const admin = async (path: string, body: unknown) => {
      const response = await fetch(`${api}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      if (response.status !== 201) throw new Error(`${path} answered ${response.status}: ${await response.text()}`)
      return response.json()
    }
    return {
      urls: {
        direct: `http://127.0.0.1:${upstreamPort}/v1/chat/completions`,
        passthrough: `http://127.0.0.1:${proxyPort}/v1/chat/completions`,
        ours: `${api}/v1/chat/completions`,
      },
      ourPid: ours.child.pid!,
      proxyPid: proxy.child.pid!,
      async freshKey() {
        const account = await admin('/admin/accounts', { name: 'Bench' })
        const key = await admin(`/admin/accounts/${account.id}/keys`, {
          name: 'bench',
          allowed_domains: ['localhost'],
          rate_limit_rpm: 100_000,
        })
        return key.key
      },
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}

const headersFor = (key: string) => ({ authorization: `Bearer ${key}`, origin: ORIGIN, 'content-type': 'application/json' })
const chatBody = (content: string, stream: boolean) =>
  JSON.stringify({ model: 'assisters-chat-v1', stream, messages: [{ role: 'user', content }] })

/** Every answer must be a 200: a refused request measures the refusal, not the relay. */
function allOk(target: Target, what: string, result: LoadResult) {
  const refused = Object.entries(result.statuses).filter(([status]) => status !== '200')
  if (result.errors || refused.length || !result.requests)
    throw new Error(`${LABEL[target]} ${what}: ${result.errors} errors, statuses ${JSON.stringify(result.statuses)}`)
}

export interface RelayOptions {
  repeats: number
  /** Measured seconds per load run (after a 1 s warm-up). */
  seconds: number
  /** Concurrent slow streams for section 2. */
  manyStreams: number
}

export async function benchRelay(options: RelayOptions): Promise<BenchSection[]> {
  const stack = await startStack()
  try {
    return [await relayOverhead(stack, options), await manyStreams(stack, options)]
  } finally {
    await stack.close()
  }
}

type ByTarget<R> = Record<Target, R[]>
const byTarget = <R>(): ByTarget<R> => ({ direct: [], passthrough: [], ours: [] })

/** Per repeat, ours against the pass-through of the same repeat. */
const paired = <R>(results: ByTarget<R>, read: (result: R) => number, combine: (ours: number, floor: number) => number) =>
  results.ours.map((result, i) => combine(read(result), read(results.passthrough[i]!)))
const perRepeatRatio = (ours: number, floor: number) => ours / floor
const perRepeatDifference = (ours: number, floor: number) => ours - floor

async function relayOverhead(stack: Stack, options: RelayOptions): Promise<BenchSection> {
  const EVENTS = 20
  const plain = [1, 16, 128].map((connections) => ({ connections, results: byTarget<LoadResult>() }))
  const streamed = [
    { concurrency: 1, streamsPerClient: 100, results: byTarget<StreamResult>() },
    { concurrency: 100, streamsPerClient: 5, results: byTarget<StreamResult>() },
  ]

  for (let repeat = 0; repeat < options.repeats; repeat++) {
    for (const { connections, results } of plain) {
      for (const target of TARGETS) {
        const load: LoadOptions = {
          url: stack.urls[target],
          method: 'POST',
          headers: headersFor(await stack.freshKey()),
          body: chatBody('Hello', false),
          connections,
          warmupMs: 1000,
          durationMs: options.seconds * 1000,
        }
        const result = await runJson<LoadResult>('bench/load-generator.ts', load, CORES?.driver)
        allOk(target, `at concurrency ${connections}`, result)
        results[target].push(result)
      }
    }
    for (const { concurrency, streamsPerClient, results } of streamed) {
      for (const target of TARGETS) {
        const stream: StreamOptions = {
          url: stack.urls[target],
          headers: headersFor(await stack.freshKey()),
          body: chatBody(`events=${EVENTS} gap=0`, true),
          events: EVENTS,
          concurrency,
          streamsPerClient,
        }
        const result = await runJson<StreamResult>('bench/stream-client.ts', stream, CORES?.driver)
        if (result.broken) throw new Error(`${LABEL[target]}: ${result.broken} of ${result.streams} streams lost or reordered events`)
        results[target].push(result)
      }
    }
  }

  const perSecond = (r: LoadResult) => r.perSecond
  const p50 = (r: LoadResult) => r.p50Ms
  const firstEvent = (r: StreamResult) => r.firstEventP50Ms
  const medianOf = <R>(results: R[], read: (result: R) => number) => median(results.map(read))

  const throughput = [
    ['concurrency', ...TARGETS.map((t) => `${LABEL[t]} req/s`), 'Assisters ÷ pass-through'],
    ...plain.map(({ connections, results }) => [
      String(connections),
      ...TARGETS.map((t) => withSpread(results[t].map(perSecond), whole)),
      withSpread(paired(results, perSecond, perRepeatRatio), ratio),
    ]),
  ]
  const latency = [
    ['concurrency', ...TARGETS.map((t) => `${LABEL[t]} p50 / p99`), 'Assisters − pass-through, p50'],
    ...plain.map(({ connections, results }) => [
      String(connections),
      ...TARGETS.map((t) => `${ms(medianOf(results[t], p50))} / ${ms(medianOf(results[t], (r) => r.p99Ms))}`),
      withSpread(paired(results, p50, perRepeatDifference), (v) => ms(v)),
    ]),
  ]
  const streams = [
    ['streams', ...TARGETS.map((t) => `${LABEL[t]} first event / end, p50`), 'Assisters − pass-through, first event p50'],
    ...streamed.map(({ concurrency, streamsPerClient, results }) => [
      `${concurrency} at a time, ${concurrency * streamsPerClient} in all`,
      ...TARGETS.map((t) => `${ms(medianOf(results[t], firstEvent))} / ${ms(medianOf(results[t], (r) => r.totalP50Ms))}`),
      withSpread(paired(results, firstEvent, perRepeatDifference), (v) => ms(v)),
    ]),
  ]

  const worstRatio = Math.min(...plain.map(({ results }) => median(paired(results, perSecond, perRepeatRatio))))
  const worstP50 = Math.max(...plain.map(({ results }) => median(paired(results, p50, perRepeatDifference))))
  const worstFirstEvent = Math.max(...streamed.map(({ results }) => median(paired(results, firstEvent, perRepeatDifference))))
  return {
    title: 'Relay overhead',
    method:
      `A mock OpenAI-compatible upstream (\`bench/mock-upstream.ts\`) answers a fixed completion, or streams ${EVENTS} numbered events. ` +
      'The same requests go to it directly, through a minimal `node:http` pass-through proxy (`bench/passthrough-proxy.ts`, ' +
      'no checks, the floor for any Node relay), and through our server (`npm run serve`, SQLite file, every check on: key lookup, ' +
      'origin, a rate limit high enough never to refuse, usage accounting, one JSON log line per request to a file). ' +
      `Non-streaming: closed-loop keep-alive connections (\`bench/load-generator.ts\`, raw sockets, latency in microseconds), ` +
      `1 s warm-up, then ${options.seconds} s measured; every answer must be a 200. ` +
      'Streaming: each stream is checked event by event (all numbered pieces, in order, then `[DONE]`), and timed to its first event and its end. ' +
      `${pinningNote} Medians of ${options.repeats} interleaved repeats, (min–max) in brackets; a ratio or difference is taken within each repeat, then the median.`,
    tables: [throughput, latency, streams],
    targets: [
      {
        name: 'at least 0.8× the pass-through’s requests per second',
        measured: `${ratio(worstRatio)} at the worst concurrency`,
        met: worstRatio >= 0.8,
      },
      { name: 'p50 within 0.2 ms of the pass-through’s', measured: `${ms(worstP50)} more at the worst concurrency`, met: worstP50 <= 0.2 },
      {
        name: 'time to first event within 2 ms of the pass-through’s',
        measured: `${ms(worstFirstEvent)} more at the worst concurrency`,
        met: worstFirstEvent <= 2,
      },
    ],
  }
}

async function manyStreams(stack: Stack, options: RelayOptions): Promise<BenchSection> {
  const EVENTS = 200
  const GAP_MS = 50
  const targets = [
    { target: 'passthrough' as const, pid: stack.proxyPid, runs: [] as { result: StreamResult; growth: number }[] },
    { target: 'ours' as const, pid: stack.ourPid, runs: [] as { result: StreamResult; growth: number }[] },
  ]
  for (let repeat = 0; repeat < options.repeats; repeat++) {
    for (const { target, pid, runs } of targets) {
      const before = residentBytes(pid)
      let peak = before
      const sampler = setInterval(() => (peak = Math.max(peak, residentBytes(pid))), 100)
      const stream: StreamOptions = {
        url: stack.urls[target],
        headers: headersFor(await stack.freshKey()),
        body: chatBody(`events=${EVENTS} gap=${GAP_MS}`, true),
        events: EVENTS,
        concurrency: options.manyStreams,
        streamsPerClient: 1,
      }
      const result = await runJson<StreamResult>('bench/stream-client.ts', stream, CORES?.driver)
      clearInterval(sampler)
      runs.push({ result, growth: peak - before })
      // Let the closed connections go before the next run measures its own starting point.
      await sleep(1000)
    }
  }
  const [floor, ours] = targets as [(typeof targets)[0], (typeof targets)[0]]
  const table = [
    ['', 'streams complete, every event in order', 'end of stream p50 / p99', 'peak RSS growth'],
    ...targets.map(({ target, runs }) => [
      LABEL[target],
      `${withSpread(runs.map((r) => r.result.streams - r.result.broken), whole)} of ${whole(options.manyStreams)}`,
      `${ms(median(runs.map((r) => r.result.totalP50Ms)), 0)} / ${ms(median(runs.map((r) => r.result.totalP99Ms)), 0)}`,
      withSpread(runs.map((r) => r.growth), megabytes),
    ]),
    // A difference, not a ratio: the proxy's growth can be next to nothing, which makes any ratio meaningless.
    ['Assisters − pass-through', '', '', withSpread(ours.runs.map((r, i) => r.growth - floor.runs[i]!.growth), megabytes)],
  ]
  const complete = ours.runs.every((r) => r.result.broken === 0)
  const growth = median(ours.runs.map((r) => r.growth))
  return {
    title: 'Many slow streams',
    method:
      `${whole(options.manyStreams)} streams at once, each ${EVENTS} events ${GAP_MS} ms apart (${(EVENTS * GAP_MS) / 1000} s at the least), ` +
      'through the pass-through proxy and through our server, every event checked. Resident memory of the process under test ' +
      `is sampled every 100 ms from /proc; growth is the peak minus the value just before the run. ${options.repeats} interleaved repeats.`,
    tables: [table],
    targets: [
      {
        name: `all ${whole(options.manyStreams)} streams complete with every event in order`,
        measured: complete ? 'all, in every repeat' : 'some streams broke',
        met: complete,
      },
      { name: 'peak RSS growth under 80 MB', measured: megabytes(growth), met: growth < 80 * 1024 * 1024 },
    ],
  }
}
