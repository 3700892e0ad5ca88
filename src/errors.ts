import { en } from './words/en.ts'

/** What went wrong, by the contract's error codes plus two the browser alone can see. */
export type ErrorCode =
  | 'invalid_api_key'
  | 'origin_not_allowed'
  | 'rate_limit_exceeded'
  | 'bad_request'
  | 'server_error'
  | 'network_error'
  | 'stream_interrupted'

/** Codes where sending the same message again cannot help. */
const FINAL: ErrorCode[] = ['invalid_api_key', 'origin_not_allowed', 'bad_request']

/** An error the visitor should see; `detail` is the server's own message, for the site owner's console. */
export class WidgetError extends Error {
  override name = 'WidgetError'

  constructor(
    readonly code: ErrorCode,
    readonly detail = '',
    /** Seconds until sending may work again (429 only). */
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

  /** Reads a failed response: the status decides the code (any OpenAI-compatible server agrees on those). */
  static async fromResponse(res: Response): Promise<WidgetError> {
    let detail = ''
    try {
      const body = await res.json()
      detail = String(body?.error?.message ?? '')
    } catch {}
    const s = res.status
    const code: ErrorCode =
      s === 401
        ? 'invalid_api_key'
        : s === 403
          ? 'origin_not_allowed'
          : s === 429
            ? 'rate_limit_exceeded'
            : s >= 400 && s < 500
              ? 'bad_request'
              : 'server_error'
    // Whole seconds, as the contract promises; anything else (an HTTP date, nothing) gets a short guess.
    const wait = Math.max(Math.ceil(+(res.headers.get('retry-after') ?? NaN)) || 10, 1)
    return new WidgetError(code, detail, s === 429 ? wait : 0, s)
  }
}
