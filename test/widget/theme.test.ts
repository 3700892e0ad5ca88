import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { BACKGROUNDS, focusRingRules } from '../../src/focus-ring.ts'
import { luminance, onColor } from '../../src/theme.ts'

/** WCAG 2 contrast ratio of two `#rrggbb` colours, from 1 to 21. */
function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number]
  return (hi + 0.05) / (lo + 0.05)
}

/** The custom properties declared in a CSS block, as name → #rrggbb. */
function colours(block: string): Record<string, string> {
  return Object.fromEntries([...block.matchAll(/--([a-z-]+):\s*(#[0-9a-f]{6})/g)].map(([, name, value]) => [name, value]))
}
const styles = readFileSync(join(process.cwd(), 'src/styles.css'), 'utf8')
const dark = styles.slice(styles.indexOf('prefers-color-scheme: dark'))
const palettes = {
  light: colours(styles.slice(0, styles.indexOf('prefers-color-scheme: dark'))),
  dark: colours(dark.slice(0, dark.indexOf('}'))),
}
const forcedDark = styles.slice(styles.indexOf('.root.dark {'))
const NAMES = ['bg', 'fg', 'muted', 'bubble', 'line', 'danger', 'danger-bg', 'focus']

// WCAG 2.1 AA: 4.5:1 for text, 3:1 for focus indicators and other non-text contrast.
const TEXT_PAIRS = [
  ['fg', 'bg'],
  ['fg', 'bubble'],
  ['muted', 'bg'],
  ['muted', 'bubble'],
  ['danger', 'danger-bg'],
] as const

it('gives data-theme="dark" the same palette as a dark colour scheme', () => {
  expect(colours(forcedDark.slice(0, forcedDark.indexOf('}')))).toEqual(palettes.dark)
})

describe.each(Object.entries(palettes))('the %s palette', (_, palette) => {
  it('defines every colour the stylesheet uses', () => {
    expect(Object.keys(palette).sort()).toEqual([...NAMES].sort())
  })

  it.each(TEXT_PAIRS)('puts %s text on %s at AA contrast', (text, background) => {
    expect(contrast(palette[text]!, palette[background]!)).toBeGreaterThanOrEqual(4.5)
  })

  it('draws focus rings at 3:1 against the panel and the bubbles', () => {
    expect(contrast(palette.focus!, palette.bg!)).toBeGreaterThanOrEqual(3)
    expect(contrast(palette.focus!, palette.bubble!)).toBeGreaterThanOrEqual(3)
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

  it('picks whichever of black and white contrasts more', () => {
    const hex = fc.integer({ min: 0, max: 0xffffff }).map((n) => '#' + n.toString(16).padStart(6, '0'))
    fc.assert(
      fc.property(
        hex,
        (accent) => contrast(accent, onColor(accent)) >= Math.max(contrast(accent, '#ffffff'), contrast(accent, '#000000')) - 1e-9,
      ),
      { numRuns: 5000 },
    )
  })

  it('keeps any accent colour readable at AA', () => {
    const hex = fc.integer({ min: 0, max: 0xffffff }).map((n) => '#' + n.toString(16).padStart(6, '0'))
    fc.assert(
      fc.property(hex, (accent) => contrast(accent, onColor(accent)) >= 4.5),
      { numRuns: 5000 },
    )
  })
})

describe("focus rings in the owner's colour (data-color), where it stands out at 3:1", () => {
  it("knows the palettes' panel and bubble colours as styles.css has them", () => {
    expect(BACKGROUNDS).toEqual({ light: [palettes.light.bg, palettes.light.bubble], dark: [palettes.dark.bg, palettes.dark.bubble] })
  })

  it.each<[string, string, boolean, boolean]>([
    // [colour, why, in the light palette, in the dark one]
    ['#1e3a8a', 'dark blue: light only', true, false],
    ['#fde68a', 'pale yellow: dark only', false, true],
    ['#2563eb', 'the default blue: 3.2:1 on the dark panel but 2.6:1 on its bubbles, so light only', true, false],
    ['#8b8b8b', 'mid grey: at least 3:1 on all four', true, true],
  ])('%s (%s)', (color, _, light, dark) => {
    const css = focusRingRules(color)
    expect(css.includes(`.root{--focus:${color}}`)).toBe(light)
    expect(css.includes(`.root:not(.light){--focus:${color}}`)).toBe(dark)
    expect(css.includes(`.root.dark{--focus:${color}}`)).toBe(dark)
  })

  it('only ever picks a colour at 3:1 against the panel and the bubbles of the palette it applies to', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffff }), (n) => {
        const color = `#${n.toString(16).padStart(6, '0')}`
        const css = focusRingRules(color)
        for (const [palette, backgrounds] of Object.entries(BACKGROUNDS)) {
          const used = palette === 'light' ? css.includes(`.root{`) : css.includes('.root.dark{')
          expect(used).toBe(backgrounds.every((background) => contrast(color, background) >= 3))
        }
      }),
    )
  })
})
