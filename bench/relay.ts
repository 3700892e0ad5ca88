/**
 * Sections 1 and 2: what the relay costs. The same requests go straight to a mock upstream,
 * through a minimal pass-through proxy (the floor for any Node relay), and through our server with
 * every check on. Repeats are interleaved, in a rotating order, so drift hits all three alike.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BENCH_SERVER_ENV, freshKey } from './bench-keys.ts'
import type { LoadOptions } from './load-generator.ts'
import {
  allOk,
  CORES,
  freePort,
  heapSamples,
  listening,
  loadMeasured,
  type Measured,
  pinningNote,
  residentBytes,
  runJson,
  startProcess,
  type HeapSample,
  type Started,
} from './processes.ts'
import { median, megabytes, ms, ratio, rotated, whole, withSpread, type BenchSection } from './report.ts'
import type { StreamOptions, StreamResult } from './stream-client.ts'

const ORIGIN = 'http://localhost:3000'

type Target = 'direct' | 'passthrough' | 'ours'
const TARGETS: Target[] = ['direct', 'passthrough', 'ours']
const LABEL: Record<Target, string> = { direct: 'upstream direct', passthrough: 'pass-through proxy', ours: 'Assisters server' }

export interface Stack {
  urls: Record<Target, string>
  /** The process each target's requests land on first (for direct: the upstream it talks to). */
  pids: Record<Target, number>
  /** Where the proxy and our server write their heap samples, when the stack was started to sample them. */
  heapFiles: Record<'passthrough' | 'ours', string>
  /** The mock upstream the proxy and our server relay to, and our server's SQLite file (relay-pieces.ts relays the same way). */
  upstreamOrigin: string
  sqliteFile: string
  /** Our server's stdout and stderr: its access log and any warning. */
  serverLog: string
  /** A fresh key on a fresh account, so no run ever meets the rate limit left by another. */
  freshKey(): Promise<string>
  close(): Promise<void>
}

/**
 * The three targets and their upstreams. With `sampleHeap`, the proxy and our server write heap
 * samples (heap-sampler.ts); with `profileDir`, each writes a CPU profile into a folder of its own
 * there (`passthrough`, `ours`) when it exits.
 */
export async function startStack(options: { sampleHeap?: boolean; profileDir?: string } = {}): Promise<Stack> {
  const folder = mkdtempSync(join(tmpdir(), 'assisters-bench-'))
  const [directPort, upstreamPort, proxyPort, ourPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()])
  const started: Started[] = []
  const start = (script: string, args: string[], options: Parameters<typeof startProcess>[2]) => {
    const part = startProcess(script, args, options)
    started.push(part)
    return part
  }
  const sqliteFile = join(folder, 'bench.db')
  const serverLog = join(folder, 'server.log')
  const heapFiles = { passthrough: join(folder, 'proxy-heap.txt'), ours: join(folder, 'ours-heap.txt') }
  const sampled = (target: keyof typeof heapFiles) => ({
    ...(options.sampleHeap && { heapSampleFile: heapFiles[target] }),
    ...(options.profileDir && { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${join(options.profileDir, target)}`] }),
  })
  const close = async () => {
    await Promise.all(started.map((part) => part.stop()))
    rmSync(folder, { recursive: true, force: true })
  }
  try {
    // Requests straight to an upstream get one on the core under test, away from the load generator;
    // the proxy and our server relay to one on the driver's core, away from themselves.
    const direct = start('bench/mock-upstream.ts', [String(directPort)], { core: CORES?.underTest })
    const upstream = start('bench/mock-upstream.ts', [String(upstreamPort)], { core: CORES?.driver })
    const proxy = start('bench/passthrough-proxy.ts', [String(proxyPort), `http://127.0.0.1:${upstreamPort}`], {
      core: CORES?.underTest,
      ...sampled('passthrough'),
    })
    const ours = start('server/main.ts', [], {
      core: CORES?.underTest,
      ...sampled('ours'),
      // Its request log goes to a file, as in production, not through a pipe the bench must drain.
      logFile: serverLog,
      env: {
        PORT: String(ourPort),
        HOST: '127.0.0.1',
        DATABASE_URL: `sqlite:${sqliteFile}`,
        UPSTREAM_BASE_URL: `http://127.0.0.1:${upstreamPort}/v1`,
        UPSTREAM_API_KEY: 'sk-bench-upstream',
        UPSTREAM_MODEL: 'bench-model',
        ...BENCH_SERVER_ENV,
      },
    })
    await Promise.all([
      listening(directPort, direct.child),
      listening(upstreamPort, upstream.child),
      listening(proxyPort, proxy.child),
      listening(ourPort, ours.child),
    ])
    const api = `http://127.0.0.1:${ourPort}`
    return {
      urls: {
        direct: `http://127.0.0.1:${directPort}/v1/chat/completions`,
        passthrough: `http://127.0.0.1:${proxyPort}/v1/chat/completions`,
        ours: `${api}/v1/chat/completions`,
      },
      pids: { direct: direct.child.pid!, passthrough: proxy.child.pid!, ours: ours.child.pid! },
      heapFiles,
      upstreamOrigin: `http://127.0.0.1:${upstreamPort}`,
      sqliteFile,
      serverLog,
      freshKey: () => freshKey(api),
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}

export const headersFor = (key: string) => ({ authorization: `Bearer ${key}`, origin: ORIGIN, 'content-type': 'application/json' })
export const chatBody = (content: string, stream: boolean) =>
  JSON.stringify({ model: 'assisters-chat-v1', stream, messages: [{ role: 'user', content }] })

/**
 * Non-streamed chat requests from `connections` keep-alive connections to `url` (a fresh key each
 * run), 1 s of warm-up then `seconds` measured, with the CPU time per answer of the process `pid`.
 */
export async function measureChatLoad(stack: Stack, url: string, pid: number, connections: number, seconds: number): Promise<Measured> {
  const load: LoadOptions = {
    url,
    method: 'POST',
    headers: headersFor(await stack.freshKey()),
    body: chatBody('Hello', false),
    connections,
    warmupMs: 1000,
    durationMs: seconds * 1000,
  }
  return loadMeasured(pid, load, (seconds + 30) * 1000)
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
  let overhead: BenchSection
  try {
    overhead = await relayOverhead(stack, options)
  } finally {
    await stack.close()
  }
  return [overhead, await manyStreams(options)]
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
  const plain = [1, 16, 128].map((connections) => ({ connections, results: byTarget<Measured>() }))
  const streamed = [
    { concurrency: 1, streamsPerClient: 100, results: byTarget<StreamResult>() },
    { concurrency: 100, streamsPerClient: 5, results: byTarget<StreamResult>() },
  ]
  const deadlineMs = (options.seconds + 30) * 1000

  for (let repeat = 0; repeat < options.repeats; repeat++) {
    for (const { connections, results } of plain) {
      for (const target of rotated(TARGETS, repeat)) {
        const result = await measureChatLoad(stack, stack.urls[target], stack.pids[target], connections, options.seconds)
        allOk(LABEL[target], `at concurrency ${connections}`, result)
        results[target].push(result)
      }
    }
    for (const { concurrency, streamsPerClient, results } of streamed) {
      for (const target of rotated(TARGETS, repeat)) {
        const stream: StreamOptions = {
          url: stack.urls[target],
          headers: headersFor(await stack.freshKey()),
          body: chatBody(`events=${EVENTS} gap=0`, true),
          events: EVENTS,
          concurrency,
          streamsPerClient,
          warmUp: true,
        }
        const result = await runJson<StreamResult>('bench/stream-client.ts', stream, { core: CORES?.driver, deadlineMs })
        if (result.broken) throw new Error(`${LABEL[target]}: ${result.broken} of ${result.streams} streams lost or reordered events`)
        results[target].push(result)
      }
    }
  }

  const perSecond = (r: Measured) => r.perSecond
  const p50 = (r: Measured) => r.p50Ms
  const cpu = (r: Measured) => r.cpuMicros
  const firstEvent = (r: StreamResult) => r.firstEventP50Ms
  const spread = <R>(results: R[], read: (result: R) => number, format: (value: number) => string) => withSpread(results.map(read), format)
  const micros = (value: number) => `${whole(value)} µs`

  const throughput = [
    ['concurrency', ...TARGETS.map((t) => `${LABEL[t]} req/s`), 'Assisters ÷ pass-through'],
    ...plain.map(({ connections, results }) => [
      String(connections),
      ...TARGETS.map((t) => spread(results[t], perSecond, whole)),
      withSpread(paired(results, perSecond, perRepeatRatio), ratio),
    ]),
  ]
  const latency = [
    ['concurrency', ...TARGETS.map((t) => `${LABEL[t]} p50 / p99`), 'Assisters − pass-through, p50'],
    ...plain.map(({ connections, results }) => [
      String(connections),
      ...TARGETS.map(
        (t) =>
          `${spread(results[t], p50, (v) => ms(v))} / ${spread(
            results[t],
            (r) => r.p99Ms,
            (v) => ms(v),
          )}`,
      ),
      withSpread(paired(results, p50, perRepeatDifference), (v) => ms(v)),
    ]),
  ]
  const cpuTable = [
    ['concurrency', ...TARGETS.map((t) => `${LABEL[t]}, CPU per request`), 'Assisters ÷ pass-through'],
    ...plain.map(({ connections, results }) => [
      String(connections),
      ...TARGETS.map((t) => spread(results[t], cpu, micros)),
      withSpread(paired(results, cpu, perRepeatRatio), ratio),
    ]),
  ]
  const streams = [
    ['streams', ...TARGETS.map((t) => `${LABEL[t]} first event / end, p50`), 'Assisters − pass-through, first event p50'],
    ...streamed.map(({ concurrency, streamsPerClient, results }) => [
      `${concurrency} at a time, ${concurrency * streamsPerClient} in all`,
      ...TARGETS.map(
        (t) =>
          `${spread(results[t], firstEvent, (v) => ms(v))} / ${spread(
            results[t],
            (r) => r.totalP50Ms,
            (v) => ms(v),
          )}`,
      ),
      withSpread(paired(results, firstEvent, perRepeatDifference), (v) => ms(v)),
    ]),
  ]

  const worstRatio = Math.min(...plain.map(({ results }) => median(paired(results, perSecond, perRepeatRatio))))
  // Issue 15 asks it of one request at a time: above that, p50 is mostly queueing behind the one core.
  const soloP50 = median(paired(plain[0]!.results, p50, perRepeatDifference))
  const worstFirstEvent = Math.max(...streamed.map(({ results }) => median(paired(results, firstEvent, perRepeatDifference))))
  const cpuRatio = median(plain.flatMap(({ results }) => paired(results, cpu, perRepeatRatio)))
  const heldBack =
    `Our server spends ${ratio(cpuRatio)} the pass-through’s CPU time per request (median over all runs): ` +
    'the checks (key lookup, origin, rate limit) are the smaller part; most is the chat path, where the proxy only pipes bytes: ' +
    'the body read and policy, building the upstream request, Node’s HTTP client, and re-reading the answer for usage and the ' +
    'model name. CPU profiles spread it thinly; no single function dominates'
  return {
    title: 'Relay overhead',
    method:
      `A mock OpenAI-compatible upstream (\`bench/mock-upstream.ts\`) answers a fixed completion, or streams ${EVENTS} numbered events. ` +
      'The same requests go to it directly, through a minimal `node:http` pass-through proxy (`bench/passthrough-proxy.ts`, ' +
      'no checks, the floor for any Node relay), and through our server (`npm run serve`, SQLite file, every check on: key lookup, ' +
      "origin, the key's and a per-visitor rate limit high enough never to refuse, the cap on answers in progress, usage " +
      'accounting, one JSON log line per request to a file). ' +
      `Non-streaming: closed-loop keep-alive connections (\`bench/load-generator.ts\`, raw sockets, latency in microseconds), ` +
      `1 s warm-up, then ${options.seconds} s measured; every answer must be a 200. ` +
      'CPU per request is the user + system time of the process under test (for "upstream direct", the upstream itself) from /proc, ' +
      'divided by every answer it gave in the run, warm-up included: unlike requests per second, it does not depend on the load generator keeping up. ' +
      'Streaming: each client first opens one uncounted stream; every stream is checked event by event (all numbered pieces, in order, then `[DONE]`, nothing else), ' +
      `and timed to its first event and its end. ${pinningNote} Medians of ${options.repeats} repeats, (min–max) in brackets; ` +
      'a ratio or difference is taken within each repeat, then the median.',
    tables: [throughput, latency, cpuTable, streams],
    targets: [
      {
        name: 'at least 0.8× the pass-through’s requests per second',
        measured: `${ratio(worstRatio)} at the worst concurrency`,
        met: worstRatio >= 0.8,
        why: heldBack,
      },
      {
        name: 'p50 one request at a time within 0.2 ms of the pass-through’s',
        measured: `${ms(soloP50)} more`,
        met: soloP50 <= 0.2,
        why: 'The difference is the extra work of one request: the checks, the log line, and building the upstream request and re-reading its answer instead of piping bytes',
      },
      {
        name: 'time to first event within 2 ms of the pass-through’s',
        measured: `${ms(worstFirstEvent)} more at the worst concurrency`,
        met: worstFirstEvent <= 2,
        why: 'With 100 streams at once the first events queue behind the other streams’ work on the one core',
      },
    ],
  }
}

interface Run {
  result: StreamResult
  /** Peak resident size minus the size just before the run. */
  growth: number
  /** Likewise for the V8 heap in use, and for memory outside it (Buffers), from the process's own samples. */
  heap: number
  external: number
}

/** Peak minus the last sample before `startedAt`, for the heap and for external memory. */
function heapGrowth(samples: HeapSample[], startedAt: number) {
  const before = samples.findLast((sample) => sample.at < startedAt) ?? samples[0]
  const during = samples.filter((sample) => sample.at >= startedAt)
  if (!before || during.length === 0) throw new Error('the process under test wrote no heap samples')
  return {
    heap: Math.max(...during.map((sample) => sample.heapUsed)) - before.heapUsed,
    external: Math.max(...during.map((sample) => sample.external)) - before.external,
  }
}

async function manyStreams(options: RelayOptions): Promise<BenchSection> {
  const EVENTS = 200
  const GAP_MS = 50
  const targets: ('passthrough' | 'ours')[] = ['passthrough', 'ours']
  const runs: Record<'passthrough' | 'ours', Run[]> = { passthrough: [], ours: [] }
  for (let repeat = 0; repeat < options.repeats; repeat++) {
    // A fresh stack each repeat: memory an earlier run left behind would hide this run's growth.
    const stack = await startStack({ sampleHeap: true })
    try {
      for (const target of rotated(targets, repeat)) {
        const pid = stack.pids[target]
        const headers = headersFor(await stack.freshKey())
        // A few quick streams first: the growth measured is the streams', not the first requests' compiled code.
        const warmUp: StreamOptions = {
          url: stack.urls[target],
          headers,
          body: chatBody('events=20 gap=0', true),
          events: 20,
          concurrency: 10,
          streamsPerClient: 10,
          warmUp: false,
        }
        await runJson<StreamResult>('bench/stream-client.ts', warmUp, { core: CORES?.driver, deadlineMs: 60_000 })
        const before = residentBytes(pid)
        const startedAt = Date.now()
        let peak = before
        const sampler = setInterval(() => (peak = Math.max(peak, residentBytes(pid))), 100)
        try {
          const stream: StreamOptions = {
            url: stack.urls[target],
            headers,
            body: chatBody(`events=${EVENTS} gap=${GAP_MS}`, true),
            events: EVENTS,
            concurrency: options.manyStreams,
            streamsPerClient: 1,
            warmUp: false,
          }
          const result = await runJson<StreamResult>('bench/stream-client.ts', stream, {
            core: CORES?.driver,
            deadlineMs: EVENTS * GAP_MS + 60_000,
          })
          runs[target].push({ result, growth: peak - before, ...heapGrowth(heapSamples(stack.heapFiles[target]), startedAt) })
        } finally {
          clearInterval(sampler)
        }
      }
    } finally {
      await stack.close()
    }
  }
  const [floor, ours] = [runs.passthrough, runs.ours]
  const table = [
    [
      '',
      'streams complete, every event in order',
      'end of stream p50 / p99',
      'peak RSS growth',
      'peak V8 heap growth',
      'peak external (Buffer) growth',
    ],
    ...targets.map((target) => [
      LABEL[target],
      `${withSpread(
        runs[target].map((r) => r.result.streams - r.result.broken),
        whole,
      )} of ${whole(options.manyStreams)}`,
      `${withSpread(
        runs[target].map((r) => r.result.totalP50Ms),
        (v) => ms(v, 0),
      )} / ${withSpread(
        runs[target].map((r) => r.result.totalP99Ms),
        (v) => ms(v, 0),
      )}`,
      withSpread(
        runs[target].map((r) => r.growth),
        megabytes,
      ),
      withSpread(
        runs[target].map((r) => r.heap),
        megabytes,
      ),
      withSpread(
        runs[target].map((r) => r.external),
        megabytes,
      ),
    ]),
    // A difference, not a ratio: the proxy's growth can be next to nothing, which makes any ratio meaningless.
    [
      'Assisters − pass-through',
      '',
      '',
      withSpread(
        ours.map((r, i) => r.growth - floor[i]!.growth),
        megabytes,
      ),
      withSpread(
        ours.map((r, i) => r.heap - floor[i]!.heap),
        megabytes,
      ),
      withSpread(
        ours.map((r, i) => r.external - floor[i]!.external),
        megabytes,
      ),
    ],
  ]
  const complete = ours.every((r) => r.result.broken === 0)
  const worstGrowth = Math.max(...ours.map((r) => r.growth))
  return {
    title: 'Many slow streams',
    method:
      `${whole(options.manyStreams)} streams at once, each ${EVENTS} events ${GAP_MS} ms apart (${(EVENTS * GAP_MS) / 1000} s at the least), ` +
      'through the pass-through proxy and through our server, every event checked, on a freshly started stack each repeat, ' +
      'after 100 quick streams to warm it up. ' +
      'Resident memory of the process under test is sampled every 100 ms from /proc; growth is the peak minus the value just before the run. ' +
      'Beside it, each process under test samples its own V8 heap in use and its memory outside the heap (Buffers) every 100 ms ' +
      '(`bench/heap-sampler.ts`, loaded with `--import` into the proxy and our server alike), with growth taken the same way. ' +
      `${options.repeats} repeats; the target is judged on the largest growth.`,
    tables: [table],
    targets: [
      {
        name: `all ${whole(options.manyStreams)} streams complete with every event in order`,
        measured: complete ? 'all, in every repeat' : 'some streams broke',
        met: complete,
      },
      { name: 'peak RSS growth under 80 MB', measured: `${megabytes(worstGrowth)} at the most`, met: worstGrowth < 80 * 1024 * 1024 },
    ],
  }
}
