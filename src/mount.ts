import { effect } from '@preact/signals'
import { h, render } from 'preact'
import { createActions } from './actions.ts'
import { focusRingRules } from './focus-ring.ts'
import { checkKey, streamChat } from './api.ts'
import { App } from './components/App.tsx'
import { pickLanguage, type LoadWords } from './language.ts'
import type { createMarkdown } from './markdown.ts'
import { toPanelConfig, type PanelSettings } from './panel-config.ts'
import type { MountPanel, Panel, PanelHost } from './panel-host.ts'
import { createChatState } from './state.ts'
import { createConversationStore } from './storage.ts'
import styles from './styles.css?inline'
import { en, type Words } from './words/en.ts'

/** Loads the markdown renderer's factory (src/markdown-file.ts). */
export type LoadMarkdown = () => Promise<typeof createMarkdown>

/**
 * The panel's mount function, with the ways it gets a language's words and the markdown renderer: it
 * settles the language (the owner's `lang`, the page's `<html lang>`, the browser's, English), fetches
 * that table, then mounts into the loader's shadow root: state, actions, storage and DOM wired
 * together. Words that cannot be fetched cost only the language: the panel speaks English.
 */
export function createMountPanel(loadWords: LoadWords, loadMarkdown: LoadMarkdown): MountPanel {
  return async (host) => {
    const warn = (message: string) => console.warn(`[Assisters] ${message}`)
    const { words: own, ...config } = toPanelConfig(host.config, host.checkOptions, warn)
    const language = pickLanguage([config.lang, document.documentElement.lang, navigator.language])
    let table: Words = en
    if (language !== 'en') {
      table = await loadWords(language).catch((err: Error) => {
        warn(`the ${language} words could not load (${err.message}); speaking English`)
        return en
      })
    }
    return mountPanel(host, { ...config, language: table === en ? 'en' : language, words: { ...table, ...own } }, loadMarkdown, warn)
  }
}

function mountPanel(host: PanelHost, config: PanelSettings, loadMarkdown: LoadMarkdown, warn: (message: string) => void): Panel {
  const { emit, shadow, root, button } = host
  const { words } = config
  const store = createConversationStore(config.api, config.key)
  const state = createChatState()
  const actions = createActions(state, {
    stream: (messages, signal) => streamChat(config.api, config.key, messages, signal),
    save: store.save,
    load: store.load,
    check: (signal) => checkKey(config.api, config.key, signal),
    emit,
    say: (code) => words[code],
  })
  // An answer that landed while the panel was closed, on this page or an earlier one: the launcher's
  // dot, kept in the flag the loader reads when the page is idle.
  state.unread.value = store.unread()
  const stopFlagging = effect(() => store.markUnread(state.unread.value))
  // Opened before the first render, so the panel is there at once and the composer does not take the focus.
  if (config.open) actions.open()

  // Added to the loader's constructed stylesheet: no <style> element, so a strict CSP allows it.
  const sheet = new CSSStyleSheet()
  sheet.replaceSync(styles + focusRingRules(config.color))
  shadow.adoptedStyleSheets = [...shadow.adoptedStyleSheets, sheet]
  const stopShowing = effect(() => {
    const open = state.isOpen.value
    const unread = state.unread.value
    host.show(open, unread, open ? words.closeChat : unread ? words.openChatUnread : words.openChat)
  })
  // Escape closes from anywhere in the widget, the launcher included.
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape' && state.isOpen.value) {
      e.stopPropagation()
      actions.close()
    }
  }
  root.addEventListener('keydown', onKeyDown)
  // data-theme: the palette the owner fixed, over the visitor's colour scheme (styles.css).
  if (config.theme) root.classList.add(config.theme)
  const slot = root.appendChild(document.createElement('div'))
  slot.className = 'slot'
  render(h(App, { config, state, actions, launcher: button }), slot)
  // The markdown renderer, fetched as soon as the panel is there, before anyone reads an answer. One that
  // cannot load leaves answers as plain text, and is asked for again at the next opening.
  let fetching = false
  const fetchMarkdown = () => {
    if (fetching) return
    fetching = true
    loadMarkdown().then(
      (create) => void (state.markdown.value = create(h)),
      (err: Error) => {
        fetching = false
        warn(`answers show as plain text until the markdown renderer loads (${err.message})`)
      },
    )
  }
  fetchMarkdown()
  const stopFetching = effect(() => void (state.isOpen.value && fetchMarkdown()))

  return {
    ...actions,
    send: (text: string): boolean => (actions.open(), actions.send(text)),
    destroy(): void {
      actions.dispose()
      stopShowing()
      stopFlagging()
      stopFetching()
      root.removeEventListener('keydown', onKeyDown)
      if (config.theme) root.classList.remove(config.theme)
      render(null, slot)
      slot.remove()
      shadow.adoptedStyleSheets = shadow.adoptedStyleSheets.filter((s) => s !== sheet)
    },
  }
}
