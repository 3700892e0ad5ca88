import { effect } from '@preact/signals-core'
import { h, render } from 'preact'
import { createActions } from './actions.ts'
import { focusRingRules } from './focus-ring.ts'
import { checkKey } from './api.ts'
import { App } from './components/App.tsx'
import { pickLanguage, type LoadWords } from './language.ts'
import { WidgetError } from './errors.ts'
import type { createMarkdown } from './markdown.ts'
import { toPanelConfig, type PanelSettings } from './panel-config.ts'
import type { MountPanel, Panel, PanelHost } from './panel-host.ts'
import { createChatState } from './state.ts'
import { createConversationStore } from './storage.ts'
import type { createStreamChat } from './stream.ts'
import styles from './styles.css?inline'
import { en, type Words } from './words/en.ts'

/** What the answers' file hands over (src/answers-file.ts): the makers of the markdown renderer and of the stream reader. */
export interface Answers {
  createMarkdown: typeof createMarkdown
  createStreamChat: typeof createStreamChat
}

/** Loads the answers' file. */
export type LoadAnswers = () => Promise<Answers>

/**
 * The panel's mount function, with the ways it gets a language's words and the answers' file: it
 * settles the language (the owner's `lang`, the page's `<html lang>`, the browser's, English), fetches
 * that table, then mounts into the loader's shadow root: state, actions, storage and DOM wired
 * together. Words that cannot be fetched cost only the language: the panel speaks English.
 */
export function createMountPanel(loadWords: LoadWords, loadAnswers: LoadAnswers): MountPanel {
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
    return mountPanel(host, { ...config, language: table === en ? 'en' : language, words: { ...table, ...own } }, loadAnswers, warn)
  }
}

function mountPanel(host: PanelHost, config: PanelSettings, loadAnswers: LoadAnswers, warn: (message: string) => void): Panel {
  const { emit, shadow, root, button } = host
  const { words } = config
  const store = createConversationStore(config.api, config.key)
  const state = createChatState()
  // The answers' file: asked for as soon as the panel is there, before anyone reads an answer or asks,
  // and after a failure again at the next opening or question. Answers read as plain text until it is here.
  let answers: Promise<Answers> | undefined
  const loadOnce = () =>
    (answers ??= loadAnswers().then(
      (loaded) => ((state.markdown.value = loaded.createMarkdown(h)), loaded),
      (err: Error) => {
        answers = undefined
        warn(`answers show as plain text until the answers' file loads (${err.message})`)
        throw err
      },
    ))
  const actions = createActions(state, {
    async *stream(messages, signal) {
      let streamChat: ReturnType<typeof createStreamChat>
      try {
        streamChat = (await loadOnce()).createStreamChat(WidgetError)
      } catch (err) {
        // To the visitor, a file that cannot load is a connection that failed: "Try again" asks for it again.
        throw new WidgetError('network_error', String(err))
      }
      yield* streamChat(config.api, config.key, messages, signal)
    },
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
  // Escape closes from anywhere in the widget, the launcher included; not the one that cancels an IME
  // composition. No key pressed in the widget leaves it: the shadow root shows the page the widget's
  // element as the target, not the composer, so the page's shortcuts ("/" for its search) would take
  // what the visitor types for keys pressed on the page.
  const onKeyDown = (e: KeyboardEvent) => {
    e.stopPropagation()
    if (e.key === 'Escape' && !e.isComposing && state.isOpen.value) actions.close()
  }
  root.addEventListener('keydown', onKeyDown)
  // data-theme: the palette the owner fixed, over the visitor's colour scheme (styles.css).
  if (config.theme) root.classList.add(config.theme)
  const slot = root.appendChild(document.createElement('div'))
  slot.className = 'slot'
  render(h(App, { config, state, actions, launcher: button }), slot)
  // The answers' file now, once the panel is rendered, and at each opening (a no-op once it is here).
  const fetchAnswers = () => void loadOnce().catch(() => {})
  fetchAnswers()
  const stopFetching = effect(() => void (state.isOpen.value && fetchAnswers()))

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
