import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { contrast, onColor, palettes } from '../../src/theme.ts'

// WCAG 2.1 AA: 4.5:1 for text, 3:1 for focus indicators and other non-text contrast.
const TEXT_PAIRS = [
  ['fg', 'bg'],
  ['fg', 'bubble'],
  ['muted', 'bg'],
  ['muted', 'bubble'],
  ['danger', 'dangerBg'],
] as const

describe.each(Object.entries(palettes))('the %s palette', (_, palette) => {
  it.each(TEXT_PAIRS)('puts %s text on %s at AA contrast', (text, background) => {
    expect(contrast(palette[text], palette[background])).toBeGreaterThanOrEqual(4.5)
  })

  it('draws focus rings at 3:1 against the panel and the bubbles', () => {
    expect(contrast(palette.focus, palette.bg)).toBeGreaterThanOrEqual(3)
    expect(contrast(palette.focus, palette.bubble)).toBeGreaterThanOrEqual(3)
  })
})

describe('contrast', () => {
  it.each([
    ['#000000', '#ffffff', 21],
    ['#ffffff', '#ffffff', 1],
    ['#777777', '#ffffff', 4.48],
  ])('rates %s on %s at %f:1', (a, b, ratio) => {
    expect(contrast(a, b)).toBeCloseTo(ratio, 2)
  })
})

describe('onColor', () => {
  it.each([
    ['#2563eb', '#ffffff'],
    ['#ffeb3b', '#000000'],
    ['#000000', '#ffffff'],
    ['#ffffff', '#000000'],
  ])('writes on %s in %s', (accent, text) => {
    expect(onColor(accent)).toBe(text)
  })

  it('keeps any accent colour readable at AA', () => {
    const hex = fc.integer({ min: 0, max: 0xffffff }).map((n) => '#' + n.toString(16).padStart(6, '0'))
    fc.assert(fc.property(hex, (accent) => contrast(accent, onColor(accent)) >= 4.5), { numRuns: 5000 })
  })
})
