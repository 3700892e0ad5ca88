import { createActions } from './actions.ts'
import { streamChat } from './api.ts'
import type { WidgetConfig } from './config.ts'
import type { Emit } from './events.ts'
import { mount } from './mount.ts'
import { createChatState } from './state.ts'
import { createConversationStore } from './storage.ts'

/** One mounted widget: state, actions, storage and DOM wired together. */
export function createWidget(config: WidgetConfig, emit: Emit) {
  const store = createConversationStore(config.api, config.key)
  const state = createChatState()
  const actions = createActions(state, {
    stream: (messages, signal) => streamChat(config.api, config.key, messages, signal),
    save: store.save,
    load: store.load,
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
