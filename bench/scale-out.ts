/**
 * The scale-out section: what running on PostgreSQL and Redis costs against the embedded default, side by side
 * in one run: the same server, the same requests, SQLite + in-memory limits against PostgreSQL +
 * Redis; then WORKERS=1 against WORKERS=2. (One limiter check on its own: limiter.ts.)
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import pg from 'pg'
import { BENCH_SERVER_ENV, freshKey, type KeyLimits } from './bench-keys.ts'
import type { LoadOptions } from './load-generator.ts'
import { allOk, CORES, freePort, listening, loadMeasured, startProcess, type Measured, type Started } from './processes.ts'
import { median, ms, ratio, rotated, whole, withSpread, type BenchSection } from './report.ts'

const POSTGRES = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const REDIS = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'

type Engine = 'embedded' | 'networked'
const LABEL: Record<Engine, string> = { embedded: 'SQLite + memory', networked: 'PostgreSQL + Redis' }

/** A database and a Redis prefix of this run's own, dropped afterwards. */
async function services() {
  const name = `assisters_bench_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: POSTGRES })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  const prefix = `assisters-bench:${randomBytes(4).toString('hex')}:`
  const redis = new Redis(REDIS, { maxRetriesPerRequest: 1 })
  const url = new URL(POSTGRES)
  url.pathname = `/${name}`
  return {
    databaseUrl: url.href,
    prefix,
    async drop() {
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length) await redis.del(...keys)
      redis.disconnect()
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.end()
    },
  }
}

interface Server {
  url: string
  pid: number
  freshKey(limits?: KeyLimits): Promise<string>
  stop(): Promise<void>
}

async function startServer(env: Record<string, string>, upstreamPort: number, folder: string, core: string | undefined): Promise<Server> {
  const port = await freePort()
  const part: Started = startProcess('server/main.ts', [], {
    core,
    logFile: join(folder, `server-${port}.log`),
    env: {
      PORT: String(port),
      HOST: '127.0.0.1',
      UPSTREAM_BASE_URL: `http://127.0.0.1:${upstreamPort}/v1`,
      UPSTREAM_MODEL: 'bench-model',
      ...BENCH_SERVER_ENV,
      ...env,
    },
  })
  await listening(port, part.child)
  const api = `http://127.0.0.1:${port}`
  return {
    url: `${api}/v1/chat/completions`,
    pid: part.child.pid!,
    freshKey: (limits) => freshKey(api, limits),
    stop: () => part.stop(),
  }
}

/** The pass-through proxy, as a Server the load can drive (it needs no key: it checks nothing). */
async function startProxy(upstreamPort: number, core: string | undefined): Promise<Server> {
  const port = await freePort()
  const part = startProcess('bench/passthrough-proxy.ts', [String(port), `http://127.0.0.1:${upstreamPort}`], { core })
  await listening(port, part.child)
  return {
    url: `http://127.0.0.1:${port}/v1/chat/completions`,
    pid: part.child.pid!,
    freshKey: async () => 'none',
    stop: () => part.stop(),
  }
}

async function load(server: Server, connections: number, seconds: number, limits?: KeyLimits): Promise<Measured> {
  const options: LoadOptions = {
    url: server.url,
    method: 'POST',
    headers: {
      authorization: `Bearer ${await server.freshKey(limits)}`,
      origin: 'http://localhost:3000',
      'content-type': 'application/json',
    },
    body: JSON.stringify({ model: 'assisters-chat-v1', messages: [{ role: 'user', content: 'Hello' }] }),
    connections,
    warmupMs: 1000,
    durationMs: seconds * 1000,
  }
  const result = await loadMeasured(server.pid, options, (seconds + 30) * 1000)
  allOk(server.url, `at concurrency ${connections}`, result)
  return result
}

export interface ScaleOutOptions {
  repeats: number
  seconds: number
}

export async function benchScaleOut(options: ScaleOutOptions): Promise<BenchSection> {
  const folder = mkdtempSync(join(tmpdir(), 'assisters-bench-scale-'))
  const shared = await services()
  const upstreamPort = await freePort()
  const upstream = startProcess('bench/mock-upstream.ts', [String(upstreamPort)], { core: CORES?.driver })
  const started: Server[] = []
  try {
    await listening(upstreamPort, upstream.child)
    const envs: Record<Engine, Record<string, string>> = {
      embedded: { DATABASE_URL: `sqlite:${join(folder, 'bench.db')}` },
      networked: { DATABASE_URL: shared.databaseUrl, REDIS_URL: REDIS, REDIS_PREFIX: shared.prefix },
    }
    const servers = {} as Record<Engine, Server>
    for (const engine of ['embedded', 'networked'] as const) {
      servers[engine] = await startServer(envs[engine], upstreamPort, folder, CORES?.underTest)
      started.push(servers[engine])
    }
    // The floor again, in this section's own rotation, so each engine's ratios to it are of the same run.
    const proxy = await startProxy(upstreamPort, CORES?.underTest)
    started.push(proxy)

    // 1. The same server on each pair of engines, pinned to the core under test, in a rotating order.
    const levels = [1, 16]
    const results = levels.map(() => ({ embedded: [] as Measured[], networked: [] as Measured[], proxy: [] as Measured[] }))
    for (let repeat = 0; repeat < options.repeats; repeat++) {
      for (const [i, connections] of levels.entries()) {
        for (const target of rotated(['embedded', 'networked', 'proxy'] as const, repeat)) {
          results[i]![target].push(await load(target === 'proxy' ? proxy : servers[target], connections, options.seconds))
        }
      }
    }
    const engines = ['embedded', 'networked'] as const
    const paired = (i: number, read: (r: Measured) => number) =>
      results[i]!.networked.map((r, k) => read(r) / read(results[i]!.embedded[k]!))
    const table = [
      ['concurrency', ...engines.map((e) => `${LABEL[e]}: req/s, p50, CPU per request`), 'PostgreSQL + Redis ÷ SQLite + memory, req/s'],
      ...levels.map((connections, i) => [
        String(connections),
        ...engines.map((e) => {
          const runs = results[i]![e]
          return `${withSpread(
            runs.map((r) => r.perSecond),
            whole,
          )}, ${ms(median(runs.map((r) => r.p50Ms)))}, ${whole(median(runs.map((r) => r.cpuMicros)))} µs`
        }),
        withSpread(
          paired(i, (r) => r.perSecond),
          ratio,
        ),
      ]),
    ]

    const againstProxy = [
      [
        'concurrency',
        'pass-through proxy: req/s, p50, CPU per request',
        ...engines.flatMap((e) => [`${LABEL[e]} ÷ pass-through: req/s, CPU per request`, `${LABEL[e]} − pass-through: p50`]),
      ],
      ...levels.map((connections, i) => {
        const floor = results[i]!.proxy
        const perRepeat = (e: Engine, read: (r: Measured) => number, combine: (ours: number, base: number) => number) =>
          results[i]![e].map((r, k) => combine(read(r), read(floor[k]!)))
        return [
          String(connections),
          `${withSpread(
            floor.map((r) => r.perSecond),
            whole,
          )}, ${ms(median(floor.map((r) => r.p50Ms)))}, ${whole(median(floor.map((r) => r.cpuMicros)))} µs`,
          ...engines.flatMap((e) => [
            `${withSpread(
              perRepeat(
                e,
                (r) => r.perSecond,
                (a, b) => a / b,
              ),
              ratio,
            )}, ${withSpread(
              perRepeat(
                e,
                (r) => r.cpuMicros,
                (a, b) => a / b,
              ),
              ratio,
            )}`,
            withSpread(
              perRepeat(
                e,
                (r) => r.p50Ms,
                (a, b) => a - b,
              ),
              (v) => ms(v),
            ),
          ]),
        ]
      }),
    ]

    // 2. What issue 16's limits cost on each pair of engines: keys held to none of them, to a visitor
    // limit (as every widget key is by default), and to that plus daily token budgets on the key and its account.
    const limitLevels: KeyLimits[] = ['none', 'visitor', 'visitor and budgets']
    const byLimits = engines.map(() => limitLevels.map(() => [] as Measured[]))
    for (let repeat = 0; repeat < options.repeats; repeat++) {
      for (const [e, engine] of engines.entries()) {
        for (const [l, limits] of rotated(limitLevels, repeat).map((limits) => [limitLevels.indexOf(limits), limits] as const)) {
          byLimits[e]![l]!.push(await load(servers[engine], 16, options.seconds, limits))
        }
      }
    }
    const limitsTable = [
      ['engines', ...limitLevels.map((limits) => `key held to ${limits}: req/s, CPU per request`), 'CPU added by visitor limit + budgets'],
      ...engines.map((engine, e) => {
        const cpu = (l: number) => median(byLimits[e]![l]!.map((r) => r.cpuMicros))
        return [
          LABEL[engine],
          ...limitLevels.map(
            (_, l) =>
              `${withSpread(
                byLimits[e]![l]!.map((r) => r.perSecond),
                whole,
              )}, ${whole(cpu(l))} µs`,
          ),
          `${whole(cpu(2) - cpu(0))} µs (${ratio(cpu(2) / cpu(0))})`,
        ]
      }),
    ]

    // 3. WORKERS=1 against WORKERS=2, unpinned (a cluster needs both cores), on PostgreSQL + Redis.
    for (const server of started.splice(0)) await server.stop()
    const byWorkers: Record<string, number[]> = { '1': [], '2': [] }
    for (let repeat = 0; repeat < options.repeats; repeat++) {
      for (const workers of repeat % 2 ? ['2', '1'] : ['1', '2']) {
        const server = await startServer({ ...envs.networked, WORKERS: workers }, upstreamPort, folder, undefined)
        started.push(server)
        byWorkers[workers]!.push((await load(server, 16, options.seconds)).perSecond)
        await started.pop()!.stop()
      }
    }
    const workersRatio = byWorkers['2']!.map((value, k) => value / byWorkers['1']![k]!)
    const workersTable = [
      ['WORKERS', 'req/s at concurrency 16'],
      ['1', withSpread(byWorkers['1']!, whole)],
      ['2', withSpread(byWorkers['2']!, whole)],
      ['2 ÷ 1', withSpread(workersRatio, ratio)],
    ]

    const at16 = median(paired(1, (r) => r.perSecond))
    return {
      title: 'Scale-out: PostgreSQL + Redis against the embedded default, and WORKERS',
      method:
        'The same `npm run serve`, pinned to the core under test, once on a SQLite file with the in-memory limiter and once on ' +
        'PostgreSQL with the Redis limiter (each request: one key lookup in PostgreSQL, one limiter script in Redis), relaying to ' +
        'the mock upstream on the driver core; non-streaming requests from the closed-loop load generator, medians of ' +
        `${options.repeats} repeats in alternating order. PostgreSQL and Redis are the machine's shared services, not pinned: ` +
        'their own CPU time is not in "CPU per request" (the server\'s only), but they compete for the same two cores. ' +
        'The pass-through proxy of the relay section (`bench/passthrough-proxy.ts`, no checks) runs in the same rotation, on the same core, ' +
        "relaying to the same upstream, so the second table gives each engine's ratios to it from this run. " +
        "The second table runs the same servers at concurrency 16 with keys held to none of issue 16's limits, to a per-visitor " +
        "limit (every widget key's default; one limiter check more), and to that plus daily token budgets on the key and its " +
        "account (one budget read per request; in Redis one MGET, and one script adding the answer's tokens), each set too high " +
        'ever to refuse; the cap on answers in progress is checked for every key (in Redis a lease taken and given back). ' +
        'WORKERS=1 and WORKERS=2 run ' +
        'unpinned on PostgreSQL + Redis: on a 2-core machine the load generator, the mock upstream, PostgreSQL and Redis share ' +
        'the cores with the workers, so the second worker can show that the cluster works and costs little, not how it scales ' +
        'on a machine with cores to spare.',
      tables: [table, againstProxy, limitsTable, workersTable],
      targets: [
        {
          name: 'PostgreSQL + Redis at least 0.7× the requests per second of SQLite + memory, per process (concurrency 16)',
          measured: ratio(at16),
          met: at16 >= 0.7,
          why: 'each request waits on two network round trips (PostgreSQL, then Redis) that the embedded engines answer in-process',
        },
      ],
    }
  } finally {
    for (const server of started) await server.stop()
    await upstream.stop()
    await shared.drop()
    rmSync(folder, { recursive: true, force: true })
  }
}
