import { effect } from '@preact/signals'
import { h, render } from 'preact'
import { createActions } from './actions.ts'
import { streamChat } from './api.ts'
import { App } from './components/App.tsx'
import { toPanelConfig } from './panel-config.ts'
import type { Panel, PanelHost } from './panel-host.ts'
import { createChatState } from './state.ts'
import { createConversationStore } from './storage.ts'
import styles from './styles.css?inline'


/**
 * Mounts the panel into the loader's shadow root: state, actions, storage and DOM wired together.
 * Returns the calls behind `window.Assisters`.
 */
export function mountPanel(host: PanelHost): Panel {
  const { emit, shadow, root, button } = host
  const config = toPanelConfig(host.config, host.checkOptions, (message) => console.warn(`[Assisters] ${message}`))
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

  // Added to the loader's constructed stylesheet: no <style> element, so a strict CSP allows it.
  const sheet = new CSSStyleSheet()
  sheet.replaceSync(styles)
  shadow.adoptedStyleSheets = [...shadow.adoptedStyleSheets, sheet]
  const stopShowing = effect(() => {
    const open = state.isOpen.value
    const unread = state.unread.value
    host.show(open, unread, open ? 'Close chat' : unread ? 'Open chat (new answer)' : 'Open chat')
  })
  // Escape closes from anywhere in the widget, the launcher included.
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape' && state.isOpen.value) {
      e.stopPropagation()
      actions.close()
    }
  }
  root.addEventListener('keydown', onKeyDown)
  const slot = root.appendChild(document.createElement('div'))
  slot.className = 'slot'
  render(h(App, { config, state, actions, launcher: button }), slot)

  return {
    ...actions,
    send: (text: string): boolean => (actions.open(), actions.send(text)),
    destroy(): void {
      actions.dispose()
      stopShowing()
      root.removeEventListener('keydown', onKeyDown)
      render(null, slot)
      slot.remove()
      shadow.adoptedStyleSheets = shadow.adoptedStyleSheets.filter((s) => s !== sheet)
    },
  }
}
