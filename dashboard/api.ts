/**
 * The dashboard API, same origin: JSON in, JSON out, the session in its HttpOnly cookie. An error
 * answer becomes an ApiError carrying the server's code, message and field (`param`).
 */

export class ApiError extends Error {
  override name = 'ApiError'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly param?: string,
  ) {
    super(message)
  }
}

/** Told when a call finds the session gone (signed out elsewhere, expired). */
let onSignedOut: () => void = () => {}
export const whenSignedOut = (handler: () => void) => (onSignedOut = handler)

export async function api<T>(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<T> {
  let response: Response
  try {
    response = await fetch(`/dashboard/api${path}`, {
      method,
      credentials: 'same-origin',
      headers: method === 'GET' ? {} : { 'content-type': 'application/json' },
      body: method === 'GET' ? undefined : JSON.stringify(body ?? {}),
    })
  } catch {
    throw new ApiError(0, 'offline', 'The server could not be reached. Check your connection and try again.')
  }
  const data = await response.json().catch(() => undefined)
  if (response.ok) return data as T
  const error = data?.error ?? {}
  if (error.code === 'not_signed_in') onSignedOut()
  throw new ApiError(response.status, error.code ?? 'unknown', error.message ?? `The server answered ${response.status}`, error.param)
}

/** The owner's account; its daily token budget spans all its keys (null: none). */
export interface Account {
  id: string
  name: string
  daily_token_limit: number | null
  created_at: string
}

/** What the server says of the signed-in owner and their account, and the limits a key follows by default. */
export interface Me {
  owner: { id: string; email: string; account_id: string; created_at: string }
  account: Account
  /** VISITOR_RPM applies only to keys with allowed domains. */
  defaults: { rate_limit_rpm: number; visitor_rpm: number }
}

/** A key as listed: never the full key, which only the answer to its creation holds. */
export interface Key {
  id: string
  name: string
  prefix: string
  is_primary: boolean
  allowed_domains: string[]
  rate_limit_rpm: number
  /** The limit per visitor in effect (0: none), and whether it follows the server's default. */
  visitor_rpm: number
  visitor_rpm_is_default: boolean
  /** Tokens a UTC day; null: no budget. */
  daily_token_limit: number | null
  /** False: the server refuses the page's own system messages. */
  allow_system_messages: boolean
  instructions: string | null
  created_at: string
  last_used_at: string | null
  revoked_at: string | null
}

export type DomainCheck = { entry: string; stored: string } | { entry: string; error: string }
