/**
 * A browser's side of the dashboard API, for server tests: one cookie jar per client, the dashboard's
 * own Origin and a JSON body on every state-changing call (unless a test takes them away).
 */
import { ADMIN_TOKEN, type TestServer } from './harness.ts'

export interface DashboardResponse {
  status: number
  body: any
  headers: Headers
}

export interface DashboardClient {
  /** A call as the dashboard's pages make it; `init` replaces any part (headers merge). */
  call(
    method: string,
    path: string,
    body?: unknown,
    init?: { headers?: Record<string, string>; rawBody?: string },
  ): Promise<DashboardResponse>
  /** The session token the jar holds, if any. */
  cookie: string | undefined
}

export function dashboardClient(server: TestServer): DashboardClient {
  const origin = new URL(server.url).origin
  const client: DashboardClient = {
    cookie: undefined,
    async call(method, path, body, init = {}) {
      const response = await fetch(server.url + '/dashboard/api' + path, {
        method,
        headers: {
          ...(method !== 'GET' && { origin, 'content-type': 'application/json' }),
          ...(client.cookie !== undefined && { cookie: `assisters_session=${client.cookie}` }),
          ...init.headers,
        },
        body: init.rawBody ?? (method === 'GET' ? undefined : JSON.stringify(body ?? {})),
      })
      const set = response.headers.get('set-cookie')
      if (set?.startsWith('assisters_session=')) {
        const value = set.slice('assisters_session='.length).split(';', 1)[0]!
        client.cookie = value === '' ? undefined : value
      }
      const text = await response.text()
      return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers }
    },
  }
  return client
}

/** The token inside a set-password URL (its fragment). */
export const linkToken = (url: string) => new URL(url).hash.slice(1)

export const PASSWORD = 'correct horse battery'

/** A new account with one owner who has set their password; returns a signed-in client. */
export async function signedInOwner(server: TestServer, email = `owner-${Math.random().toString(36).slice(2)}@example.com`) {
  const account = (await server.admin('POST', '/admin/accounts', { name: `Account of ${email}` })).body
  const created = await server.admin('POST', `/admin/accounts/${account.id}/owners`, { email })
  if (created.status !== 201) throw new Error(`owner creation failed: ${JSON.stringify(created.body)}`)
  const client = dashboardClient(server)
  const set = await client.call('POST', '/set-password', { token: linkToken(created.body.set_password_url), password: PASSWORD })
  if (set.status !== 200) throw new Error(`set-password failed: ${JSON.stringify(set.body)}`)
  return { client, account, owner: created.body.owner, email }
}

export { ADMIN_TOKEN }
