/** Text colour to put on the accent: black or white, whichever contrasts more (so always at least 4.5:1). */
export function onColor(accent: string): string {
  // 1.05 / (L + .05) > (L + .05) / .05, the white-vs-black contrast test, solved for the luminance L:
  // L < √0.0525 − 0.05 = 0.179129… (either colour reaches 4.58:1 at the tie).
  return luminance(accent) < 0.179129 ? '#ffffff' : '#000000'
}

/** WCAG 2 relative luminance of a `#rrggbb` colour, from 0 to 1. */
export function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
  }) as [number, number, number]
  return 0.2126 * r + 0.7152 * g + 0.0722 * b
}
