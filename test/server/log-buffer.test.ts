import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createLineBuffer } from '../../server/log-buffer.ts'
import { createLogger } from '../../server/log.ts'
import { runCommand } from './harness.ts'

describe('createLineBuffer', () => {
  let chunks: string[]
  beforeEach(() => {
    vi.useFakeTimers()
    chunks = []
  })
  afterEach(() => vi.useRealTimers())
  const buffer = (options = {}) => createLineBuffer((chunk) => chunks.push(chunk), { maxBytes: 100, maxDelayMs: 50, ...options })

  it('sends the lines of a burst in one write, once the delay passes', () => {
    const lines = buffer()
    lines.write('a\n')
    lines.write('b\n')
    vi.advanceTimersByTime(49)
    expect(chunks).toEqual([])
    vi.advanceTimersByTime(1)
    expect(chunks).toEqual(['a\nb\n'])
    // Nothing is left to send, and the next line starts a new batch.
    vi.advanceTimersByTime(1_000)
    lines.write('c\n')
    vi.advanceTimersByTime(50)
    expect(chunks).toEqual(['a\nb\n', 'c\n'])
  })

  it('sends an urgent line at once, after the lines queued before it', () => {
    const lines = buffer()
    lines.write('request\n')
    lines.write('upstream failed\n', true)
    expect(chunks).toEqual(['request\nupstream failed\n'])
    vi.advanceTimersByTime(1_000)
    expect(chunks).toHaveLength(1)
  })

  it('sends a batch as soon as it reaches maxBytes, without waiting', () => {
    const lines = buffer({ maxBytes: 12 })
    lines.write('12345\n')
    expect(chunks).toEqual([])
    lines.write('67890\n')
    expect(chunks).toEqual(['12345\n67890\n'])
  })

  it('never lets a batch pass maxBytes (counted in bytes) or split a line: the batch goes first', () => {
    const lines = buffer({ maxBytes: 12 })
    lines.write('ééé\n')
    lines.write('12345\n')
    // 7 bytes then 6: together past 12, so the first goes alone.
    expect(chunks).toEqual(['ééé\n'])
    // A line longer than a batch is written whole, on its own.
    lines.write('a line longer than twelve bytes\n')
    expect(chunks).toEqual(['ééé\n', '12345\n', 'a line longer than twelve bytes\n'])
  })

  it('keeps the default batch within PIPE_BUF, so workers sharing a pipe never interleave mid-line', () => {
    vi.useRealTimers()
    const lines = createLineBuffer((chunk) => chunks.push(chunk))
    const line = `${JSON.stringify({ msg: 'request', path: '/v1/chat/completions', pad: 'x'.repeat(150) })}\n`
    for (let i = 0; i < 1_000; i++) lines.write(line)
    lines.flush()
    expect(chunks.length).toBeGreaterThan(1)
    for (const chunk of chunks) {
      expect(Buffer.byteLength(chunk)).toBeLessThanOrEqual(4096)
      expect(chunk.endsWith('\n')).toBe(true)
    }
    expect(chunks.join('')).toBe(line.repeat(1_000))
  })

  it('flush sends what is queued, and nothing when nothing is', () => {
    const lines = buffer()
    lines.flush()
    expect(chunks).toEqual([])
    lines.write('a\n')
    lines.flush()
    vi.advanceTimersByTime(1_000)
    expect(chunks).toEqual(['a\n'])
  })
})

describe('the logger', () => {
  it('asks for a warning or an error to be written at once, an info line to wait for its batch', () => {
    const writes: [string, boolean][] = []
    const log = createLogger({ write: (line: string, urgent: boolean) => writes.push([JSON.parse(line).level, urgent]) })
    log.info('request')
    log.warn('slow upstream')
    log.error('store down')
    expect(writes).toEqual([
      ['info', false],
      ['warn', true],
      ['error', true],
    ])
  })
})

describe('the default logger, buffered on stdout', () => {
  const SCRIPT = 'test/support/log-then-end.ts'
  const linesOf = (stdout: string) =>
    stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
  const run = (how: string, count: number) => runCommand(process.execPath, ['--import', 'tsx', SCRIPT, how, String(count)])

  it.each([
    ['the process exits (a shutdown calls process.exit)', 'exit', 0],
    ['an uncaught exception ends the process', 'throw', 1],
    ['the process ends with nothing left to do', 'drain', 0],
  ])('loses no line when %s', async (_name, how, code) => {
    const result = await run(how, 5_000)
    expect(result.code).toBe(code)
    const lines = linesOf(result.stdout)
    expect(lines).toHaveLength(5_000)
    expect(lines.map((line) => line.i)).toEqual([...Array(5_000).keys()])
    if (how === 'throw') expect(result.stderr).toContain('a crash after logging')
  })
})
