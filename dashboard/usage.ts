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

/** 403, 429 (the key's limit, one visitor's, the daily token budget, too many streams at once), 401 for a revoked key. */
export type RefusalReason =
  | 'origin_not_allowed'
  | 'rate_limited'
  | 'key_revoked'
  | 'visitor_rate_limited'
  | 'daily_token_limit'
  | 'too_many_streams'

export interface RefusalRow {
  key_id: string
  day: string
  reason: RefusalReason
  count: number
}

export interface OriginRow {
  key_id: string
  origin: string
  allowed: boolean
  requests: number
  last_seen_at: string
}

/** The refusals of each day of `days` (all reasons), and the total per reason; only `keyId`'s when given. */
export function refusalSeries(rows: RefusalRow[], days: string[], keyId?: string) {
  const byDay = new Map(days.map((day) => [day, 0]))
  const byReason: Record<RefusalReason, number> = {
    origin_not_allowed: 0,
    rate_limited: 0,
    key_revoked: 0,
    visitor_rate_limited: 0,
    daily_token_limit: 0,
    too_many_streams: 0,
  }
  for (const row of rows) {
    if (!byDay.has(row.day) || (keyId && row.key_id !== keyId)) continue
    byDay.set(row.day, byDay.get(row.day)! + row.count)
    // A reason a newer server records, unknown to this page, still counts in the day's total.
    if (row.reason in byReason) byReason[row.reason] += row.count
  }
  return { perDay: [...byDay].map(([day, value]) => ({ day, value })), byReason }
}
