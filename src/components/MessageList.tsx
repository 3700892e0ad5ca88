import { h } from 'preact'
import { useLayoutEffect, useRef, useState } from 'preact/hooks'
import type { Actions } from '../actions.ts'
import type { PanelSettings } from '../panel-config.ts'
import { focusComposer } from './Composer.tsx'
import type { ChatState, Message } from '../state.ts'
import type { Words } from '../words/en.ts'

/** Within this many pixels of the bottom, the list follows new text; further up, the visitor is reading. */
const STICK_PX = 40

/**
 * The conversation, in a polite live region that is busy while an answer streams, so a screen reader
 * announces the answer once it is complete rather than every token.
 */
export function MessageList({ config, state, actions }: { config: PanelSettings; state: ChatState; actions: Actions }) {
  const log = useRef<HTMLDivElement>(null)
  const stick = useRef(true)
  const messages = state.messages.value
  const status = state.status.value

  const follow = () => {
    const el = log.current
    if (el && stick.current) el.scrollTop = el.scrollHeight
  }
  // A question the visitor just sent brings the view back to the bottom.
  useLayoutEffect(() => {
    if (messages.at(-1)?.role === 'user') stick.current = true
    follow()
  }, [messages, status])

  return (
    <div
      ref={log}
      class="log"
      role="log"
      aria-live="polite"
      aria-busy={status !== 'idle'}
      aria-label={config.words.conversation}
      onScroll={() => {
        const el = log.current!
        stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_PX
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
          onGrow={follow}
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

/**
 * One message; reading `content.value` here subscribes this component alone to its stream. Each bubble
 * takes its direction from its own text (dir="auto"): an Arabic question on an English page reads right.
 * An answer reads as plain text, its lines kept, until the markdown renderer has loaded.
 */
function MessageView({
  message,
  complete,
  onGrow,
  words,
  markdown,
}: {
  message: Message
  complete: boolean
  onGrow: () => void
  words: Words
  markdown: ChatState['markdown']
}) {
  const text = message.content.value
  const Markdown = markdown.value
  useLayoutEffect(onGrow)
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

function CopyButton({ text, words }: { text: string; words: Words }) {
  const [copied, setCopied] = useState(false)
  // The Clipboard API exists only on secure pages (https, localhost).
  if (!navigator.clipboard) return null
  return (
    <button
      type="button"
      class="copy"
      onClick={() =>
        navigator.clipboard.writeText(text).then(
          () => setCopied(true),
          () => {},
        )
      }
    >
      {copied ? words.copied : words.copy}
    </button>
  )
}
