import { h } from 'preact'
import { useLayoutEffect, useRef } from 'preact/hooks'
import type { Actions } from '../actions.ts'
import type { PanelSettings } from '../panel-config.ts'
import type { ChatState } from '../state.ts'
import type { Words } from '../words/en.ts'
import { Composer, focusComposer } from './Composer.tsx'
import { Icon, icons } from './Icon.tsx'
import { MessageList } from './MessageList.tsx'

interface PanelProps {
  config: PanelSettings
  state: ChatState
  actions: Actions
  autoFocus: boolean
  /** Called when the panel goes away while it held the focus, to hand the focus back. */
  onLeave: () => void
}

/** The chat dialog: header, conversation, error bar and composer. Exists only while open. */
export function Panel({ config, state, actions, autoFocus, onLeave }: PanelProps) {
  const panel = useRef<HTMLDivElement>(null)

  useLayoutEffect(() => {
    const el = panel.current!
    // On phones the panel fills the visual viewport, so an on-screen keyboard never covers the composer.
    const viewport = window.visualViewport
    const fitToViewport = () => (el.style.cssText = `--vh:${viewport!.height}px;--vt:${viewport!.offsetTop}px`)
    if (viewport) fitToViewport()
    for (const type of ['resize', 'scroll']) viewport?.addEventListener(type, fitToViewport)
    return () => {
      for (const type of ['resize', 'scroll']) viewport?.removeEventListener(type, fitToViewport)
      if (el.contains((el.getRootNode() as ShadowRoot).activeElement)) onLeave()
    }
  }, [])

  return (
    <div
      ref={panel}
      class="panel"
      role="dialog"
      aria-modal="false"
      aria-labelledby="assisters-title"
      lang={config.language}
      dir={config.words.dir}
    >
      <header>
        <div id="assisters-title" class="title">
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
      <ErrorBar state={state} actions={actions} words={config.words} />
      <Composer config={config} state={state} actions={actions} autoFocus={autoFocus} />
    </div>
  )
}

/** The last failure in the visitor's words, with the wait after a 429, then a retry where one can help. */
function ErrorBar({ state, actions, words }: { state: ChatState; actions: Actions; words: Words }) {
  const error = state.error.value
  const wait = state.waitSeconds.value
  if (!error) return null
  return (
    <div class="error" role="alert">
      <p>
        {words[error.code]} {/* The ticking number is hidden from screen readers, which would otherwise read it every second. */}
        {wait > 0 && <span aria-hidden="true">{words.wait.replace('{n}', String(wait))}</span>}
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
