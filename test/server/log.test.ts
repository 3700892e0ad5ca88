import { describe, expect, it } from 'vitest'
import { createLogger, redact } from '../../server/log.ts'
import { generateKey } from '../../server/keys.ts'

describe('redact', () => {
  const key = generateKey()
  it.each([
    ['a full key', `key=${key}`, 'key=ask_[redacted]'],
    ['a key glued to a word', `my_${key}`, 'my_ask_[redacted]'],
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
})
