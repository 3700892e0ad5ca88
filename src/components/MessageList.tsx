import { Component, createRef, h } from 'preact'
import type { Actions } from '../actions.ts'
import type { PanelSettings } from '../panel-config.ts'
import { focusComposer } from './Composer.tsx'
import type { ChatState, Message } from '../state.ts'
import type { Words } from '../words/en.ts'
import { Watching } from './Watching.ts'

/** Within this many pixels of the bottom, the list follows new text; further up, the visitor is reading. */
const STICK_PX = 40

interface MessageListProps {
  config: PanelSettings
  state: ChatState
  actions: Actions
}

/**
 * The conversation, in a polite live region that is busy while an answer streams, so a screen reader
 * announces the answer once it is complete rather than every token.
 */
export class MessageList extends Watching<MessageListProps> {
  log = createRef<HTMLDivElement>()
  /** Whether the list follows new text: the visitor has not scrolled up from the bottom. */
  stick = true
  /** The messages and status this list last followed, to tell a change of them from any other render. */
  shown: unknown[] = []

  /** Keeps the newest text in view while the visitor is at the bottom. */
  follow = () => {
    const el = this.log.current
    if (el && this.stick) el.scrollTop = el.scrollHeight
  }

  override componentDidMount(): void {
    this.componentDidUpdate()
  }

  override componentDidUpdate(): void {
    const { messages, status } = this.props.state
    const shown = [messages.value, status.value]
    if (shown.every((value, i) => value === this.shown[i])) return
    this.shown = shown
    // A question the visitor just sent brings the view back to the bottom.
    if (messages.value.at(-1)?.role === 'user') this.stick = true
    this.follow()
  }

  view({ config, state, actions }: MessageListProps) {
    const messages = state.messages.value
    const status = state.status.value
    return (
      <div
        ref={this.log}
        class="log"
        role="log"
        aria-live="polite"
        aria-busy={status !== 'idle'}
        aria-label={config.words.conversation}
        onScroll={() => {
          const el = this.log.current!
          this.stick = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_PX
        }}
      >
        <div class="msg welcome" dir="auto">
          {config.words.welcome}
        </div>
        {messages.length === 0 && config.starters.length > 0 && (
          <div>
            {config.starters.map((text) => (
              <button
                type="button"
                class="starter"
                dir="auto"
                onClick={(e) => {
                  focusComposer(e.currentTarget)
                  actions.send(text)
                }}
              >
                {text}
              </button>
            ))}
          </div>
        )}
        {messages.map((m, i) => (
          <MessageView
            key={m.id}
            message={m}
            complete={status === 'idle' || i < messages.length - 1}
            onGrow={this.follow}
            words={config.words}
            markdown={state.markdown}
          />
        ))}
        {status === 'waiting' && (
          <div class="msg typing" aria-hidden="true">
            •••
          </div>
        )}
      </div>
    )
  }
}

interface MessageViewProps {
  message: Message
  complete: boolean
  /** Called after each render: the list follows the growing answer. */
  onGrow: () => void
  words: Words
  markdown: ChatState['markdown']
}

/**
 * One message; reading `content.value` here subscribes this component alone to its stream. Each bubble
 * takes its direction from its own text (dir="auto"): an Arabic question on an English page reads right.
 * An answer reads as plain text, its lines kept, until the markdown renderer has loaded.
 */
class MessageView extends Watching<MessageViewProps> {
  override componentDidMount(): void {
    this.props.onGrow()
  }

  override componentDidUpdate(): void {
    this.props.onGrow()
  }

  view({ message, complete, words, markdown }: MessageViewProps) {
    const text = message.content.value
    const Markdown = markdown.value
    if (message.role === 'user') {
      return (
        <div class="msg me" dir="auto">
          {text}
        </div>
      )
    }
    return (
      <div class="answer">
        <div class={Markdown ? 'msg' : 'msg plain'} dir="auto">
          {Markdown ? <Markdown text={text} /> : text}
        </div>
        {complete && <CopyButton text={text} words={words} />}
      </div>
    )
  }
}

class CopyButton extends Component<{ text: string; words: Words }, { copied?: boolean }> {
  override render({ text, words }: { text: string; words: Words }) {
    // The Clipboard API exists only on secure pages (https, localhost).
    if (!navigator.clipboard) return null
    return (
      <button
        type="button"
        class="copy"
        onClick={() =>
          navigator.clipboard.writeText(text).then(
            () => this.setState({ copied: true }),
            () => {},
          )
        }
      >
        {this.state.copied ? words.copied : words.copy}
      </button>
    )
  }
}
