/**
 * Owners signing in to the dashboard: passwords, one-time set-password links and sessions. Tokens
 * (link and session) are 256 random bits; only their SHA-256 hashes are stored, so a copy of the
 * database signs no one in. A session ends after IDLE_MS without use or ABSOLUTE_MS after sign-in,
 * whichever comes first.
 */
import { invalidBody, signInRefused, tooManySignIns, tooManySignUps, wrongPassword } from './errors.ts'
import { objectWith } from './management.ts'
import { decoyHash, hashPassword, passwordProblem, verifyPassword } from './passwords.ts'
import type { OwnerRecord, SessionRecord, Store } from './store/store.ts'
import { createMemoryRateLimiter } from './rate-limit.ts'
import { createOwnerThrottles, type OwnerThrottles } from './throttle.ts'
import { hashToken, newToken } from './tokens.ts'

/** A session's id in the API: a hash of its stored hash, which the API never shows. */
const sessionId = (tokenHash: string) => hashToken(`session:${tokenHash}`).slice(0, 24)

export const IDLE_MS = 12 * 60 * 60 * 1000
export const ABSOLUTE_MS = 7 * 24 * 60 * 60 * 1000
/** last_seen_at is written at most this often, so browsing the dashboard is not a write per request. */
const TOUCH_EVERY_MS = 60 * 1000

export interface SignedIn {
  owner: OwnerRecord
  /** The new session's token, for the cookie; never stored. */
  token: string
}

export interface CurrentSession {
  owner: OwnerRecord
  tokenHash: string
}

/** A signed-in browser as its owner is shown it: never its token or the token's hash. */
export interface SessionView {
  /** Stands for the session in the API; derived from the stored hash, so it signs no one in. */
  id: string
  created_at: string
  last_seen_at: string
  /** The browser asking. */
  current: boolean
}

export interface OwnerAuth {
  /** Throws 401 for any wrong email or password alike, 429 past the failure limits. */
  signIn(input: unknown, address: string): Promise<SignedIn>
  /**
   * SIGNUP=open: a new account and its first owner, signed in. `create` makes both from the body's
   * account_name and email (management.ts); throttled per client address.
   */
  signUp(input: unknown, address: string, create: (fields: unknown) => Promise<OwnerRecord>): Promise<SignedIn>
  /** Uses a set-password link once, sets the password, ends the owner's sessions and other links, and signs in. */
  setPasswordWithLink(input: unknown): Promise<SignedIn>
  /** The session a cookie token names, if it is live; an expired one is ended on the way. */
  session(token: string | undefined): Promise<CurrentSession | undefined>
  /**
   * Checks the current password, sets the new one and ends every other session and every unused link
   * of the owner. Wrong current passwords count in the per-email sign-in throttle (429 past it).
   */
  changePassword(current: CurrentSession, input: unknown): Promise<void>
  signOut(current: CurrentSession): Promise<void>
  /** Ends every session of the owner, this one included, and every unused link. */
  signOutEverywhere(current: CurrentSession): Promise<void>
  /** The owner's live sessions, most recently used first. */
  sessions(current: CurrentSession): Promise<SessionView[]>
  /** Ends one of the owner's sessions by its id; false when the owner has no live session with that id. */
  endSessionById(current: CurrentSession, id: string): Promise<boolean>
  /** Deletes the sessions and links that have expired or been used, which nothing else would ever remove. */
  purgeExpired(): Promise<{ sessions: number; links: number }>
}

export interface OwnerAuthOptions {
  now?: () => number
  /** Failed sign-ins per email and per client address, and sign-ups per address; in memory when not given. */
  throttles?: Pick<OwnerThrottles, 'perEmail' | 'perAddress' | 'signUps'>
}

export function createOwnerAuth(store: Store, options: OwnerAuthOptions = {}): OwnerAuth {
  const now = options.now ?? Date.now
  const { perEmail, perAddress, signUps } =
    options.throttles ?? createOwnerThrottles((windowMs) => createMemoryRateLimiter({ windowMs, now }))

  // Made now, so the first unknown email does not pay for it and take longer than a wrong password.
  decoyHash().catch(() => {})

  const isExpired = (session: SessionRecord, at: number) =>
    at - Date.parse(session.last_seen_at) > IDLE_MS || at - Date.parse(session.created_at) > ABSOLUTE_MS

  const liveSessions = async (ownerId: string) => {
    const at = now()
    return (await store.listSessions(ownerId)).filter((session) => !isExpired(session, at))
  }

  const startSession = async (owner: OwnerRecord): Promise<SignedIn> => {
    const token = newToken()
    await store.createSession(hashToken(token), owner.id, new Date(now()).toISOString())
    return { owner, token }
  }

  /** Ends the owner's sessions (but `keep`) and unused set-password links: no other way in is left. */
  const endOwnerAccess = async (ownerId: string, keep?: string) => {
    await store.endOwnerSessions(ownerId, keep)
    await store.endPasswordLinks(ownerId, new Date(now()).toISOString())
  }

  /**
   * Counts a sign-in attempt against both limits before any await, so parallel attempts cannot all
   * pass the check before the first one is counted; 429 past either limit.
   */
  const reserveSignIn = async (email: string, address: string) => {
    const byEmail = await perEmail.reserve(email)
    if (byEmail > 0) throw tooManySignIns(byEmail)
    const byAddress = await perAddress.reserve(address)
    if (byAddress > 0) {
      await perEmail.refund(email)
      throw tooManySignIns(byAddress)
    }
  }
  const refundSignIn = async (email: string, address: string) => {
    await Promise.all([perEmail.refund(email), perAddress.refund(address)])
  }

  return {
    async signIn(input, address) {
      const body = objectWith(input, ['email', 'password'])
      if (typeof body.email !== 'string' || typeof body.password !== 'string' || body.password.length > 4096) {
        throw invalidBody('body', 'Send the email and password as text')
      }
      // No owner's email holds one (management.ts refuses them), and PostgreSQL cannot look up a NUL (a 500 before).
      if (/\p{Cc}/u.test(body.email)) throw invalidBody('email', 'email must not contain control characters')
      const email = body.email.trim().toLowerCase().slice(0, 320)
      await reserveSignIn(email, address)
      let refused = false
      try {
        const owner = await store.findOwnerByEmail(email)
        // The same scrypt work whether or not the owner exists or has a password yet.
        const matches = await verifyPassword(body.password, owner?.password_hash ?? (await decoyHash()))
        if (!owner?.password_hash || !matches) {
          refused = true
          throw signInRefused()
        }
        return await startSession(owner)
      } finally {
        // Only a wrong password counts; a sign-in, or a failure of ours (store, busy hashing), does not.
        if (!refused) await refundSignIn(email, address)
      }
    },

    async signUp(input, address, create) {
      const { password, ...fields } = objectWith(input, ['account_name', 'email', 'password'])
      const problem = passwordProblem(password)
      if (problem) throw invalidBody('password', problem)
      // Counted before the account is made (so parallel sign-ups all count), refunded if none is.
      const wait = await signUps.reserve(address)
      if (wait > 0) throw tooManySignUps(wait)
      let owner: OwnerRecord
      try {
        owner = await create(fields)
      } catch (err) {
        await signUps.refund(address)
        throw err
      }
      const passwordHash = await hashPassword(password as string)
      await store.setOwnerPassword(owner.id, passwordHash)
      return startSession({ ...owner, password_hash: passwordHash })
    },

    async setPasswordWithLink(input) {
      const body = objectWith(input, ['token', 'password'])
      const problem = passwordProblem(body.password)
      if (problem) throw invalidBody('password', problem)
      if (typeof body.token !== 'string' || body.token.length > 100) throw invalidBody('token', 'This link is not valid')
      // The link is spent before any hashing: a made-up token costs no scrypt work.
      const ownerId = await store.usePasswordLink(hashToken(body.token), new Date(now()).toISOString())
      const owner = ownerId && (await store.getOwner(ownerId))
      if (!owner)
        throw invalidBody('token', 'This link is not valid: it was used already, has expired, or was mistyped. Ask for a new one.')
      const passwordHash = await hashPassword(body.password as string)
      await store.setOwnerPassword(owner.id, passwordHash)
      await endOwnerAccess(owner.id)
      return startSession({ ...owner, password_hash: passwordHash })
    },

    async session(token) {
      if (!token || token.length > 100) return undefined
      const tokenHash = hashToken(token)
      const found = await store.findSession(tokenHash)
      if (!found) return undefined
      const at = now()
      if (isExpired(found, at)) {
        await store.endSession(tokenHash)
        return undefined
      }
      const owner = await store.getOwner(found.owner_id)
      if (!owner) return undefined
      if (at - Date.parse(found.last_seen_at) > TOUCH_EVERY_MS) await store.touchSession(tokenHash, new Date(at).toISOString())
      return { owner, tokenHash }
    },

    async changePassword(current, input) {
      const body = objectWith(input, ['current_password', 'new_password'])
      const problem = passwordProblem(body.new_password)
      if (problem) throw invalidBody('new_password', problem)
      if (typeof body.current_password !== 'string' || body.current_password.length > 4096) {
        throw invalidBody('current_password', 'Send the current password as text')
      }
      // A wrong current password is a guess like a wrong sign-in: it counts against the same email.
      const email = current.owner.email
      const wait = await perEmail.reserve(email)
      if (wait > 0) throw tooManySignIns(wait)
      let wrong = false
      try {
        const owner = await store.getOwner(current.owner.id)
        if (!owner?.password_hash || !(await verifyPassword(body.current_password, owner.password_hash))) {
          wrong = true
          throw wrongPassword()
        }
        await store.setOwnerPassword(owner.id, await hashPassword(body.new_password as string))
        await endOwnerAccess(owner.id, current.tokenHash)
      } finally {
        if (!wrong) await perEmail.refund(email)
      }
    },

    async signOut(current) {
      await store.endSession(current.tokenHash)
    },

    async signOutEverywhere(current) {
      await endOwnerAccess(current.owner.id)
    },
    async sessions(current) {
      return (await liveSessions(current.owner.id)).map((session) => ({
        id: sessionId(session.token_hash),
        created_at: session.created_at,
        last_seen_at: session.last_seen_at,
        current: session.token_hash === current.tokenHash,
      }))
    },
    async endSessionById(current, id) {
      const session = (await liveSessions(current.owner.id)).find((candidate) => sessionId(candidate.token_hash) === id)
      if (!session) return false
      await store.endSession(session.token_hash)
      return true
    },
    purgeExpired() {
      const at = now()
      const iso = (ms: number) => new Date(ms).toISOString()
      return store.purgeExpired(iso(at), iso(at - IDLE_MS), iso(at - ABSOLUTE_MS))
    },
  }
}
