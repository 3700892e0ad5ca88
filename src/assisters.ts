import { toWidgetConfig, type WidgetOptions } from './config.ts'
import { createEmitter } from './events.ts'
import { createWidget, type Widget } from './widget.ts'

/** `window.Assisters`: the page's handle on the widget. `defaultApi` is the origin the script came from. */
export function createAssisters(defaultApi?: string) {
  const { on, emit } = createEmitter()
  let widget: Widget | null = null

  // Calls that come before init() (or after destroy()) are reported, not thrown: the page keeps working.
  const call = (name: 'open' | 'close' | 'toggle' | 'reset' | 'send', text = '') =>
    widget ? widget[name](text) : console.warn('[Assisters] call init() first')

  return {
    /** Mounts the widget; throws ConfigError for a missing or malformed key, and warns of any other bad option. */
    init(options: WidgetOptions): void {
      if (widget) {
        console.warn('[Assisters] already running; destroy() first')
        return
      }
      widget = createWidget(toWidgetConfig(options, defaultApi, (message) => console.warn(`[Assisters] ${message}`)), emit)
    },
    open: () => void call('open'),
    close: () => void call('close'),
    toggle: () => void call('toggle'),
    /** Sends `text` as the visitor, opening the chat; false when it cannot be sent now. */
    send: (text: string): boolean => call('send', text) === true,
    reset: () => void call('reset'),
    /** Removes the widget and everything it started; `init()` may mount it again. */
    destroy(): void {
      widget?.destroy()
      widget = null
    },
    on,
  }
}

export type AssistersApi = ReturnType<typeof createAssisters>
