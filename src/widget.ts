import { effect } from '@preact/signals'
import { createActions } from './actions.ts'
import { streamChat } from './api.ts'
import type { WidgetConfig } from './config.ts'
import type { Emit } from './events.ts'
import { mount } from './mount.ts'
import { createChatState, toMessage } from './state.ts'
import { createConversationStore } from './storage.ts'

/** One mounted widget: state, actions, storage and DOM wired together. */
export function createWidget(config: WidgetConfig, emit: Emit) {
  const store = createConversationStore(config.api, config.key)
  const state = createChatState()
  // The stored conversation is read when the chat first opens: a page load where nobody opens it never
  // pays for the browser's first localStorage access (a few ms of main-thread time in Chromium).
  let restored = false
  effect(() => {
    if (restored || !state.isOpen.value) return
    restored = true
    state.messages.value = store.load().map(toMessage)
  })
  const actions = createActions(state, {
    stream: (messages, signal) => streamChat(config.api, config.key, messages, signal),
    save: store.save,
    emit,
  })
  // Opened before the first render, so the panel is there at once and the composer does not take the focus.
  if (config.open) actions.open()
  const unmount = mount(config, state, actions)
  return {
    ...actions,
    /** Opens the chat and sends `text` as the visitor; false when it cannot be sent now. */
    send: (text: string): boolean => (actions.open(), actions.send(text)),
    destroy(): void {
      actions.dispose()
      unmount()
    },
  }
}

export type Widget = ReturnType<typeof createWidget>
