/**
 * The demo's account, made on the first `npm start` and reused after: a primary key for the demo
 * site's own origins and a second key restricted to example.com, so the demo can show a refusal.
 * Full keys are shown only once by design, so the demo keeps them (and its admin token) in a small
 * file beside the database, readable by its owner only. A key revoked or re-scoped since, or a
 * database swapped underneath, gets a fresh key instead of a page that cannot chat.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { isAcceptableAdminToken, type Config } from '../server/config.ts'
import { hashKey } from '../server/keys.ts'
import { HttpError } from '../server/errors.ts'
import { createManagement, type Management } from '../server/management.ts'
import { openStore } from '../server/store/open.ts'
import type { Store } from '../server/store/store.ts'

export interface DemoAccount {
  adminToken: string
  accountId: string
  /** The account's primary key, allowed on localhost and 127.0.0.1 (any port). */
  primaryKey: string
  /** Allowed on example.com only: this page's origin is refused with 403. */
  restrictedKey: string
}

/** The demo account's dashboard owner, with a fresh one-time set-password link on every start (never saved). */
export interface DemoOwner {
  email: string
  /** The token for /dashboard/set-password#<token>, valid once for 24 hours. */
  linkToken: string
}

const DEMO_EMAIL = 'demo@example.com'

const PRIMARY_DOMAINS = ['localhost', '127.0.0.1']
const RESTRICTED_DOMAINS = ['example.com']

/**
 * Where the demo keeps its keys: next to an SQLite file; under data/ for a PostgreSQL database (one
 * file for any: pointed at another database, the demo finds its saved account missing and starts afresh).
 */
export const demoStatePath = (database: Config['database']) =>
  database.kind === 'sqlite' ? `${database.path}.demo.json` : 'data/postgres.demo.json'

/**
 * Returns the demo account in `database`, creating whatever is missing or no longer works.
 * `adminToken` (ADMIN_TOKEN from the environment) wins over the saved one.
 */
export async function prepareDemoAccount(
  database: Config['database'],
  options: { adminToken?: string; defaultRpm: number; defaultVisitorRpm: number },
): Promise<DemoAccount & { owner: DemoOwner }> {
  const statePath = demoStatePath(database)
  const saved = readSaved(statePath)
  const store = await openStore(database)
  try {
    const management = createManagement({ store, defaultRpm: options.defaultRpm, defaultVisitorRpm: options.defaultVisitorRpm })
    const accountId =
      saved.accountId && (await store.getAccount(saved.accountId))
        ? saved.accountId
        : (await management.createAccount({ name: 'Demo site' })).id
    const keyFor = async (savedKey: string | undefined, name: string, domains: string[]) =>
      (await stillWorks(store, savedKey, accountId, domains))
        ? savedKey!
        : (await management.createKey(accountId, { name, allowed_domains: domains })).key
    // The primary first: the first key an account gets (or the first after its primary is revoked) is primary.
    const primaryKey = await keyFor(saved.primaryKey, 'Demo site', PRIMARY_DOMAINS)
    const restrictedKey = await keyFor(saved.restrictedKey, 'Restricted to example.com', RESTRICTED_DOMAINS)
    // The file keeps the demo's own token; one from the environment is used, not written down.
    const kept: DemoAccount = {
      adminToken: saved.adminToken ?? randomBytes(24).toString('base64url'),
      accountId,
      primaryKey,
      restrictedKey,
    }
    writePrivately(statePath, JSON.stringify(kept, null, 2) + '\n')
    return { ...kept, adminToken: options.adminToken ?? kept.adminToken, owner: await demoOwner(management, accountId) }
  } finally {
    await store.close()
  }
}

/**
 * The account's first owner with a new link, or a new owner: demo@example.com, or one named after the
 * account when that email already belongs to an older demo account in the same database.
 */
async function demoOwner(management: Management, accountId: string): Promise<DemoOwner> {
  const [existing] = await management.listOwners(accountId)
  const link = existing
    ? await management.newPasswordLink({ email: existing.email })
    : await management.createOwner(accountId, { email: DEMO_EMAIL }).catch((err: unknown) => {
        if (!(err instanceof HttpError) || err.code !== 'email_taken') throw err
        return management.createOwner(accountId, { email: `demo+${accountId.toLowerCase()}@example.com` })
      })
  return { email: link.owner.email, linkToken: link.token }
}

/** The saved state, or nothing when there is none or it is unreadable (then the demo starts afresh). */
function readSaved(statePath: string): Partial<DemoAccount> {
  if (!existsSync(statePath)) return {}
  try {
    const saved: unknown = JSON.parse(readFileSync(statePath, 'utf8'))
    if (typeof saved !== 'object' || saved === null) return {}
    const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined)
    const { adminToken, accountId, primaryKey, restrictedKey } = saved as Record<string, unknown>
    // A hand-edited token must still meet ADMIN_TOKEN's rule (16+ characters, no spaces).
    const token = text(adminToken)
    return {
      adminToken: token && isAcceptableAdminToken(token) ? token : undefined,
      accountId: text(accountId),
      primaryKey: text(primaryKey),
      restrictedKey: text(restrictedKey),
    }
  } catch {
    console.warn(`assisters demo: ${statePath} is unreadable; making new demo keys`)
    return {}
  }
}

/** A saved key the demo can still use as it is: on this account, not revoked, its domains unchanged. */
async function stillWorks(store: Store, key: string | undefined, accountId: string, domains: string[]): Promise<boolean> {
  if (!key) return false
  const record = await store.findKeyByHash(hashKey(key))
  return (
    record !== undefined &&
    record.account_id === accountId &&
    record.revoked_at === null &&
    record.allowed_domains.join() === domains.join()
  )
}

/** Owner-only, whatever mode an older file had, and never half-written: a private temporary file renamed over it. */
function writePrivately(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true })
  const temporary = `${path}.${process.pid}.tmp`
  writeFileSync(temporary, text, { mode: 0o600 })
  chmodSync(temporary, 0o600) // the umask may have taken bits away, never added; be exact anyway
  renameSync(temporary, path)
}
