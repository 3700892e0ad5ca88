import { Component, createRef, h } from 'preact'
import type { Actions } from '../actions.ts'
import type { PanelSettings } from '../panel-config.ts'
import type { ChatState } from '../state.ts'
import type { WidgetError } from '../errors.ts'
import { Composer, focusComposer } from './Composer.tsx'
import { Icon, icons } from './Icon.tsx'
import { MessageList } from './MessageList.tsx'
import { Watching } from './Watching.ts'

interface PanelProps {
  config: PanelSettings
  state: ChatState
  actions: Actions
  autoFocus: boolean
  /** Called when the panel goes away while it held the focus, to hand the focus back. */
  onLeave: () => void
}

/** The chat dialog: header, conversation, error bar and composer. Exists only while open. */
export class Panel extends Component<PanelProps> {
  panel = createRef<HTMLDivElement>()
  // On phones the panel fills the visual viewport, so an on-screen keyboard never covers the composer.
  viewport = window.visualViewport
  fitToViewport = () => (this.panel.current!.style.cssText = `--vh:${this.viewport!.height}px;--vt:${this.viewport!.offsetTop}px`)

  override componentDidMount(): void {
    if (this.viewport) this.fitToViewport()
    for (const type of ['resize', 'scroll']) this.viewport?.addEventListener(type, this.fitToViewport)
  }

  override componentWillUnmount(): void {
    for (const type of ['resize', 'scroll']) this.viewport?.removeEventListener(type, this.fitToViewport)
    const el = this.panel.current!
    if (el.contains((el.getRootNode() as ShadowRoot).activeElement)) this.props.onLeave()
  }

  override render({ config, state, actions, autoFocus }: PanelProps) {
    return (
      <div
        ref={this.panel}
        class="panel"
        role="dialog"
        aria-modal="false"
        aria-labelledby="assisters-title"
        lang={config.language}
        dir={config.words.dir}
      >
        <header>
          {/* The owner's words may be in another language than the panel's: they take their direction from their text. */}
          <div id="assisters-title" class="title" dir="auto">
            {config.words.title}
          </div>
          <button type="button" class="icon" aria-label={config.words.newConversation} onClick={actions.reset}>
            <Icon d={icons.restart} />
          </button>
          <button type="button" class="icon" aria-label={config.words.closeChat} onClick={actions.close}>
            <Icon d={icons.close} />
          </button>
        </header>
        <MessageList config={config} state={state} actions={actions} />
        <ErrorBar state={state} actions={actions} config={config} />
        <Composer config={config} state={state} actions={actions} autoFocus={autoFocus} />
      </div>
    )
  }
}

/**
 * The local time a daily limit resets at (00:00 UTC), by the visitor's clock: in their regional format
 * when it is a variant of the panel's language (en-GB 01:00, en-US 1:00 AM), else the language's own.
 */
const resetTime = ({ at, retryAfter }: WidgetError, language: string) =>
  new Date(at + retryAfter * 1000).toLocaleTimeString(navigator.language.startsWith(`${language}-`) ? navigator.language : language, {
    timeStyle: 'short',
  })

/**
 * The last failure in the visitor's words, with the wait after a 429 (or, for a daily limit, hours
 * away, the time it resets), then a retry where one can help.
 */
class ErrorBar extends Watching<{ state: ChatState; actions: Actions; config: PanelSettings }> {
  view({ state, actions, config: { words, language } }: { state: ChatState; actions: Actions; config: PanelSettings }) {
    const error = state.error.value
    const wait = state.waitSeconds.value
    if (!error) return null
    return (
      <div class="error" role="alert">
        <p>
          {words[error.code]} {/* The ticking number is hidden from screen readers, which would otherwise read it every second. */}
          {wait > 0 && <span aria-hidden="true">{words.wait.replace('{n}', String(wait))}</span>}
          {/* Only a daily limit is final with a wait, and only when the server said how long. */}
          {!error.canRetry && error.retryAfter > 0 && words.until.replace('{t}', resetTime(error, language))}
        </p>
        {error.canRetry && wait === 0 && (
          <button
            type="button"
            class="retry"
            onClick={(e) => {
              focusComposer(e.currentTarget)
              actions.retry()
            }}
          >
            {words.retry}
          </button>
        )}
      </div>
    )
  }
}
