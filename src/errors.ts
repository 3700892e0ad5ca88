import { en } from './words/en.ts'

/** What went wrong, by the contract's error codes plus two the browser alone can see. */
export type ErrorCode =
  | 'invalid_api_key'
  | 'origin_not_allowed'
  | 'rate_limit_exceeded'
  | 'visitor_rate_limit_exceeded'
  | 'concurrent_streams_exceeded'
  | 'visitor_concurrent_streams_exceeded'
  | 'daily_token_limit_reached'
  | 'account_daily_token_limit_reached'
  | 'bad_request'
  | 'server_error'
  | 'network_error'
  | 'stream_interrupted'

/** The site's daily token budget (the key's or its account's) is spent until 00:00 UTC (issue 16). */
const DAILY: ErrorCode[] = ['daily_token_limit_reached', 'account_daily_token_limit_reached']

/** The 429 codes with words of their own; any other 429 is the key's own limit, the chat being busy. */
const LIMITS: ErrorCode[] = ['visitor_rate_limit_exceeded', 'concurrent_streams_exceeded', 'visitor_concurrent_streams_exceeded', ...DAILY]

/** Codes where sending the same message again cannot help (a daily budget: not today). */
const FINAL: ErrorCode[] = ['invalid_api_key', 'origin_not_allowed', 'bad_request', ...DAILY]

/** An error the visitor should see; `detail` is the server's own message, for the site owner's console. */
export class WidgetError extends Error {
  override name = 'WidgetError'
  /** When it happened, by the visitor's clock: `retryAfter` counts from here. */
  readonly at = Date.now()

  constructor(
    readonly code: ErrorCode,
    readonly detail = '',
    /** Seconds until sending may work again (429 only; for a daily budget, until its reset, or 0 if unknown). */
    readonly retryAfter = 0,
    readonly status = 0,
  ) {
    // The English words, for the console; the panel shows the words of the visitor's language (src/words/).
    super(en[code])
  }

  /** Whether a retry button makes sense. */
  get canRetry(): boolean {
    return !FINAL.includes(this.code)
  }

  /** Reads a failed response: the status decides the code (any OpenAI-compatible server agrees on those), a 429's own code which limit. */
  static async fromResponse(res: Response): Promise<WidgetError> {
    let error: { message?: unknown; code?: unknown } | undefined
    try {
      error = (await res.json())?.error
    } catch {}
    const s = res.status
    const code: ErrorCode =
      s === 401
        ? 'invalid_api_key'
        : s === 403
          ? 'origin_not_allowed'
          : s === 429
            ? LIMITS.find((limit) => limit === error?.code) || 'rate_limit_exceeded'
            : s >= 400 && s < 500
              ? 'bad_request'
              : 'server_error'
    // Whole seconds, as the contract promises; anything else (an HTTP date, nothing) gets a short guess,
    // but a daily budget's reset, hours away, is never guessed: no header, no time to tell the visitor.
    const seconds = Math.ceil(+(res.headers.get('retry-after') ?? NaN))
    const wait = DAILY.includes(code) ? (seconds > 0 && seconds <= 86_400 && seconds) || 0 : Math.max(seconds || 10, 1)
    return new WidgetError(code, String(error?.message ?? ''), s === 429 ? wait : 0, s)
  }
}
