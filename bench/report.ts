/**
 * What every benchmark section returns, and the small statistics they share: medians of repeats
 * with their spread, ratios to a baseline from the same run, and Markdown tables.
 */

export interface BenchSection {
  title: string
  /** One or more paragraphs saying what was measured and how. */
  method: string
  /** Each table: a header row, then data rows, already formatted. */
  tables: string[][][]
  /** Each target: what it is, the measured value, and whether it was met. */
  targets: Target[]
}

export interface Target {
  name: string
  measured: string
  met: boolean
  /** For a miss: what holds it back. */
  why?: string
}

/** The items in a different order each repeat, so none always runs first (or last). */
export const rotated = <T>(items: readonly T[], by: number): T[] => items.map((_, i) => items[(i + by) % items.length]!)

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** The value at quantile q (0..1) of already sorted values, nearest rank. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

/** A median of repeats with its spread, e.g. "4,120 (4,010–4,200)". */
export function withSpread(values: number[], format: (value: number) => string): string {
  return `${format(median(values))} (${format(Math.min(...values))}–${format(Math.max(...values))})`
}

export const whole = (value: number) => Math.round(value).toLocaleString('en-US')
export const ms = (value: number, digits = 2) => `${value.toFixed(digits)} ms`
export const ratio = (value: number) => `${value.toFixed(2)}×`
export const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`

export function markdownTable(rows: string[][]): string {
  const [header = [], ...body] = rows
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...body.map(line)].join('\n')
}

/** The section's targets as a list under "Targets:", or nothing for a section that has none. */
export function markdownTargets(targets: Target[]): string {
  if (targets.length === 0) return ''
  return `Targets:\n\n${targets.map((t) => `- ${t.met ? 'Met' : '**Missed**'}: ${t.name}: ${t.measured}${t.met || !t.why ? '' : `. ${t.why}`}`).join('\n')}`
}
