/**
 * Log lines leave in batches: one write (one system call) for many request lines instead of one
 * each, which cost every request a syscall of its own. A batch goes out before it would pass
 * `maxBytes`, `maxDelayMs` after its first line, at once for a warning or an error, and always
 * before the process exits (a shutdown, a fatal error or an uncaught exception all run the
 * 'exit' hook, and stdout writes there are synchronous), so only a SIGKILL can lose lines: at most
 * the last `maxDelayMs` of them.
 *
 * Batches hold whole lines and stay within PIPE_BUF (4096 bytes on Linux) where they can: workers
 * share one stdout, and a pipe writes that much at once without another process's write landing
 * in the middle, so their lines never interleave mid-line (as one line per write never did).
 */

export interface LineWriter {
  /** Queues a line (ending in a newline); `urgent` sends it, with everything before it, now. */
  write(line: string, urgent?: boolean): void
  /** Sends everything queued. */
  flush(): void
}

export interface BufferOptions {
  maxBytes?: number
  maxDelayMs?: number
}

/** What a pipe writes whole, whoever else writes to it (POSIX's minimum is 512; Linux's is this). */
const PIPE_BUF = 4096

export function createLineBuffer(out: (chunk: string) => void, options: BufferOptions = {}): LineWriter {
  const maxBytes = options.maxBytes ?? PIPE_BUF
  const maxDelayMs = options.maxDelayMs ?? 50
  let pending = ''
  let pendingBytes = 0
  let timer: NodeJS.Timeout | undefined

  const flush = () => {
    clearTimeout(timer)
    timer = undefined
    if (pending === '') return
    const chunk = pending
    pending = ''
    pendingBytes = 0
    out(chunk)
  }

  return {
    write(line, urgent = false) {
      const bytes = Buffer.byteLength(line)
      // The batch so far goes first when this line would take it past the limit.
      if (pendingBytes + bytes > maxBytes) flush()
      pending += line
      pendingBytes += bytes
      if (urgent || pendingBytes >= maxBytes) return flush()
      if (timer) return
      timer = setTimeout(flush, maxDelayMs)
      // A quiet server may exit with lines queued: the exit hook sends them, the timer need not wait.
      timer.unref()
    },
    flush,
  }
}

let stdoutBuffer: LineWriter | undefined

/** The process's one buffered stdout, flushed on exit; every logger writing to stdout shares it, so lines keep their order. */
export function bufferedStdout(): LineWriter {
  if (!stdoutBuffer) {
    const buffer = createLineBuffer((chunk) => process.stdout.write(chunk))
    process.on('exit', buffer.flush)
    stdoutBuffer = buffer
  }
  return stdoutBuffer
}
