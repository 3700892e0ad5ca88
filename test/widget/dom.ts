import { afterAll, afterEach, beforeAll, beforeEach, vi } from 'vitest'
import { createAssisters, type AssistersApi } from '../../src/assisters.ts'
import type { WidgetOptions } from '../../src/config.ts'
import { HOST_TAG } from '../../src/launcher.ts'
import { createMarkdown } from '../../src/markdown.ts'
import { type Answers, createMountPanel } from '../../src/mount.ts'
import { createStreamChat } from '../../src/stream.ts'
import { API, KEY, server } from './api-mock.ts'

/** Widgets started by the current test, destroyed after it. */
const running: AssistersApi[] = []

/** Registers what every widget test file needs: msw as the server, and a clean page and storage per test. */
export function setUpWidgetTests() {
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
  beforeEach(() => {
    localStorage.clear()
    panelLoads.count = 0
  })
  afterEach(() => {
    for (const assisters of running.splice(0)) assisters.destroy()
    window.Assisters?.destroy()
    delete window.Assisters
    document.body.innerHTML = ''
    // The widget's element sits after <body>: one a test left mounted goes too.
    for (const host of document.querySelectorAll(HOST_TAG)) host.remove()
    server.resetHandlers()
    server.events.removeAllListeners()
    vi.useRealTimers()
    vi.restoreAllMocks()
    vi.unstubAllGlobals()
  })
  afterAll(() => server.close())
}

/**
 * The panel as the loader gets it, minus the network: the panel file's own loading (script element,
 * integrity) runs in the browser suite. Each call counts, so tests can see when the panel was asked for.
 */
export const panelLoads = { count: 0 }
/** Each language's table read from the source instead of fetched. */
export const loadWordsHere = async (language: string) => (await import(`../../src/words/${language}.json`)).default
/** What the answers' file hands the panel, from the source. */
export const answersHere: Answers = { createMarkdown, createStreamChat }
/** The panel's mount function, with the language tables and the answers' file from the source instead of their files. */
export const mountPanel = createMountPanel(loadWordsHere, async () => answersHere)
export const loadPanelHere = async () => (panelLoads.count++, mountPanel)

/** Mounts a widget through the public API, as a page would, and gives the test eyes and hands inside its shadow root. */
export function startWidget(options: WidgetOptions = {}) {
  const assisters = createAssisters(API, loadPanelHere)
  running.push(assisters)
  assisters.init({ key: KEY, ...options })
  return { assisters, ...view() }
}

/** Queries and gestures against the widget currently in the page. */
export function view() {
  const host = () => document.querySelector(HOST_TAG)
  const root = () => host()!.shadowRoot!
  const $ = <E extends Element = HTMLElement>(selector: string) => root().querySelector<E>(selector)
  const $$ = (selector: string) => [...root().querySelectorAll<HTMLElement>(selector)]
  const button = (name: string | RegExp) => {
    const found = $$('button').find((b) => (b.getAttribute('aria-label') ?? b.textContent ?? '').match(name))
    if (!found) throw new Error(`no button named ${name}`)
    return found
  }
  return {
    host,
    root,
    $,
    $$,
    button,
    launcher: () => $<HTMLButtonElement>('.launcher')!,
    dialog: () => $('[role="dialog"]'),
    textarea: () => $<HTMLTextAreaElement>('textarea')!,
    log: () => $('[role="log"]')!,
    bubbles: () => $$('.msg:not(.welcome):not(.typing)').map((el) => el.textContent),
    errorText: () => $('[role="alert"]')?.textContent ?? null,
    /** The widget's stylesheets (adopted by its shadow root: no <style> element), as CSS text. */
    css: () =>
      root()
        .adoptedStyleSheets.flatMap((sheet: CSSStyleSheet) => [...sheet.cssRules].map((rule) => rule.cssText))
        .join('\n'),
    /** Types into the composer as a visitor would (value + input event). */
    type(text: string) {
      const box = $<HTMLTextAreaElement>('textarea')!
      box.value = text
      box.dispatchEvent(new Event('input', { bubbles: true }))
    },
    press(target: Element, key: string, init: KeyboardEventInit = {}) {
      const event = new KeyboardEvent('keydown', { key, bubbles: true, composed: true, cancelable: true, ...init })
      target.dispatchEvent(event)
      return event
    },
  }
}

/** Waits until the DOM shows what `check` asserts (signals re-render on a microtask or a frame). */
export const until = (check: () => void) => vi.waitFor(check, { timeout: 3000, interval: 5 })

/** Lets pending renders and effects run. */
export const settle = () => new Promise((resolve) => setTimeout(resolve, 30))
