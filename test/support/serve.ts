/**
 * The real production entry point (`npm run serve`'s own command, read from package.json) as a
 * child process, for tests where several processes, signals or node:cluster are the point.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SERVE = (JSON.parse(readFileSync(new URL('package.json', `file://${ROOT}`), 'utf8')) as { scripts: { serve: string } }).scripts.serve

export interface ServeProcess {
  child: ChildProcess
  /** The API's base URL, from its `listening` log line. */
  url: string
  /** Every log line so far, parsed (stdout is JSON lines). */
  lines: Array<Record<string, any>>
  stderr(): string
  /** Resolves with the first log line that `match` accepts, waiting up to `ms`. */
  waitForLine(match: (line: Record<string, any>) => boolean, ms?: number): Promise<Record<string, any>>
  /** Sends the signal and resolves with the exit code once the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Starts `npm run serve` with `env` (on top of this process's), resolving once it listens. */
export async function startServe(env: Record<string, string>, startMs = 20_000): Promise<ServeProcess> {
  const [command, ...args] = SERVE.split(' ')
  const child = spawn(command === 'node' ? process.execPath : command!, args, {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: Array<Record<string, any>> = []
  const waiting = new Set<() => void>()
  let partial = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    partial += chunk
    const complete = partial.split('\n')
    partial = complete.pop()!
    for (const text of complete) if (text.trim()) lines.push(JSON.parse(text))
    for (const wake of waiting) wake()
  })
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  void exited.then(() => {
    for (const wake of waiting) wake()
  })

  const waitForLine = (match: (line: Record<string, any>) => boolean, ms = 10_000) =>
    new Promise<Record<string, any>>((resolve, reject) => {
      const check = () => {
        const found = lines.find(match)
        if (found) return finish(() => resolve(found))
        if (child.exitCode !== null || child.signalCode !== null) {
          finish(() => reject(new Error(`the server exited (${child.exitCode ?? child.signalCode}) first: ${stderr}`)))
        }
      }
      const timer = setTimeout(() => finish(() => reject(new Error(`no such log line within ${ms} ms: ${stderr}`))), ms)
      const finish = (then: () => void) => {
        clearTimeout(timer)
        waiting.delete(check)
        then()
      }
      waiting.add(check)
      check()
    })

  try {
    const listening = await waitForLine((line) => line.msg === 'listening', startMs)
    return {
      child,
      url: listening.url,
      lines,
      stderr: () => stderr,
      waitForLine,
      stop(signal = 'SIGTERM') {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal)
        return exited
      },
    }
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
}

/** One admin API call against a server started with ADMIN_TOKEN `token`. */
export async function adminCall(url: string, token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', connection: 'close' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json()) as any }
}

/** A new account with one key on it; returns the full key and the ids. */
export async function createAccountKey(url: string, token: string, fields: Record<string, unknown> = {}) {
  const account = (await adminCall(url, token, 'POST', '/admin/accounts', { name: 'Test account' })).body
  const created = await adminCall(url, token, 'POST', `/admin/accounts/${account.id}/keys`, { name: 'Test key', ...fields })
  if (created.status !== 201) throw new Error(`key creation failed: ${JSON.stringify(created.body)}`)
  return { key: created.body.key as string, id: created.body.id as string, accountId: account.id as string }
}
