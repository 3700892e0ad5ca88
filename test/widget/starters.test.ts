// @vitest-environment node
import { describe, expect, it } from 'vitest'
import { MAX_STARTER_CHARS, MAX_STARTERS, STARTERS_PATTERN } from '../../src/starters.ts'

const starters = (count: number, chars: number) => Array.from({ length: count }, () => 'x'.repeat(chars)).join('|')

describe('the starter questions the widget takes', () => {
  it('are the limits the dashboard names, in the pattern the panel checks with', () => {
    expect(STARTERS_PATTERN.test(starters(MAX_STARTERS, MAX_STARTER_CHARS))).toBe(true)
    expect(STARTERS_PATTERN.test(starters(1, 1))).toBe(true)
    expect(STARTERS_PATTERN.test(starters(MAX_STARTERS + 1, 1))).toBe(false)
    expect(STARTERS_PATTERN.test(starters(1, MAX_STARTER_CHARS + 1))).toBe(false)
    expect(STARTERS_PATTERN.test('')).toBe(false)
  })
})
