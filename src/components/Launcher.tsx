import { h, type Ref } from 'preact'
import type { Actions } from '../actions.ts'
import type { ChatState } from '../state.ts'
import { Icon, icons } from './Icon.tsx'

/** The round button in the corner: the only thing in the page until the visitor opens the chat; a dot marks unread answers. */
export function Launcher({ state, actions, buttonRef }: { state: ChatState; actions: Actions; buttonRef: Ref<HTMLButtonElement> }) {
  const open = state.isOpen.value
  const unread = state.unread.value
  const label = open ? 'Close chat' : unread ? 'Open chat (new answer)' : 'Open chat'
  return (
    <button
      type="button"
      ref={buttonRef}
      class="launcher"
      aria-label={label}
      aria-haspopup="dialog"
      aria-expanded={open}
      onClick={actions.toggle}
    >
      <Icon d={open ? icons.close : icons.chat} />
      {unread && <i class="badge" />}
    </button>
  )
}
