/**
 * The benchmark's processes: each part runs in its own Node process, pinned to a core with
 * `taskset` when the machine has two or more, so the server under test never shares a core with
 * the load that drives it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { openSync, readFileSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import type { LoadOptions, LoadResult } from './load-generator.ts'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))

function hasTaskset() {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Core 0 for the process under test, core 1 for everything that drives it; undefined: no pinning. */
export const CORES = availableParallelism() >= 2 && hasTaskset() ? { underTest: '0', driver: '1' } : undefined

export const pinningNote = CORES
  ? 'The process under test (for the direct baseline, a mock upstream of its own) runs on core 0 (`taskset -c 0`); the load generator and the relayed-to mock upstream on core 1.'
  : 'This machine has one core or no `taskset`: nothing is pinned, so the load generator competes with the server.'

/** `node --import tsx <script> ...args`, pinned to a core when possible; `flags` go to node before the script. */
function command(core: string | undefined, script: string, args: string[], flags: string[] = []) {
  const node = ['--import', 'tsx', ...flags, script, ...args]
  return core ? { file: 'taskset', args: ['-c', core, process.execPath, ...node] } : { file: process.execPath, args: node }
}

export interface Started {
  child: ChildProcess
  stop(): Promise<void>
}

/** Starts a long-running part; stdout and stderr go to logFile (or nowhere), never through a pipe to us. */
export function startProcess(
  script: string,
  args: string[],
  options: { core?: string; env?: NodeJS.ProcessEnv; logFile?: string; heapSampleFile?: string; nodeFlags?: string[] } = {},
): Started {
  const sampling = options.heapSampleFile !== undefined
  const flags = [...(sampling ? ['--import', './bench/heap-sampler.ts'] : []), ...(options.nodeFlags ?? [])]
  const { file, args: rest } = command(options.core, script, args, flags)
  const output = options.logFile ? openSync(options.logFile, 'a') : 'ignore'
  const env = { ...process.env, ...options.env, ...(sampling && { HEAP_SAMPLE_FILE: options.heapSampleFile }) }
  const child = spawn(file, rest, { cwd: ROOT, env, stdio: ['ignore', output, output] })
  return {
    child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

/** Runs a part to completion (killed after `deadlineMs`) and parses the one JSON line it prints. */
export function runJson<T>(script: string, input: unknown, options: { core?: string; deadlineMs: number }): Promise<T> {
  const { file, args } = command(options.core, script, [JSON.stringify(input)])
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
    const deadline = setTimeout(() => child.kill('SIGKILL'), options.deadlineMs)
    let out = ''
    child.stdout.on('data', (data) => (out += data))
    // 'close', not 'exit': only then has all of its output been read.
    child.on('close', (code, signal) => {
      clearTimeout(deadline)
      if (code !== 0)
        return reject(new Error(`${script} ${signal === 'SIGKILL' ? `ran past ${options.deadlineMs} ms` : `exited with ${code}`}`))
      try {
        resolve(JSON.parse(out))
      } catch {
        reject(new Error(`${script} printed no JSON: ${out.slice(0, 200)}`))
      }
    })
  })
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** Resolves once something accepts connections on the port (within 20 s). */
export async function listening(port: number, child: ChildProcess) {
  for (let waited = 0; waited < 20_000; waited += 50) {
    if (child.exitCode !== null) throw new Error(`the process for port ${port} exited with ${child.exitCode}`)
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end()
        resolve(true)
      })
      socket.on('error', () => resolve(false))
    })
    if (open) return
    await sleep(50)
  }
  throw new Error(`nothing listening on ${port} after 20 s`)
}

/** CPU time (user + system, every thread) a process has used so far, in seconds, from /proc. */
export function cpuSeconds(pid: number): number {
  // The fields after the command name, which sits in brackets and may hold spaces.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  // utime and stime (fields 14 and 15 of the whole line) in clock ticks: 100 a second on Linux.
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** A load run's result, with the CPU time (user + system) of the process under test per answer, warm-up included. */
export interface Measured extends LoadResult {
  cpuMicros: number
}

/** Every answer must be a 200: a refused request measures the refusal, not the relay. */
export function allOk(who: string, what: string, result: LoadResult) {
  const refused = Object.entries(result.statuses).filter(([status]) => status !== '200')
  if (result.errors || refused.length || !result.requests)
    throw new Error(`${who} ${what}: ${result.errors} errors, statuses ${JSON.stringify(result.statuses)}`)
}

/** Drives the process `pid` with the load generator (on the driver's core) and measures its CPU time per answer. */
export async function loadMeasured(pid: number, load: LoadOptions, deadlineMs: number): Promise<Measured> {
  const before = cpuSeconds(pid)
  const result = await runJson<LoadResult>('bench/load-generator.ts', load, { core: CORES?.driver, deadlineMs })
  return { ...result, cpuMicros: ((cpuSeconds(pid) - before) * 1e6) / result.allRequests }
}

/** Resident memory of a process, in bytes, from /proc. */
export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) * 1024
}

/** One line of bench/heap-sampler.ts: when, V8 heap used, and memory outside it (Buffers), in bytes. */
export interface HeapSample {
  at: number
  heapUsed: number
  external: number
}

/** The samples a process under test has written so far. */
export function heapSamples(file: string): HeapSample[] {
  let text = ''
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return []
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [at, heapUsed, external] = line.split(' ').map(Number)
      return { at: at!, heapUsed: heapUsed!, external: external! }
    })
}
