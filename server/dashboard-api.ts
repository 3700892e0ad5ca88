/**
 * The dashboard's JSON API under /dashboard/api/: owners sign in with a cookie session and manage
 * their own account's keys through the same management code as the admin API and the CLI. Same
 * origin only: no CORS headers, and every state-changing call must carry the dashboard's own Origin
 * and a JSON body (with the SameSite=Strict cookie, a page on another site cannot act).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { readJsonBody } from './body.ts'
import { crossSiteRefused, HttpError, jsonRequired, methodNotAllowed, naming, notFound, notSignedIn, sessionCookieTwice } from './errors.ts'
import { objectWith, ownerView, type Management } from './management.ts'
import { ABSOLUTE_MS, type CurrentSession, type OwnerAuth, type SignedIn } from './owner-auth.ts'
import type { OwnerRecord } from './store/store.ts'
import { sendJson } from './respond.ts'

const BODY_LIMIT = 64 * 1024
export const SESSION_COOKIE = 'assisters_session'
const JSON_TYPE = /^application\/json\s*(;|$)/i

interface Call {
  req: IncomingMessage
  res: ServerResponse
  /** The id in the path, for routes that have one. */
  id: string
  /** The parsed JSON body of a state-changing call. */
  body: unknown
  /** Present on every route but the sign-in ones. */
  session: CurrentSession
}

interface Route {
  method: 'GET' | 'POST' | 'PATCH'
  pattern: RegExp
  /** Sign-in and set-password are the only routes without a session. */
  open?: boolean
  run(call: Call): Promise<[status: number, body: unknown]>
}

export interface DashboardApiDeps {
  management: Management
  auth: OwnerAuth
  /** PUBLIC_URL's origin, when set: the only Origin accepted on state-changing calls. */
  publicUrl: string | undefined
  /** SIGNUP=open: the sign-up route exists. */
  signupOpen: boolean
  /** The server's RATE_LIMIT_RPM and VISITOR_RPM, which the key dialogs show as "server default (N)". */
  defaults: { rate_limit_rpm: number; visitor_rpm: number }
}

const ID = '([A-Za-z0-9_]{1,64})'

export function createDashboardApi({ management, auth, publicUrl, signupOpen, defaults }: DashboardApiDeps) {
  const me = async (owner: OwnerRecord) => ({
    owner: ownerView(owner),
    account: await management.getAccount(owner.account_id),
    defaults,
  })

  const signedIn = async (call: Call, signed: SignedIn): Promise<[number, unknown]> => {
    setSessionCookie(call.res, signed.token, isHttps(call.req))
    return [200, await me(signed.owner)]
  }

  const account = (call: Call) => call.session.owner.account_id

  const routes: Route[] = [
    {
      method: 'POST',
      pattern: /^\/dashboard\/api\/sign-in$/,
      open: true,
      run: async (call) => signedIn(call, await auth.signIn(call.body, call.req.socket.remoteAddress ?? '')),
    },
    {
      method: 'POST',
      pattern: /^\/dashboard\/api\/set-password$/,
      open: true,
      run: async (call) => signedIn(call, await auth.setPasswordWithLink(call.body)),
    },
    // What the sign-in page needs to know before anyone is signed in.
    { method: 'GET', pattern: /^\/dashboard\/api\/settings$/, open: true, run: async () => [200, { signup: signupOpen }] },
    ...(signupOpen
      ? [
          {
            method: 'POST',
            pattern: /^\/dashboard\/api\/sign-up$/,
            open: true,
            run: async (call: Call) =>
              signedIn(
                call,
                await auth.signUp(call.body, call.req.socket.remoteAddress ?? '', (fields) => management.createAccountWithOwner(fields)),
              ),
          } satisfies Route,
        ]
      : []),
    { method: 'GET', pattern: /^\/dashboard\/api\/me$/, run: async (call) => [200, await me(call.session.owner)] },
    { method: 'GET', pattern: /^\/dashboard\/api\/account$/, run: async (call) => [200, await management.getAccount(account(call))] },
    {
      method: 'PATCH',
      pattern: /^\/dashboard\/api\/account$/,
      // The session's account is the only one an owner can change: the body carries no id.
      run: async (call) => [200, await management.updateAccount(account(call), call.body)],
    },
    {
      method: 'POST',
      pattern: /^\/dashboard\/api\/sign-out$/,
      run: async (call) => {
        objectWith(call.body, [])
        await auth.signOut(call.session)
        clearSessionCookie(call.res)
        return [200, { signed_out: true }]
      },
    },
    {
      method: 'POST',
      pattern: /^\/dashboard\/api\/sign-out-everywhere$/,
      run: async (call) => {
        objectWith(call.body, [])
        await auth.signOutEverywhere(call.session)
        clearSessionCookie(call.res)
        return [200, { signed_out: true }]
      },
    },
    { method: 'GET', pattern: /^\/dashboard\/api\/sessions$/, run: async (call) => [200, { data: await auth.sessions(call.session) }] },
    {
      method: 'POST',
      pattern: new RegExp(`^/dashboard/api/sessions/${ID}/end$`),
      run: async (call) => {
        objectWith(call.body, [])
        const target = (await auth.sessions(call.session)).find((session) => session.id === call.id)
        if (!target || !(await auth.endSessionById(call.session, call.id))) throw notFound('session')
        // Ending this browser's own session is signing out.
        if (target.current) clearSessionCookie(call.res)
        return [200, { ended: target.id, signed_out: target.current }]
      },
    },
    {
      method: 'POST',
      pattern: /^\/dashboard\/api\/password$/,
      run: async (call) => {
        await auth.changePassword(call.session, call.body)
        return [200, { changed: true }]
      },
    },
    {
      method: 'GET',
      pattern: /^\/dashboard\/api\/owners$/,
      run: async (call) => [200, { data: await management.listOwners(account(call)) }],
    },
    { method: 'GET', pattern: /^\/dashboard\/api\/keys$/, run: async (call) => [200, { data: await management.listKeys(account(call)) }] },
    {
      method: 'POST',
      pattern: /^\/dashboard\/api\/keys$/,
      run: async (call) => [201, await management.createKey(account(call), call.body)],
    },
    {
      method: 'POST',
      pattern: /^\/dashboard\/api\/domains\/check$/,
      run: async (call) => [200, { data: management.checkDomains(call.body) }],
    },
    {
      method: 'PATCH',
      pattern: new RegExp(`^/dashboard/api/keys/${ID}$`),
      run: async (call) => [200, await management.updateKey(call.id, call.body, account(call))],
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/dashboard/api/keys/${ID}/revoke$`),
      run: async (call) => {
        objectWith(call.body, [])
        return [200, await management.revokeKey(call.id, account(call))]
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/dashboard/api/keys/${ID}/primary$`),
      run: async (call) => {
        objectWith(call.body, [])
        return [200, await management.makePrimary(call.id, account(call))]
      },
    },
    {
      method: 'GET',
      pattern: /^\/dashboard\/api\/usage$/,
      run: async (call) => [200, { data: await management.usage(account(call)), ...(await management.activity(account(call))) }],
    },
  ]

  /** Whether the request's Origin is this dashboard's own. */
  const isSameOrigin = (req: IncomingMessage) => {
    const origins = req.headersDistinct.origin
    if (origins?.length !== 1) return false
    const [origin] = origins as [string]
    if (publicUrl) return origin === publicUrl
    try {
      const url = new URL(origin)
      return (
        url.origin === origin && (url.protocol === 'http:' || url.protocol === 'https:') && url.host === req.headers.host?.toLowerCase()
      )
    } catch {
      return false
    }
  }

  return async function handleDashboardApi(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const matching = routes.filter((route) => route.pattern.test(path))
    if (matching.length === 0) throw notFound()
    const route = matching.find((candidate) => candidate.method === (req.method === 'HEAD' ? 'GET' : req.method))
    if (!route) throw methodNotAllowed(matching.map((candidate) => candidate.method))

    let body: unknown
    if (route.method !== 'GET') {
      // Before anything else, the session included: another site's page learns nothing, changes nothing.
      if (!isSameOrigin(req)) throw crossSiteRefused()
      if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) throw jsonRequired()
    }
    const session = route.open ? undefined : await auth.session(sessionToken(req.headers.cookie))
    if (!route.open && !session) {
      clearSessionCookie(res)
      throw notSignedIn()
    }
    if (route.method !== 'GET') body = await readBody(req, res)
    const [status, answer] = await route.run({ req, res, id: route.pattern.exec(path)?.[1] ?? '', body, session: session! })
    sendJson(res, status, answer)
  }
}

/** The JSON body; one that is not JSON names `body` as its param. */
async function readBody(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
  try {
    return await readJsonBody(req, res, BODY_LIMIT)
  } catch (err) {
    if (err instanceof HttpError && err.status === 400 && err.param === undefined) throw naming(err, 'body')
    throw err
  }
}

/** The session cookie's value, if the request carries one; 400 when it carries two (one planted, perhaps). */
export function sessionToken(header: string | undefined): string | undefined {
  const found: string[] = []
  for (const part of (header ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=')
    if (name === SESSION_COOKIE) found.push(value.join('='))
  }
  if (found.length > 1) throw sessionCookieTwice()
  return found[0]
}

/** The page's scheme, as the browser's Origin states it (only sent on the calls that set the cookie). */
const isHttps = (req: IncomingMessage) => (req.headers.origin ?? '').startsWith('https:')

function setSessionCookie(res: ServerResponse, token: string, secure: boolean) {
  const maxAge = Math.floor(ABSOLUTE_MS / 1000)
  res.setHeader(
    'set-cookie',
    `${SESSION_COOKIE}=${token}; Path=/dashboard; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`,
  )
}

function clearSessionCookie(res: ServerResponse) {
  res.setHeader('set-cookie', `${SESSION_COOKIE}=; Path=/dashboard; Max-Age=0; HttpOnly; SameSite=Strict`)
}
