/** The admin token every benchmarked server runs with, and fresh keys made through its admin API. */

export const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789'

/**
 * What every benchmarked server runs with besides its own settings: the admin token, and caps on
 * answers in progress that one load generator (one address, hundreds of streams) never reaches, so
 * the check still runs on every request but never refuses one.
 */
export const BENCH_SERVER_ENV = {
  ADMIN_TOKEN: BENCH_ADMIN_TOKEN,
  MAX_STREAMS_PER_KEY: '100000',
  MAX_STREAMS_PER_VISITOR: '100000',
}

/** Which of issue 16's limits a bench key is held to, each set too high ever to refuse. */
export type KeyLimits = 'none' | 'visitor' | 'visitor and budgets'

const HIGH = 100_000
const HIGH_BUDGET = 1_000_000_000

/**
 * A key on a new account of the server at `api`, allowing localhost and 100,000 requests a minute:
 * a fresh one per run, so no run meets the rate limit another left behind. By default it is held to
 * a per-visitor limit, as a widget's key is; `limits` turns that off, or adds daily token budgets on
 * the key and its account.
 */
export async function freshKey(api: string, limits: KeyLimits = 'visitor'): Promise<string> {
  const admin = async (method: string, path: string, body: unknown) => {
    const response = await fetch(`${api}${path}`, {
      method,
      headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    if (!response.ok) throw new Error(`${path} answered ${response.status}: ${await response.text()}`)
    return response.json()
  }
  const account = await admin('POST', '/admin/accounts', { name: 'Bench' })
  const budgets = limits === 'visitor and budgets'
  if (budgets) await admin('PATCH', `/admin/accounts/${account.id}`, { daily_token_limit: HIGH_BUDGET })
  const key = await admin('POST', `/admin/accounts/${account.id}/keys`, {
    name: 'bench',
    allowed_domains: ['localhost'],
    rate_limit_rpm: HIGH,
    visitor_rpm: limits === 'none' ? 0 : HIGH,
    ...(budgets && { daily_token_limit: HIGH_BUDGET }),
  })
  return key.key
}
