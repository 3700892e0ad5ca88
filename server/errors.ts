/**
 * Every error a client can see, in OpenAI's shape, and the one place that writes errors to the wire.
 * Messages never contain request input beyond what the contract names (a `param`, a limit).
 */
import type { ServerResponse } from 'node:http'
import type { Logger } from './log.ts'
import { sendJson } from './respond.ts'
import { StoreUnavailable } from './store/store.ts'

type ErrorType = 'invalid_request_error' | 'rate_limit_error' | 'api_error'

/** An error the client should see; anything else becomes a logged 500. */
export class HttpError extends Error {
  override name = 'HttpError'

  constructor(
    readonly status: number,
    readonly type: ErrorType,
    readonly code: string,
    message: string,
    /** The request field at fault; omitted from the body when absent (the 401/403 bodies are exact). */
    readonly param?: string,
    /** Extra response headers, such as `Retry-After` or `Allow`. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }

  toJSON() {
    const error: Record<string, string> = { message: this.message, type: this.type, code: this.code }
    if (this.param !== undefined) error.param = this.param
    return { error }
  }
}

export const invalidApiKey = () => new HttpError(401, 'invalid_request_error', 'invalid_api_key', 'Invalid API key provided')

export const originNotAllowed = () =>
  new HttpError(403, 'invalid_request_error', 'origin_not_allowed', 'Request origin not allowed for this API key')

export const invalidAdminToken = () => new HttpError(401, 'invalid_request_error', 'invalid_api_key', 'Invalid admin token')

/** 429 to an address that sent too many wrong admin tokens; it may try again after `waitMs`. */
export const tooManyAdminAttempts = (waitMs: number) => {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000))
  return new HttpError(
    429,
    'rate_limit_error',
    'rate_limit_exceeded',
    `Too many wrong admin tokens from this address; try again in ${seconds} s`,
    undefined,
    { 'retry-after': String(seconds) },
  )
}

export const invalidJson = (message: string) => new HttpError(400, 'invalid_request_error', 'invalid_json', message)

export const invalidBody = (param: string, message: string) => new HttpError(400, 'invalid_request_error', 'invalid_body', message, param)

/** The same error, naming `param` as the field at fault. */
export const naming = (err: HttpError, param: string) => new HttpError(err.status, err.type, err.code, err.message, param, err.headers)

export const modelNotFound = (model: string, available: string) =>
  new HttpError(
    400,
    'invalid_request_error',
    'model_not_found',
    `The model '${model.slice(0, 64)}' does not exist; use '${available}'`,
    'model',
  )

export const requestTooLarge = (limitBytes: number) =>
  new HttpError(
    413,
    'invalid_request_error',
    'request_too_large',
    `Request body is larger than the limit of ${limitBytes} bytes`,
    undefined,
    // The rest of an oversized upload is not worth reading: close instead of draining it.
    { connection: 'close' },
  )

/** GET /v1/models/{id} for any other id; OpenAI answers 404 with this code. */
export const modelNotKnown = (model: string) =>
  new HttpError(404, 'invalid_request_error', 'model_not_found', `The model '${model.slice(0, 64)}' does not exist`, 'model')

export const notFound = (what = 'route') => new HttpError(404, 'invalid_request_error', 'not_found', `Unknown ${what}`)

export const widgetNotBuilt = () =>
  new HttpError(404, 'invalid_request_error', 'not_found', 'The widget is not built yet; run npm run build')

export const methodNotAllowed = (allowed: string[]) =>
  new HttpError(405, 'invalid_request_error', 'method_not_allowed', `Method not allowed; use ${allowed.join(' or ')}`, undefined, {
    allow: allowed.join(', '),
  })

export const keyLimitReached = (max: number) =>
  new HttpError(
    409,
    'invalid_request_error',
    'key_limit_reached',
    `This account already has ${max} active keys; revoke one before creating another`,
  )

export const keyRevoked = (what = 'made primary') =>
  new HttpError(409, 'invalid_request_error', 'key_revoked', `A revoked key cannot be ${what}`)

export const emailTaken = () =>
  new HttpError(409, 'invalid_request_error', 'email_taken', 'Another owner already signs in with this email', 'email')

/** Any wrong email or password, alike: the answer never says which accounts exist. */
export const signInRefused = () => new HttpError(401, 'invalid_request_error', 'invalid_credentials', 'Incorrect email or password')

/** 429 after too many failed sign-ins for one email or from one address. */
export const tooManySignIns = (waitMs: number) => {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000))
  const minutes = Math.ceil(seconds / 60)
  return new HttpError(
    429,
    'rate_limit_error',
    'too_many_sign_ins',
    `Too many failed sign-ins; try again in ${minutes} minute${minutes === 1 ? '' : 's'}`,
    undefined,
    { 'retry-after': String(seconds) },
  )
}

/** 429 after too many accounts made from one address (SIGNUP=open). */
export const tooManySignUps = (waitMs: number) => {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000))
  return new HttpError(
    429,
    'rate_limit_error',
    'too_many_sign_ups',
    'Too many new accounts from this address; try again later',
    undefined,
    {
      'retry-after': String(seconds),
    },
  )
}

/** 503 while the password-hashing queue is full (a flood of sign-ins): try again in a moment. */
export const passwordCheckBusy = () =>
  new HttpError(503, 'api_error', 'password_check_busy', 'Too many sign-ins at once; please try again in a moment', undefined, {
    'retry-after': '2',
  })

export const wrongPassword = () =>
  new HttpError(400, 'invalid_request_error', 'wrong_password', 'The current password is not correct', 'current_password')

/**
 * Two session cookies in one request: another site on a sibling subdomain may have planted one (a
 * cookie set for the parent domain), so neither is trusted.
 */
export const sessionCookieTwice = () =>
  new HttpError(
    400,
    'invalid_request_error',
    'duplicate_session_cookie',
    "The request carries two session cookies; clear this site's cookies and sign in again",
  )

/** A dashboard call without a live session (never signed in, signed out, or expired). */
export const notSignedIn = () => new HttpError(401, 'invalid_request_error', 'not_signed_in', 'Sign in to use the dashboard')

/** A state-changing dashboard call from another site, or not sent as JSON by the dashboard's own pages. */
export const crossSiteRefused = () =>
  new HttpError(403, 'invalid_request_error', 'cross_site_request', "Changes are accepted only from the dashboard's own pages")

export const jsonRequired = () =>
  new HttpError(415, 'invalid_request_error', 'unsupported_media_type', 'Send the request body as JSON with Content-Type: application/json')

export const upstreamError = () => new HttpError(502, 'api_error', 'upstream_error', 'The model service failed to answer; please try again')

export const upstreamTimeout = () =>
  new HttpError(504, 'api_error', 'upstream_timeout', 'The model service took too long to answer; please try again')

/** 503 while the database is unreachable or too slow; the store logs the outage (once), not each request. */
export const storeUnavailable = () =>
  new HttpError(503, 'api_error', 'store_unavailable', "The service's database is unavailable; please try again", undefined, {
    'retry-after': '5',
  })

export const internalError = () =>
  new HttpError(500, 'api_error', 'internal_error', 'The server had an error while processing your request')

/**
 * Writes any error as the response: an HttpError as itself, an unreachable store as a 503, anything
 * else as a 500 that is logged once. After an event stream has begun, the error becomes a final
 * `data:` event, so a client never mistakes a broken stream for a finished one.
 */
export function sendError(res: ServerResponse, err: unknown, log: Logger): void {
  const httpError = toHttpError(err, log)

  if (res.headersSent) {
    if (isEventStream(res) && !res.writableEnded && !res.destroyed) {
      res.end(`data: ${JSON.stringify(httpError)}\n\n`)
    } else {
      res.destroy()
    }
    return
  }
  sendJson(res, httpError.status, httpError, httpError.headers)
}

function toHttpError(err: unknown, log: Logger): HttpError {
  if (err instanceof HttpError) return err
  if (err instanceof StoreUnavailable) return storeUnavailable()
  log.error('request failed', { err })
  return internalError()
}

const isEventStream = (res: ServerResponse) => String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')

/** 429: says the limit and when to retry, from the limiter's headers (which it carries). */
export const rateLimitExceeded = (limit: number, headers: Record<string, string>) =>
  new HttpError(
    429,
    'rate_limit_error',
    'rate_limit_exceeded',
    `Rate limit reached: this key allows ${limit} request${limit === 1 ? '' : 's'} per minute; try again in ${headers['retry-after']} s`,
    undefined,
    headers,
  )

/** 429 for one visitor over its share of a key (issue 16), with the headers of the visitor's window. */
export const visitorRateLimitExceeded = (limit: number, headers: Record<string, string>) =>
  new HttpError(
    429,
    'rate_limit_error',
    'visitor_rate_limit_exceeded',
    `Rate limit reached: this key allows ${limit} request${limit === 1 ? '' : 's'} per minute from one visitor; try again in ${headers['retry-after']} s`,
    undefined,
    headers,
  )
/**
 * 429 once today's tokens of the key (`daily_token_limit_reached`) or of its whole account
 * (`account_daily_token_limit_reached`) have reached the owner's daily budget; it resets at 00:00 UTC.
 */
export const dailyTokenLimitReached = (scope: 'key' | 'account', limit: number, retryAfterMs: number) => {
  const which = scope === 'key' ? "this key's" : "this key's account's"
  return new HttpError(
    429,
    'rate_limit_error',
    scope === 'key' ? 'daily_token_limit_reached' : 'account_daily_token_limit_reached',
    `Daily token limit reached: ${which} budget of ${limit} tokens a day is used up; it resets at 00:00 UTC`,
    undefined,
    {
      'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
      'retry-after-ms': String(Math.max(1, Math.ceil(retryAfterMs))),
    },
  )
}

/** 429 for GET /v1/key over its own window; only the Retry-After headers, since the x-ratelimit ones describe chat. */
export const keyChecksExceeded = (limit: number, headers: Record<string, string>) =>
  new HttpError(
    429,
    'rate_limit_error',
    'rate_limit_exceeded',
    `Too many key checks: this key allows ${limit} per minute; try again in ${headers['retry-after']} s`,
    undefined,
    { 'retry-after': headers['retry-after']!, 'retry-after-ms': headers['retry-after-ms']! },
  )

/**
 * 429 while the key, or this visitor of it, has as many answers in flight as it may. A slot frees as
 * soon as one of them ends, so the wait is short and cannot be known: Retry-After says 1 s.
 */
export const tooManyStreams = (cap: 'key' | 'visitor', limit: number) =>
  new HttpError(
    429,
    'rate_limit_error',
    cap === 'key' ? 'concurrent_streams_exceeded' : 'visitor_concurrent_streams_exceeded',
    `Too many answers in progress at once: ${
      cap === 'key' ? `this key allows ${limit}` : `each visitor may have ${limit} per key`
    }; a slot frees when one of them ends, so try again in a moment`,
    undefined,
    { 'retry-after': '1', 'retry-after-ms': '1000' },
  )

export const serverShuttingDown = () =>
  new HttpError(503, 'api_error', 'server_shutting_down', 'The server is restarting; please try again')

/**
 * 503 while the shared rate limiter (Redis) cannot answer and REDIS_FAILURE_MODE is closed: a request
 * the server cannot count is refused rather than let through unlimited. Says nothing about Redis.
 */
export const rateLimiterUnavailable = (retryAfterSeconds: number) =>
  new HttpError(
    503,
    'api_error',
    'rate_limiter_unavailable',
    'The service is briefly unavailable; please try again in a moment',
    undefined,
    { 'retry-after': String(retryAfterSeconds) },
  )

/** RFC 9112 §3.2: an HTTP/1.1 request without Host. */
export const missingHost = () =>
  new HttpError(400, 'invalid_request_error', 'bad_request', 'The request has no Host header', undefined, { connection: 'close' })

/** Errors Node's HTTP parser reports outside any ServerResponse: the status, and raw bytes for the socket. */
export function rawClientErrorResponse(parserCode: string | undefined): { status: number; text: string } {
  const [status, reason, message] =
    parserCode === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'Request headers are too large']
      : parserCode === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'The request took too long to arrive']
        : [400, 'Bad Request', 'The request is not valid HTTP']
  const body = JSON.stringify(new HttpError(status, 'invalid_request_error', 'bad_request', message))
  const text =
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  return { status, text }
}
