import { toWidgetConfig, type WidgetOptions } from './config.ts'
import { createEmitter } from './events.ts'
import { createWidget, type Widget } from './widget.ts'

/** `window.Assisters`: the page's handle on the widget. `defaultApi` is the origin the script came from. */
export function createAssisters(defaultApi?: string) {
  const { on, emit } = createEmitter()
  let widget: Widget | null = null

  const current = (): Widget | null => {
    if (!widget) console.warn('[Assisters] call init() first')
    return widget
  }

  return {
    /** Mounts the widget; throws ConfigError naming the first bad option. */
    init(options: WidgetOptions): void {
      if (widget) {
        console.warn('[Assisters] already running; destroy() first')
        return
      }
      widget = createWidget(toWidgetConfig(options, defaultApi), emit)
    },
    open: () => current()?.open(),
    close: () => current()?.close(),
    toggle: () => current()?.toggle(),
    send: (text: string): boolean => !!current()?.send(text),
    reset: () => current()?.reset(),
    /** Removes the widget and everything it started; `init()` may mount it again. */
    destroy(): void {
      widget?.destroy()
      widget = null
    },
    on,
  }
}

export type AssistersApi = ReturnType<typeof createAssisters>
