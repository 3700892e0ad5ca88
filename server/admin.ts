/**
 * The admin API (contract section 4): JSON over HTTP for `Authorization: Bearer <ADMIN_TOKEN>`, a
 * thin adapter onto the same management code the CLI uses. Without ADMIN_TOKEN it does not exist.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createAdminThrottle, type AdminThrottle } from './admin-throttle.ts'
import { bearerToken } from './authenticate.ts'
import { readJsonBody } from './body.ts'
import { HttpError, invalidAdminToken, methodNotAllowed, naming, notFound, tooManyAdminAttempts } from './errors.ts'
import type { Management, PasswordLink } from './management.ts'
import { sendJson } from './respond.ts'

const ADMIN_BODY_LIMIT = 64 * 1024

interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  pattern: RegExp
  run(
    management: Management,
    id: string,
    req: IncomingMessage,
    res: ServerResponse,
    linkBase: string,
  ): Promise<[status: number, body: unknown]>
}

const ID = '([A-Za-z0-9_]{1,64})'
const ROUTES: Route[] = [
  {
    method: 'POST',
    pattern: /^\/admin\/accounts$/,
    run: async (m, _id, req, res) => [201, await m.createAccount(await readBody(req, res))],
  },
  { method: 'GET', pattern: /^\/admin\/accounts$/, run: async (m) => [200, { data: await m.listAccounts() }] },
  {
    method: 'PATCH',
    pattern: new RegExp(`^/admin/accounts/${ID}$`),
    run: async (m, id, req, res) => [200, await m.updateAccount(id, await readBody(req, res))],
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/admin/accounts/${ID}/owners$`),
    run: async (m, id, req, res, base) => [201, withUrl(await m.createOwner(id, await readBody(req, res)), base)],
  },
  { method: 'GET', pattern: new RegExp(`^/admin/accounts/${ID}/owners$`), run: async (m, id) => [200, { data: await m.listOwners(id) }] },
  { method: 'DELETE', pattern: new RegExp(`^/admin/owners/${ID}$`), run: async (m, id) => [200, await m.removeOwner(id)] },
  {
    method: 'POST',
    pattern: /^\/admin\/owners\/password-link$/,
    run: async (m, _id, req, res, base) => [201, withUrl(await m.newPasswordLink(await readBody(req, res)), base)],
  },
  {
    method: 'PATCH',
    pattern: new RegExp(`^/admin/keys/${ID}$`),
    run: async (m, id, req, res) => [200, await m.updateKey(id, await readBody(req, res))],
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/admin/accounts/${ID}/keys$`),
    run: async (m, id, req, res) => [201, await m.createKey(id, await readBody(req, res))],
  },
  { method: 'GET', pattern: new RegExp(`^/admin/accounts/${ID}/keys$`), run: async (m, id) => [200, { data: await m.listKeys(id) }] },
  { method: 'GET', pattern: new RegExp(`^/admin/accounts/${ID}/usage$`), run: async (m, id) => [200, { data: await m.usage(id) }] },
  { method: 'POST', pattern: new RegExp(`^/admin/keys/${ID}/revoke$`), run: async (m, id) => [200, await m.revokeKey(id)] },
  { method: 'POST', pattern: new RegExp(`^/admin/keys/${ID}/primary$`), run: async (m, id) => [200, await m.makePrimary(id)] },
]

/** The link's page on the dashboard; the token rides in the fragment, which browsers never send to a server. */
export const setPasswordUrl = (base: string, token: string) => `${base}/dashboard/set-password#${token}`

/** A new link as the admin API and the CLI answer it: the URL to hand to the owner, and when it expires. */
export const withUrl = (link: PasswordLink, base: string) => ({
  owner: link.owner,
  set_password_url: setPasswordUrl(base, link.token),
  expires_at: link.expires_at,
})

/** The JSON body; a body that is not JSON names `body` as its param, like every other bad admin input. */
async function readBody(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
  try {
    return await readJsonBody(req, res, ADMIN_BODY_LIMIT)
  } catch (err) {
    if (err instanceof HttpError && err.status === 400 && err.param === undefined) throw naming(err, 'body')
    throw err
  }
}

/**
 * Throws unless the request carries the admin token: 404 when there is none (the admin routes do
 * not exist), 401 for a wrong one, 429 for an address that sent too many wrong ones. Guards /admin/
 * and /metrics.
 */
export function createAdminGuard(adminToken: string | undefined, throttle: AdminThrottle = createAdminThrottle()) {
  // Compare digests in constant time, so response timing says nothing about the token.
  const expected = adminToken && digest(adminToken)
  return function requireAdmin(req: IncomingMessage): void {
    if (!expected) throw notFound()
    const address = req.socket.remoteAddress ?? ''
    const waitMs = throttle.waitMs(address)
    if (waitMs > 0) throw tooManyAdminAttempts(waitMs)
    const token = bearerToken(req.headersDistinct.authorization)
    if (!token || !timingSafeEqual(digest(token), expected)) {
      throttle.failed(address)
      throw invalidAdminToken()
    }
  }
}

/** A handler for every path under /admin/. */
export function createAdminHandler(management: Management, requireAdmin: (req: IncomingMessage) => void, publicUrl?: string) {
  return async function handleAdmin(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    requireAdmin(req)

    const matching = ROUTES.filter((route) => route.pattern.test(path))
    if (matching.length === 0) throw notFound()
    const route = matching.find((candidate) => candidate.method === req.method)
    if (!route) throw methodNotAllowed(matching.map((candidate) => candidate.method))
    // Links start with PUBLIC_URL, or else the address the operator reached this server at.
    const base = publicUrl ?? `http://${req.headers.host ?? 'localhost'}`
    const [status, body] = await route.run(management, route.pattern.exec(path)?.[1] ?? '', req, res, base)
    sendJson(res, status, body)
  }
}

const digest = (text: string) => createHash('sha256').update(text).digest()
