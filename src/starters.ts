/**
 * What the widget takes as starter questions (`data-starters`, `|`-separated), shared with the
 * dashboard's Embed page, which says so before the widget would refuse them.
 */
export const MAX_STARTERS = 6
export const MAX_STARTER_CHARS = 200

/**
 * The same limits as a literal, which the panel checks `data-starters` with (test/widget/starters.test.ts
 * holds them equal): a RegExp built from the numbers costs the panel 18 gzip bytes.
 */
export const STARTERS_PATTERN = /^[^|]{1,200}(\|[^|]{1,200}){0,5}$/s
