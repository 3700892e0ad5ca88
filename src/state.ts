import { computed, signal, type Signal } from '@preact/signals-core'
import type { ChatTurn } from './api.ts'
import type { WidgetError } from './errors.ts'
import type { Markdown } from './markdown.ts'

/** One bubble. `content` is a signal of its own, so a streamed token re-renders this message alone. */
export interface Message {
  id: number
  role: ChatTurn['role']
  content: Signal<string>
}

/** idle: ready; waiting: request sent, no token yet; streaming: tokens arriving. */
export type Status = 'idle' | 'waiting' | 'streaming'

let nextId = 1

/** Makes a message from a stored or new turn. */
export function toMessage(turn: ChatTurn): Message {
  return { id: nextId++, role: turn.role, content: signal(turn.content) }
}

/** Creates the widget's state: signals and derived values only, no I/O. */
export function createChatState() {
  const messages = signal<Message[]>([])
  const status = signal<Status>('idle')
  const error = signal<WidgetError | null>(null)
  /** Seconds left before a rate-limited visitor may send again. */
  const waitSeconds = signal(0)
  const isOpen = signal(false)
  /** Whether an answer finished while the panel was closed (the launcher's dot). */
  const unread = signal(false)
  const draft = signal('')
  /** The markdown renderer, once its file has loaded (src/mount.ts): answers read as plain text till then. */
  const markdown = signal<Markdown | undefined>(undefined)
  const canSend = computed(() => status.value === 'idle' && waitSeconds.value === 0)
  return { messages, status, error, waitSeconds, isOpen, unread, draft, markdown, canSend }
}

export type ChatState = ReturnType<typeof createChatState>
