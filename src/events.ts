import type { ChatTurn } from './api.ts'
import type { ErrorCode } from './errors.ts'

/** What `Assisters.on(event, fn)` hands to listeners. */
export interface WidgetEvents {
  open: undefined
  close: undefined
  message: ChatTurn
  error: { code: ErrorCode; message: string; detail: string; status: number }
}

export type EventName = keyof WidgetEvents
export type Listener<E extends EventName> = (payload: WidgetEvents[E]) => void
export type Emit = <E extends EventName>(event: E, payload: WidgetEvents[E]) => void

/** A tiny typed emitter; a listener that throws is reported, never breaks the widget or other listeners. */
export function createEmitter() {
  const listeners: Record<string, Listener<any>[]> = { open: [], close: [], message: [], error: [] }
  return {
    on<E extends EventName>(event: E, fn: Listener<E>): () => void {
      if (!Object.hasOwn(listeners, event) || typeof fn !== 'function') {
        throw new TypeError(`Assisters.on(event, fn): event is one of ${Object.keys(listeners).join(', ')}`)
      }
      listeners[event]!.push(fn)
      return () => void (listeners[event] = listeners[event]!.filter((f) => f !== fn))
    },
    emit: ((event, payload) => {
      for (const fn of listeners[event]!) {
        try {
          fn(payload)
        } catch (err) {
          console.error(`[Assisters] a "${event}" listener threw:`, err)
        }
      }
    }) as Emit,
  }
}
