/** The dashboard's secrets: 256-bit random tokens, stored only as their SHA-256 hashes. */
import { createHash, randomBytes } from 'node:crypto'

/** A new token, as it goes into a cookie or a link (base64url, 43 characters). */
export const newToken = () => randomBytes(32).toString('base64url')

/** The form a token is stored and looked up in. */
export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex')
