import type { ChatTurn } from './api.ts'

/** At most this many turns are kept, and at most this many characters of JSON, oldest dropped first. */
const MAX_TURNS = 50
const MAX_CHARS = 100_000

/**
 * Where the panel leaves word of an answer the visitor has not seen yet, for the loader to read when
 * the page is idle (src/widget.ts): one small item per site, holding that conversation's name, so
 * the loader needs neither the name nor the conversation to know.
 */
export const UNREAD_FLAG = 'assisters:unread'

/** Saves and restores one conversation in localStorage; storage that is missing, full or corrupt loses only history. */
export function createConversationStore(api: string, key: string) {
  // The key prefix (as the server shows it) keeps two sites' or two keys' conversations apart
  // without writing the whole secret into storage.
  const name = `assisters:${api}:${key.slice(0, 12)}`
  /** The flag as last read or written here, so that writing what is already stored costs nothing. */
  let unread: boolean | undefined
  return {
    /** Whether an answer of this conversation waits, unseen, as the flag says. */
    unread(): boolean {
      try {
        return (unread = localStorage.getItem(UNREAD_FLAG) === name)
      } catch {
        return false
      }
    },
    /** Raises or lowers the flag; lowering leaves another conversation's flag alone. */
    markUnread(value: boolean): void {
      if (value === unread) return
      unread = value
      try {
        if (value) localStorage.setItem(UNREAD_FLAG, name)
        else if (localStorage.getItem(UNREAD_FLAG) === name) localStorage.removeItem(UNREAD_FLAG)
      } catch {}
    },
    load(): ChatTurn[] {
      try {
        const turns: unknown = JSON.parse(localStorage.getItem(name) ?? '[]')
        if (Array.isArray(turns) && turns.every(isTurn)) return turns
      } catch {}
      return []
    },
    save(turns: ChatTurn[]): void {
      let kept = turns.slice(-MAX_TURNS)
      let json = JSON.stringify(kept)
      while (json.length > MAX_CHARS && kept.length) {
        kept = kept.slice(1)
        json = JSON.stringify(kept)
      }
      try {
        if (kept.length) localStorage.setItem(name, json)
        else localStorage.removeItem(name)
      } catch {}
    },
  }
}

function isTurn(value: any): value is ChatTurn {
  return (value?.role === 'user' || value?.role === 'assistant') && typeof value.content === 'string'
}
