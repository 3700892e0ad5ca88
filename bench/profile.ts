/**
 * Where a relayed request's CPU goes: the pass-through proxy and our server, each under the same
 * non-streaming load, with V8's sampling profiler on (`--cpu-prof`), side by side in one run. Each
 * sample is put down to the code running when it was taken (self time), by layer; and, for our
 * server, to each of its files on the stack at the time (inclusive time), so the table reads as
 * "this much of a request is spent with this part of the server running".
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { allOk } from './processes.ts'
import { measureChatLoad, startStack } from './relay.ts'
import { median, whole, withSpread, type BenchSection } from './report.ts'

interface CallFrame {
  functionName: string
  url: string
}

interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[]
  samples: number[]
}

/** The layer a sample's own frame belongs to; undefined for idle time and start-up, which are left out. */
function layerOf(frame: CallFrame): string | undefined {
  const { functionName: name, url } = frame
  if (name === '(idle)') return undefined
  if (name === '(garbage collector)') return 'garbage collection'
  if (/^write(v|Buffer|\w+String)$/.test(name) && url === '') return 'socket writes (system calls)'
  if (url.startsWith('node:_http') || url === 'node:http') return 'Node HTTP (server and client)'
  if (url.includes('/server/')) return 'our code (server/)'
  if (url.includes('node_modules/')) return 'dependencies (node_modules)'
  if (url.startsWith('node:internal/crypto')) return 'crypto (hashes)'
  if (url.startsWith('node:')) return 'Node streams, events, timers, promises'
  return 'V8 and native code, unattributed'
}

/** Start-up (loading and compiling modules) is not a request's cost. */
const isStartUp = (frame: CallFrame) =>
  frame.url.startsWith('node:internal/modules') || frame.url.includes('node_modules/tsx') || frame.url.includes('node_modules/esbuild')

interface Breakdown {
  /** Share of busy samples per layer (self time). */
  layers: Map<string, number>
  /** Share of busy samples with code of each server file on the stack (inclusive time). */
  files: Map<string, number>
}

function breakdown(profile: CpuProfile): Breakdown {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const stackOf = (id: number) => {
    const frames: CallFrame[] = []
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) frames.push(byId.get(at)!.callFrame)
    return frames
  }
  const layers = new Map<string, number>()
  const files = new Map<string, number>()
  let busy = 0
  for (const sample of profile.samples) {
    const stack = stackOf(sample)
    const layer = layerOf(stack[0]!)
    if (layer === undefined || stack.some(isStartUp)) continue
    busy++
    layers.set(layer, (layers.get(layer) ?? 0) + 1)
    const seen = new Set(stack.map((frame) => /\/(server\/.+\.ts)$/.exec(frame.url)?.[1]).filter((file) => file !== undefined))
    for (const file of seen) files.set(file, (files.get(file) ?? 0) + 1)
  }
  for (const map of [layers, files]) for (const [name, count] of map) map.set(name, count / busy)
  return { layers, files }
}

const readProfile = (folder: string): CpuProfile => {
  const file = readdirSync(folder).find((name) => name.endsWith('.cpuprofile'))
  if (!file) throw new Error(`no CPU profile was written in ${folder}`)
  return JSON.parse(readFileSync(join(folder, file), 'utf8'))
}

type Profiled = 'passthrough' | 'ours'
const PROFILED: Profiled[] = ['passthrough', 'ours']
const LABEL: Record<Profiled, string> = { passthrough: 'pass-through proxy', ours: 'Assisters server' }

export async function benchProfile(options: { repeats: number; seconds: number }): Promise<BenchSection> {
  const CONNECTIONS = 16
  const runs: Record<Profiled, { cpuMicros: number; breakdown: Breakdown }[]> = { passthrough: [], ours: [] }
  for (let repeat = 0; repeat < options.repeats; repeat++) {
    const folder = mkdtempSync(join(tmpdir(), 'assisters-profile-'))
    try {
      // A fresh stack each repeat: each profile holds one run of one target, and is written when it stops.
      const stack = await startStack({ profileDir: folder })
      const cpu: Partial<Record<Profiled, number>> = {}
      try {
        for (const target of repeat % 2 ? [...PROFILED].reverse() : PROFILED) {
          const result = await measureChatLoad(stack, stack.urls[target], stack.pids[target], CONNECTIONS, options.seconds)
          allOk(LABEL[target], 'profiled', result)
          cpu[target] = result.cpuMicros
        }
      } finally {
        await stack.close()
      }
      for (const target of PROFILED) runs[target].push({ cpuMicros: cpu[target]!, breakdown: breakdown(readProfile(join(folder, target))) })
    } finally {
      rmSync(folder, { recursive: true, force: true })
    }
  }

  /** µs per request of a share: the share of the main thread's busy samples times the CPU per request. */
  const micros = (target: Profiled, read: (b: Breakdown) => number | undefined) =>
    withSpread(
      runs[target].map((run) => (read(run.breakdown) ?? 0) * run.cpuMicros),
      (value) => `${whole(value)} µs`,
    )
  const layerNames = [...new Set(PROFILED.flatMap((target) => runs[target].flatMap((run) => [...run.breakdown.layers.keys()])))]
  const layerShare = (target: Profiled, name: string) => median(runs[target].map((run) => run.breakdown.layers.get(name) ?? 0))
  layerNames.sort((a, b) => layerShare('ours', b) - layerShare('ours', a))
  const layers = [
    ['where the main thread is (self time)', `${LABEL.passthrough}, per request`, `${LABEL.ours}, per request`],
    ...layerNames.map((name) => [name, micros('passthrough', (b) => b.layers.get(name)), micros('ours', (b) => b.layers.get(name))]),
    ['all of it (user + system CPU of the process, /proc)', micros('passthrough', () => 1), micros('ours', () => 1)],
  ]
  const fileNames = [...new Set(runs.ours.flatMap((run) => [...run.breakdown.files.keys()]))]
  const fileShare = (name: string) => median(runs.ours.map((run) => run.breakdown.files.get(name) ?? 0))
  const files = [
    ['our server’s file on the stack (inclusive time)', 'per request', 'share of the busy main thread'],
    ...fileNames
      .filter((name) => fileShare(name) >= 0.01)
      .sort((a, b) => fileShare(b) - fileShare(a))
      .map((name) => [
        `\`${name}\``,
        micros('ours', (b) => b.files.get(name)),
        withSpread(
          runs.ours.map((run) => (run.breakdown.files.get(name) ?? 0) * 100),
          (value) => `${value.toFixed(1)}%`,
        ),
      ]),
  ]
  return {
    title: 'Where a request’s CPU goes',
    method:
      `The pass-through proxy and our server as in the relay section (SQLite, every check on, the access log to a file), each run with \`node --cpu-prof\` ` +
      `under ${CONNECTIONS} keep-alive connections of non-streamed chat requests for 1 s of warm-up and ${options.seconds} s measured, on a fresh stack each of ${options.repeats} repeats. ` +
      'Each sample of the main thread counts for the code running at that moment (self time), grouped by layer; idle time and start-up (loading modules) are left out. ' +
      'A layer’s µs per request is its share of the busy samples times the process’s CPU time per request from /proc; the profiler’s own cost is in both, ' +
      'and CPU of other threads (GC helpers, the thread pool) only in the last row. ' +
      'The second table counts, for our server, every sample with code of a file anywhere on the stack (inclusive time; a sample counts for every file on its stack). ' +
      'After an `await` a function’s stack starts afresh, so each step’s time is what ran synchronously in it. Medians, (min–max) in brackets.',
    tables: [layers, files],
    targets: [],
  }
}
