import { checkOptions } from './check-options.ts'
import type { WidgetConfig } from './config.ts'
import type { Emit } from './events.ts'
import { createLauncher } from './launcher.ts'
import type { MountPanel, Panel } from './panel-host.ts'
import { UNREAD_FLAG } from './storage.ts'

/** The calls a page can make before the panel is there; they wait, in order, for it. */
export type Call = 'open' | 'close' | 'toggle' | 'send' | 'reset'

/** What the launcher says, beside it, when the panel could not load; the next click (or hover) tries again. */
const LOAD_FAILED = "The chat couldn't load. Try again."

/**
 * One mounted widget as the loader sees it: the launcher at once, the panel on the first sign of
 * intent (pointer over, focus, touch, click, open(), send(), data-open, a stored unread answer). Calls
 * made before the panel arrives are queued and honoured in order once it runs.
 */
export function createWidget(config: WidgetConfig, emit: Emit, loadPanel: () => Promise<MountPanel>) {
  const launcher = createLauncher(config)
  const queue: [Call, string][] = []
  let panel: Panel | undefined
  let loading: Promise<void> | undefined
  let destroyed = false
  /** A queued question the panel will be busy answering (so, as the panel would, a second one is refused). */
  let asking = false

  function load(): void {
    if (panel || loading) return
    loading = loadPanel()
      // Mounting waits for the visitor's words, which may take a request of their own; a panel that
      // fails to mount counts as one that failed to load.
      .then((mountPanel) => (destroyed ? undefined : mountPanel({ config, emit, checkOptions, ...launcher })))
      .then(
        (mounted) => {
          if (!mounted) return
          // destroy() while the panel fetched its words: take it out again at once.
          if (destroyed) return mounted.destroy()
          panel = mounted
          launcher.say('')
          for (const [name, text] of queue.splice(0)) panel[name](text)
        },
        (err: Error) => {
          loading = undefined
          if (destroyed) return
          // What was asked while it failed is dropped: replayed after a later click, it would surprise.
          queue.length = 0
          asking = false
          launcher.say(LOAD_FAILED)
          console.warn('[Assisters] the chat panel could not load:', err)
        },
      )
  }

  /** Runs one of the page's calls now, or once the panel is there; `send` answers whether it will go. */
  function call(name: Call, text = ''): boolean | void {
    if (panel) return panel[name](text)
    if (name === 'send') {
      if (asking || !String(text ?? '').trim()) return false
      asking = true
    }
    if (name === 'reset') asking = false
    queue.push([name, text])
    // Closing a chat that never opened needs no panel.
    if (name !== 'close') load()
    return name === 'send'
  }

  // Pointer over, focus or touch: the visitor may be about to open it, so fetch it now. After a failure
  // each of them, and the click, tries again.
  for (const type of ['pointerenter', 'focus', 'touchstart']) launcher.button.addEventListener(type, load, { passive: true })
  launcher.button.addEventListener('click', () => void call(panel ? 'toggle' : 'open'))
  // data-open: the panel opens itself on mounting, without taking the page's focus.
  if (config.open) load()
  // A stored unread answer is a sign of intent too (the panel shows its dot). Read once the page is
  // idle, so the page's own loading never waits for storage; Safari has no requestIdleCallback.
  const whenIdle = window.requestIdleCallback ?? setTimeout
  whenIdle(() => {
    try {
      if (!destroyed && localStorage[UNREAD_FLAG]) load()
    } catch {}
  })

  return {
    call,
    destroy(): void {
      destroyed = true
      panel?.destroy()
      launcher.remove()
    },
  }
}

export type Widget = ReturnType<typeof createWidget>
