import type { ChatTurn } from './api.ts'

/** At most this many turns are kept, and at most this many characters of JSON, oldest dropped first. */
const MAX_TURNS = 50
const MAX_CHARS = 100_000

/** Saves and restores one conversation in localStorage; storage that is missing, full or corrupt loses only history. */
export function createConversationStore(api: string, key: string) {
  // The key prefix (as the server shows it) keeps two sites' or two keys' conversations apart
  // without writing the whole secret into storage.
  const name = `assisters:${api}:${key.slice(0, 12)}`
  return {
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
