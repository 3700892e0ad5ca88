/**
 * What each piece of a checking relay costs: the pass-through proxy, a relay that reads and rebuilds
 * as ours must (piecewise-relay.ts), that relay with one of our server's pieces at a time and with all
 * of them, and our server, under the same load side by side. It tells the cost of relaying from the
 * cost of the work a checked request needs, which the profile section cannot: there each piece's time
 * is spread over Node's HTTP, streams and the garbage collector.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { measureChatLoad, startStack } from './relay.ts'
import { allOk, CORES, freePort, listening, type Started, startProcess } from './processes.ts'
import { median, ratio, rotated, whole, withSpread, type BenchSection } from './report.ts'

interface Variant {
  name: string
  /** What it adds, in the table. */
  what: string
  /** The piecewise relay's PIECES, or the stack's own process. */
  pieces?: string[]
}

const PIECES: Variant[] = [
  {
    name: 'key',
    what: '+ the key looked up: its SHA-256, then one SQLite read by hash (server/store/sqlite.ts), on our server’s own file',
  },
  { name: 'limit', what: '+ the key’s rate limit: one in-memory limiter decision and its response headers (server/rate-limit.ts)' },
  { name: 'headers', what: '+ the rest of our response headers: a request id (randomUUID), CORS, Vary, Cache-Control' },
  { name: 'abort', what: '+ an AbortController and a deadline timer, aborted if the visitor leaves' },
  { name: 'log', what: '+ the access log line, batched to stdout (server/log.ts), at the response’s close' },
  { name: 'metrics', what: '+ the Prometheus request counter, latency and first-byte histograms (server/metrics.ts)' },
  { name: 'body', what: '+ the body read by our reader: content type, length limit, strict UTF-8 (server/body.ts)' },
  {
    name: 'policy',
    what: '+ the chat policy: every field and message checked and rebuilt, the visitor’s pseudonymous id (server/chat-request.ts)',
  },
  { name: 'visitor', what: '+ the per-visitor limit: the client’s address, a second limiter decision' },
  { name: 'account', what: '+ the account’s daily budget read: a second SQLite read' },
  { name: 'slots', what: '+ an answer slot taken and given back (server/stream-slots.ts, in memory)' },
  { name: 'usage', what: '+ the answer parsed whole for its usage, counted and written in batches (server/usage.ts)' },
]
/** The pieces that every relay of ours needs, and those our checks add on top of them. */
const BASIC = ['key', 'limit', 'headers', 'abort', 'log', 'metrics']

const VARIANTS: Variant[] = [
  { name: 'passthrough', what: 'pass-through proxy: pipes the request and the answer, looks at neither' },
  {
    name: 'rebuild',
    what: 'reads and rebuilds: the body read and parsed, sent on by our upstream client (server/upstream.ts), the answer read and its model renamed',
    pieces: [],
  },
  ...PIECES.map((piece) => ({ ...piece, pieces: [piece.name] })),
  { name: 'basic', what: 'the first six pieces together', pieces: BASIC },
  { name: 'all', what: 'all twelve pieces together', pieces: PIECES.map((piece) => piece.name) },
  { name: 'ours', what: 'Assisters server: all of the above, and the origin check, the token budgets, the activity record, its pipeline' },
]

export async function benchRelayPieces(options: { repeats: number; seconds: number }): Promise<BenchSection> {
  const CONNECTIONS = 16
  const stack = await startStack()
  const relays: Started[] = []
  const cpu = new Map(VARIANTS.map((variant) => [variant.name, [] as number[]]))
  try {
    const targets = new Map<string, { url: string; pid: number; log?: string }>([
      ['passthrough', { url: stack.urls.passthrough, pid: stack.pids.passthrough }],
      ['ours', { url: stack.urls.ours, pid: stack.pids.ours, log: stack.serverLog }],
    ])
    for (const variant of VARIANTS.filter((variant) => variant.pieces)) {
      const port = await freePort()
      // Log lines go to a file, as our server's do in this bench.
      const log = join(stack.sqliteFile, '..', `pieces-${variant.name}.log`)
      const relay = startProcess('bench/piecewise-relay.ts', [String(port), stack.upstreamOrigin, stack.sqliteFile], {
        core: CORES?.underTest,
        env: { PIECES: variant.pieces!.join(',') },
        logFile: log,
      })
      relays.push(relay)
      await listening(port, relay.child)
      targets.set(variant.name, { url: `http://127.0.0.1:${port}/v1/chat/completions`, pid: relay.child.pid!, log })
    }
    for (let repeat = 0; repeat < options.repeats; repeat++) {
      for (const variant of rotated(VARIANTS, repeat * 3)) {
        const target = targets.get(variant.name)!
        const result = await measureChatLoad(stack, target.url, target.pid, CONNECTIONS, options.seconds)
        try {
          allOk(`the relay “${variant.name}”`, 'under load', result)
        } catch (err) {
          // The process's own account of the refused requests (the relay's stderr, our server's warnings).
          const log =
            target.log && existsSync(target.log)
              ? readFileSync(target.log, 'utf8')
                  .split('\n')
                  .filter((line) => line.startsWith('piecewise relay:') || /"level":"(warn|error)"/.test(line))
              : []
          throw new Error(`${(err as Error).message}${log.length ? `; ${log.slice(-3).join('; ')}` : ''}`)
        }
        cpu.get(variant.name)!.push(result.cpuMicros)
      }
    }
  } finally {
    await Promise.all(relays.map((relay) => relay.stop()))
    await stack.close()
  }

  const runs = (name: string) => cpu.get(name)!
  /** Per repeat, against the same repeat's run of `base`. */
  const against = (name: string, base: string, combine: (value: number, floor: number) => number) =>
    runs(name).map((value, i) => combine(value, runs(base)[i]!))
  const micros = (value: number) => `${whole(value)} µs`
  const signed = (value: number) => `${value >= 0 ? '+' : '−'}${micros(Math.abs(value))}`
  const table = [
    ['relay', 'CPU per request', '÷ pass-through', 'added to “reads and rebuilds”'],
    ...VARIANTS.map(({ name, what }) => [
      what,
      withSpread(runs(name), micros),
      withSpread(
        against(name, 'passthrough', (value, floor) => value / floor),
        ratio,
      ),
      name === 'passthrough' || name === 'rebuild'
        ? ''
        : withSpread(
            against(name, 'rebuild', (value, floor) => value - floor),
            signed,
          ),
    ]),
  ]
  const added = (name: string) => median(against(name, 'rebuild', (value, floor) => value - floor))
  const summed = (names: string[]) => names.reduce((sum, name) => sum + added(name), 0)
  const sums = [
    ['pieces', 'added to “reads and rebuilds”, median'],
    ['the first six one at a time, summed', signed(summed(BASIC))],
    ['the first six together', signed(added('basic'))],
    ['all twelve one at a time, summed', signed(summed(PIECES.map((piece) => piece.name)))],
    ['all twelve together', signed(added('all'))],
    ['our server, over all twelve together', signed(median(against('ours', 'all', (value, floor) => value - floor)))],
  ]
  return {
    title: 'What each piece of a checking relay costs',
    method:
      'The pass-through proxy, our server, and `bench/piecewise-relay.ts` run side by side under the same non-streaming load ' +
      `(${CONNECTIONS} keep-alive connections, 1 s warm-up, ${options.seconds} s measured, every answer a 200), each on the core under test, ` +
      'all relaying to the same mock upstream. The piecewise relay does what any relay that checks requests must: it reads and parses the body, ' +
      'sends it on with our server’s upstream client, reads the answer and renames its model; then, switched on by name, one piece of our server at a time, ' +
      'each done by the server’s own module, then the six that any relay of ours needs whatever it checks, then all twelve. CPU per request as in the relay section (user + system time from /proc ÷ answers); ' +
      `“added” is the difference from “reads and rebuilds” within each repeat. Medians of ${options.repeats} repeats in rotating order, (min–max) in brackets.`,
    tables: [table, sums],
    targets: [],
  }
}
