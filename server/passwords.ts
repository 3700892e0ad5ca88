/**
 * Owners' passwords: scrypt (RFC 7914) from node:crypto with a random salt, the parameters stored with
 * each hash so they can be raised later; compared in constant time. The rule is NIST SP 800-63B's: at
 * least 10 characters, no composition rules, and an upper bound only so hashing stays cheap.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { passwordCheckBusy } from './errors.ts'

export const MIN_PASSWORD_CHARS = 10
export const MAX_PASSWORD_CHARS = 1024

// OWASP's scrypt settings (N=2^15, r=8, p=3): 32 MiB and some tens of milliseconds per hash.
const PARAMS = { N: 2 ** 15, r: 8, p: 3 }
const KEY_BYTES = 32

/**
 * At most this many hashes at once; a few more wait their turn. Each takes 32 MiB and a thread of
 * libuv's pool: a burst of sign-ins must neither exhaust memory nor starve the other file and
 * crypto work queued behind them. Past MAX_WAITING a check answers 503 at once, so a flood of
 * sign-ins cannot make a real one wait behind it for seconds. Making a hash always waits its turn:
 * it follows a spent link or a new account, which a refusal would lose (and a flood cannot reach).
 */
const MAX_CONCURRENT = 2
const MAX_WAITING = 20
let running = 0
const waiting: Array<() => void> = []

const derive = async (password: string, salt: Buffer, params: { N: number; r: number; p: number }, maxWaiting = Infinity) => {
  if (running < MAX_CONCURRENT) running++
  else if (waiting.length >= maxWaiting) throw passwordCheckBusy()
  // A finished hash hands its slot straight to the next in line, so none can jump the queue.
  else await new Promise<void>((resolve) => waiting.push(resolve))
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const options: ScryptOptions = { ...params, maxmem: 128 * params.N * params.r * 2 }
      scrypt(password.normalize('NFKC'), salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key)))
    })
  } finally {
    const next = waiting.shift()
    if (next) next()
    else running--
  }
}

/** Whether the text is acceptable as a password; the reason when it is not. */
export function passwordProblem(password: unknown): string | undefined {
  if (typeof password !== 'string') return 'The password must be text'
  const length = [...password].length
  if (length < MIN_PASSWORD_CHARS) return `The password must have at least ${MIN_PASSWORD_CHARS} characters`
  if (length > MAX_PASSWORD_CHARS) return `The password must have at most ${MAX_PASSWORD_CHARS} characters`
  return undefined
}

/** `scrypt$N$r$p$salt$hash`, salt and hash in base64url. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(password, salt, PARAMS)
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join('$')
}

/** True when the password matches the stored hash; a malformed hash matches nothing; 503 when too many wait. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, N, r, p, salt, expected] = stored.split('$')
  if (scheme !== 'scrypt' || !salt || !expected) return false
  const key = await derive(password, Buffer.from(salt, 'base64url'), { N: Number(N), r: Number(r), p: Number(p) }, MAX_WAITING)
  const want = Buffer.from(expected, 'base64url')
  return want.length === key.length && timingSafeEqual(key, want)
}

let decoy: Promise<string> | undefined
/**
 * A hash of nothing anyone knows, checked against when there is no owner (or no password yet), so
 * an unknown email costs the same scrypt work as a wrong password and the timing tells nothing.
 */
export const decoyHash = () => (decoy ??= hashPassword(randomBytes(32).toString('base64url')))
