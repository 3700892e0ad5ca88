/** Usage rows into the last 30 days' series, per key or for all keys (pure). */

export interface UsageRow {
  key_id: string
  day: string
  requests: number
  prompt_tokens: number
  completion_tokens: number
}

export interface DayTotals {
  day: string
  requests: number
  tokens: number
}

export const DAYS = 30

/** The last `days` UTC days, oldest first, ending today, as YYYY-MM-DD. */
export function lastDays(today = new Date(), days = DAYS): string[] {
  const end = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate())
  return Array.from({ length: days }, (_, i) => new Date(end - (days - 1 - i) * 86_400_000).toISOString().slice(0, 10))
}

/** One entry per day of `days`, zero where nothing was used; only `keyId`'s rows when given. */
export function dailySeries(rows: UsageRow[], days: string[], keyId?: string): DayTotals[] {
  const byDay = new Map(days.map((day) => [day, { day, requests: 0, tokens: 0 }]))
  for (const row of rows) {
    const totals = byDay.get(row.day)
    if (!totals || (keyId && row.key_id !== keyId)) continue
    totals.requests += row.requests
    totals.tokens += row.prompt_tokens + row.completion_tokens
  }
  return [...byDay.values()]
}
