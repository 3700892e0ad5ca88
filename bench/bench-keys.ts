/** The admin token every benchmarked server runs with, and fresh keys made through its admin API. */

export const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789'

/**
 * A key on a new account of the server at `api`, allowing localhost and 100,000 requests a minute:
 * a fresh one per run, so no run meets the rate limit another left behind.
 */
export async function freshKey(api: string): Promise<string> {
  const admin = async (path: string, body: unknown) => {
    const response = await fetch(`${api}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    if (response.status !== 201) throw new Error(`${path} answered ${response.status}: ${await response.text()}`)
    return response.json()
  }
  const account = await admin('/admin/accounts', { name: 'Bench' })
  const key = await admin(`/admin/accounts/${account.id}/keys`, { name: 'bench', allowed_domains: ['localhost'], rate_limit_rpm: 100_000 })
  return key.key
}
