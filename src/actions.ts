import type { ChatTurn } from './api.ts'
import { WidgetError, type ErrorCode } from './errors.ts'
import type { Emit } from './events.ts'
import { toMessage, type ChatState, type Message } from './state.ts'

/** Turns sent upstream per question: enough context, well inside the server's message limits. */
const HISTORY_TURNS = 20

export interface ActionDeps {
  stream: (messages: ChatTurn[], signal: AbortSignal) => AsyncIterable<string>
  save: (turns: ChatTurn[]) => void
  /** The stored conversation: read at the first opening, so a page load where nobody opens the chat
   * never pays for the browser's first localStorage access (a few ms of main-thread time in Chromium). */
  load: () => ChatTurn[]
  /** Whether the key and this page's origin are accepted (GET /v1/key); throws the WidgetError if not. */
  check: (signal: AbortSignal) => Promise<void>
  emit: Emit
  /** What an error means to the visitor, in their language (the `error` event's `message`). */
  say: (code: ErrorCode) => string
}

/**
 * The only code that writes chat state: sending, stopping, retrying, resetting, opening and closing.
 * No batch(): components re-render on Preact's next tick anyway, and no effect reads a half-made state.
 */
export function createActions(state: ChatState, { stream, save, load, check, emit, say }: ActionDeps) {
  const { messages, status, error, waitSeconds, isOpen, unread } = state
  let restored = false
  const checking = new AbortController()
  let controller: AbortController | null = null
  let countdown: ReturnType<typeof setInterval> | undefined

  const turns = (): ChatTurn[] => messages.value.filter((m) => m.content.value).map((m) => ({ role: m.role, content: m.content.value }))

  async function answer(): Promise<void> {
    const reply = toMessage({ role: 'assistant', content: '' })
    const abort = (controller = new AbortController())
    let failure: unknown
    error.value = null
    status.value = 'waiting'
    // Stored before the answer comes: a page closed while it streams keeps the question, to ask again after a reload.
    save(turns())
    try {
      for await (const delta of stream(turns().slice(-HISTORY_TURNS), abort.signal)) {
        if (!reply.content.value) {
          messages.value = [...messages.value, reply]
          status.value = 'streaming'
        }
        reply.content.value += delta
      }
      // A stream that ends properly with nothing in it helps the visitor no more than a cut one.
      if (!reply.content.value) throw new WidgetError('stream_interrupted', 'the answer was empty')
    } catch (err) {
      failure = err
    }
    // reset() and dispose() let go of this answer: it must not touch state or storage any more.
    if (controller !== abort) return
    controller = null
    status.value = 'idle'
    save(turns())
    if (abort.signal.aborted) return // stop(): what arrived stays, and nothing went wrong
    // Events go out once the widget is idle again, so a listener may send the next question at once.
    if (failure) fail(failure)
    else {
      emit('message', { role: 'assistant', content: reply.content.value })
      if (!isOpen.value) unread.value = true
    }
  }

  function fail(err: unknown): void {
    const e = err instanceof WidgetError ? err : new WidgetError('stream_interrupted', String(err))
    error.value = e
    // Every limit but the daily budget (final until its reset, hours away) is waited out second by second.
    if (e.canRetry && e.retryAfter) startCountdown(e.retryAfter)
    // The site owner reads the console: say what to change.
    const fix =
      e.code === 'origin_not_allowed'
        ? [`This page's origin is ${location.origin}: add ${location.host} to the key's allowed domains.`]
        : e.code === 'invalid_api_key'
          ? ['The key is unknown or revoked: check data-key.']
          : []
    console.warn('[Assisters]', e.code, e.status || '', e.detail, ...fix)
    emit('error', { code: e.code, message: say(e.code), detail: e.detail, status: e.status })
  }

  // A timer exists only while a rate-limited visitor waits; at zero, sending (and retry) works again.
  function startCountdown(seconds: number): void {
    clearInterval(countdown)
    waitSeconds.value = seconds
    countdown = setInterval(() => {
      if (--waitSeconds.value <= 0) clearInterval(countdown)
    }, 1000)
  }

  function setOpen(open: boolean): void {
    if (isOpen.value === open) return
    if (open && !restored) {
      restored = true
      messages.value = load().map(toMessage)
      // A question whose answer never came (it failed, or the page went away while it streamed): offer to ask again.
      if (messages.value.at(-1)?.role === 'user' && !error.value)
        error.value = new WidgetError('stream_interrupted', 'the last question has no answer')
      // Learn now whether this key works on this page, so a refusal shows before anyone types. A
      // question already on its way will hear the same refusal itself; one that heard it is not told twice.
      check(checking.signal).catch((err: WidgetError) => {
        if (!checking.signal.aborted && status.value === 'idle' && error.value?.code !== err.code) fail(err)
      })
    }
    isOpen.value = open
    if (open) unread.value = false
    emit(open ? 'open' : 'close', undefined)
  }

  /** Sends a visitor's message; returns false when it cannot be sent now (empty, busy or waiting). */
  function send(text: string): boolean {
    const content = String(text ?? '').trim()
    if (!content || !state.canSend.value) return false
    const question: Message = toMessage({ role: 'user', content })
    messages.value = [...messages.value, question]
    // answer() is busy before the event goes out: a listener that sends again is refused, not doubled.
    void answer()
    emit('message', { role: 'user', content })
    return true
  }

  return {
    send,
    /** Sends what the visitor typed, and empties the box only if it went. */
    submit(): void {
      if (send(state.draft.value)) state.draft.value = ''
    },
    setDraft(text: string): void {
      state.draft.value = text
    },
    /** Stops the answer being streamed; what arrived so far stays. */
    stop(): void {
      controller?.abort()
    },
    /** Asks again after a failure: drops a cut-off answer and resends the last question. */
    retry(): void {
      if (!state.canSend.value || !error.value) return
      const list = messages.value
      if (list.at(-1)?.role === 'assistant') messages.value = list.slice(0, -1)
      void answer()
    },
    /** Forgets the conversation, here and in storage. */
    reset(): void {
      controller?.abort()
      controller = null
      clearInterval(countdown)
      status.value = 'idle'
      messages.value = []
      error.value = null
      waitSeconds.value = 0
      state.draft.value = ''
      unread.value = false
      save([])
    },
    open: () => setOpen(true),
    close: () => setOpen(false),
    toggle: () => setOpen(!isOpen.value),
    /** Stops everything that could still run: the requests in flight and the countdown. */
    dispose(): void {
      checking.abort()
      controller?.abort()
      controller = null
      clearInterval(countdown)
    },
  }
}

export type Actions = ReturnType<typeof createActions>
