/**
 * The widget's colours. They live here rather than in the stylesheet so that a test can check every
 * text/background pair against WCAG AA in both colour schemes.
 */
export const palettes = {
  light: {
    bg: '#ffffff',
    fg: '#1f2328',
    muted: '#57606a',
    bubble: '#eef1f4',
    line: '#d0d7de',
    danger: '#a40e26',
    dangerBg: '#fff0f0',
    focus: '#0b57d0',
  },
  dark: {
    bg: '#1c1e22',
    fg: '#e8eaed',
    muted: '#a4abb3',
    bubble: '#2b2f35',
    line: '#454b54',
    danger: '#ffb3b3',
    dangerBg: '#3d1f22',
    focus: '#9ec3ff',
  },
}

export type Palette = (typeof palettes)['light']

/** Text colour to put on the accent: whichever of white or black contrasts more (always ≥ 4.5:1). */
export function onColor(accent: string): string {
  return contrast(accent, '#ffffff') >= contrast(accent, '#000000') ? '#ffffff' : '#000000'
}

/** WCAG 2 contrast ratio of two `#rrggbb` colours, from 1 to 21. */
export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number]
  return (hi + 0.05) / (lo + 0.05)
}

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
  }) as [number, number, number]
  return 0.2126 * r + 0.7152 * g + 0.0722 * b
}

/** Custom-property declarations for one palette (`--bg:#fff;…`). */
export function toCssVariables(palette: Palette): string {
  return Object.entries(palette)
    .map(([name, value]) => `--${name}:${value}`)
    .join(';')
}
