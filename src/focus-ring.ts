import { luminance } from './theme.ts'

/** Each palette's panel background and bubble (src/styles.css; test/widget/theme.test.ts holds them equal). */
export const BACKGROUNDS = { light: ['#ffffff', '#eef1f4'], dark: ['#1c1e22', '#2b2f35'] }

/**
 * CSS that draws the panel's focus rings in the owner's colour in each palette where it stands out at
 * 3:1 (WCAG 1.4.11) against both the panel and the bubbles; elsewhere the palette's own ring stays.
 * Added after styles.css with the same selectors as its palettes, so it wins exactly where they apply.
 */
export function focusRingRules(color: string): string {
  const ring = `{--focus:${color}}`
  const fits = (backgrounds: string[]) =>
    backgrounds.every((background) => {
      const [a, b] = [luminance(color) + 0.05, luminance(background) + 0.05]
      return Math.max(a, b) / Math.min(a, b) >= 3
    })
  return (
    (fits(BACKGROUNDS.light) ? `.root${ring}` : '') +
    (fits(BACKGROUNDS.dark) ? `@media (prefers-color-scheme:dark){.root:not(.light)${ring}}.root.dark${ring}` : '')
  )
}
