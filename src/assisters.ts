import { toWidgetConfig, type WidgetConfig, type WidgetOptions } from './config.ts'
import { createEmitter } from './events.ts'
import type { MountPanel } from './panel-host.ts'
import { createWidget, type Call, type Widget } from './widget.ts'

/**
 * `window.Assisters`: the page's handle on the widget, whole from the start. `defaultApi` is the origin
 * the script came from; `loadPanel` fetches the panel for a configuration (once, or again after a failure).
 */
export function createAssisters(defaultApi: string | undefined, loadPanel: (config: WidgetConfig) => Promise<MountPanel>) {
  const { on, emit } = createEmitter()
  let widget: Widget | null = null

  // Calls that come before init() (or after destroy()) are reported, not thrown: the page keeps working.
  const call = (name: Call, text = '') => (widget ? widget.call(name, text) : console.warn('[Assisters] call init() first'))

  return {
    /** Mounts the widget; throws ConfigError for a missing or malformed key, and warns of any other bad option. */
    init(options: WidgetOptions): void {
      if (widget) {
        console.warn('[Assisters] already running; destroy() first')
        return
      }
      const config = toWidgetConfig(options, defaultApi, (message) => console.warn(`[Assisters] ${message}`))
      widget = createWidget(config, emit, () => loadPanel(config))
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
