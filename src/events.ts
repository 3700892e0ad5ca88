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

const EVENT_NAMES: EventName[] = ['open', 'close', 'message', 'error']

/** A tiny typed emitter; a listener that throws is reported, never breaks the widget or other listeners. */
export function createEmitter() {
  const listeners = new Map<EventName, Set<Listener<any>>>(EVENT_NAMES.map((name) => [name, new Set()]))
  return {
    on<E extends EventName>(event: E, fn: Listener<E>): () => void {
      const set = listeners.get(event)
      if (!set || typeof fn !== 'function') throw new TypeError(`Assisters.on(event, fn): event is one of ${EVENT_NAMES.join(', ')}`)
      set.add(fn)
      return () => void set.delete(fn)
    },
    emit: ((event, payload) => {
      for (const fn of listeners.get(event)!) {
        try {
          fn(payload)
        } catch (err) {
          console.error(`[Assisters] a "${event}" listener threw:`, err)
        }
      }
    }) as Emit,
  }
}
