import { createRef, h } from 'preact'
import type { Actions } from '../actions.ts'
import type { PanelSettings } from '../panel-config.ts'
import type { ChatState } from '../state.ts'
import { Icon, icons } from './Icon.tsx'
import { Watching } from './Watching.ts'

/** Moves the focus to the composer of the widget that `from` is in (after a button that goes away). */
export const focusComposer = (from: Element) => (from.getRootNode() as ShadowRoot).querySelector('textarea')?.focus()

/** Longest message a visitor can type; the server refuses far longer ones anyway. */
const MAX_CHARS = 4000

interface ComposerProps {
  config: PanelSettings
  state: ChatState
  actions: Actions
  autoFocus: boolean
}

/** The message box: Enter sends, Shift+Enter adds a line, it grows with its text; Stop while answering. */
export class Composer extends Watching<ComposerProps> {
  input = createRef<HTMLTextAreaElement>()
  button = createRef<HTMLButtonElement>()
  /** The text the box was last sized for. */
  sizedFor?: string

  override componentDidMount(): void {
    if (this.props.autoFocus) this.input.current!.focus()
    this.grow()
  }

  /** Whether Send (or Stop: the same element) had the focus before this render. */
  override getSnapshotBeforeUpdate(): boolean {
    const button = this.button.current!
    return button === (button.getRootNode() as ShadowRoot).activeElement
  }

  override componentDidUpdate(_props: ComposerProps, _state: object, hadFocus: boolean): void {
    this.grow()
    // Stop turns into Send, disabled while the box is empty, when an answer ends or is stopped: a focused
    // button that goes dead would drop the focus to the page, so the box takes it.
    if (hadFocus && this.button.current!.disabled) this.input.current!.focus()
  }

  /** Grows with the text (up to the CSS max-height, then scrolls). */
  grow(): void {
    const el = this.input.current!
    if (el.value === this.sizedFor) return
    this.sizedFor = el.value
    el.style.height = 'auto'
    el.style.height = `${el.scrollHeight + 2}px`
  }

  view({ config, state, actions }: ComposerProps) {
    const draft = state.draft.value
    const busy = state.status.value !== 'idle'
    return (
      <form
        onSubmit={(e) => {
          e.preventDefault()
          actions.submit()
        }}
      >
        <textarea
          ref={this.input}
          rows={1}
          aria-label={config.words.message}
          placeholder={config.words.placeholder}
          maxLength={MAX_CHARS}
          value={draft}
          onInput={(e) => actions.setDraft(e.currentTarget.value)}
          onKeyDown={(e) => {
            // The Enter that confirms an IME candidate (Japanese, Chinese…) must not send; Safari marks it
            // only with keyCode 229, having ended the composition just before.
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
              e.preventDefault()
              actions.submit()
            }
          }}
        />
        {busy ? (
          <button ref={this.button} type="button" class="send" aria-label={config.words.stop} onClick={actions.stop}>
            <Icon d={icons.stop} />
          </button>
        ) : (
          <button
            ref={this.button}
            type="submit"
            class="send"
            aria-label={config.words.send}
            disabled={!state.canSend.value || !draft.trim()}
          >
            <Icon d={icons.send} />
          </button>
        )}
      </form>
    )
  }
}
