import { describe, expect, it } from 'vitest'
import { createLogger, redact } from '../../server/log.ts'
import { generateKey } from '../../server/keys.ts'

describe('redact', () => {
  const key = generateKey()
  it.each([
    ['a full key', `key=${key}`, 'key=ask_[redacted]'],
    ['a key glued to a word', `my_${key}`, 'my_ask_[redacted]'],
    ['a key inside JSON', JSON.stringify({ msg: 'oops', key }), '{"msg":"oops","key":"ask_[redacted]"}'],
    ['a key in a URL query', `/v1/models?key=${key}&page=2`, '/v1/models?key=ask_[redacted]&page=2'],
    ['a key after Bearer', `authorization: Bearer ${key}`, 'authorization: Bearer [redacted]'],
    ['a key at the start of a line', `${key} was refused\n${key}`, 'ask_[redacted] was refused\nask_[redacted]'],
    ['a key glued after a letter, percent-encoded', `next=%2F%3Fkey%3D${key}`, 'next=%2F%3Fkey%3Dask_[redacted]'],
    ['a short token standing alone', 'prefix ask_Ab12', 'prefix ask_[redacted]'],
    [
      "Node's task_queues in a stack trace",
      'at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
      'at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
    ],
    ['other words ending in ask', 'flask_app, mask_bits, Task_Runner', 'flask_app, mask_bits, Task_Runner'],
    ['a Bearer header value', 'authorization: Bearer sk-live-123', 'authorization: Bearer [redacted]'],
    ['text with no secret', 'nothing to hide here', 'nothing to hide here'],
  ])('hides %s', (_name, input, expected) => {
    expect(redact(input)).toBe(expected)
  })

  it('hides each exact secret it is given, wherever it appears', () => {
    expect(redact('upstream said: bad key sk-abc (sk-abc)', ['sk-abc'])).toBe('upstream said: bad key [redacted] ([redacted])')
  })
})

describe('createLogger', () => {
  it('writes one JSON object per line with time, level and message', () => {
    const lines: string[] = []
    const log = createLogger({ write: (line) => lines.push(line) })
    log.warn('slow upstream', { ms: 1200 })
    expect(lines).toHaveLength(1)
    expect(lines[0]!.endsWith('\n')).toBe(true)
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', msg: 'slow upstream', ms: 1200, time: expect.any(String) })
  })

  it('keeps the name, message and stack of an Error field, with secrets redacted', () => {
    const lines: string[] = []
    const log = createLogger({ write: (line) => lines.push(line), secrets: ['sk-upstream'] })
    log.error('request failed', { err: new Error(`refused sk-upstream for ${generateKey()}`) })
    const entry = JSON.parse(lines[0]!)
    expect(entry.err).toMatchObject({ name: 'Error', message: 'refused [redacted] for ask_[redacted]' })
    expect(entry.err.stack).toContain('log.test.ts')
  })

  it("hides a key at the start of a line of a logged stack, and leaves Node's task_queues readable", () => {
    const lines: string[] = []
    const log = createLogger({ write: (line) => lines.push(line) })
    const key = generateKey()
    const err = new Error('refused')
    // In the JSON text a newline is `\n`: the key follows the letter n there.
    err.stack = `Error: refused\n${key}\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)`
    log.error('request failed', { err })
    expect(lines[0]).not.toContain(key)
    expect(JSON.parse(lines[0]!).err.stack).toBe(
      'Error: refused\nask_[redacted]\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
    )
  })
})
