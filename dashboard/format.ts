/** Dates, snippets and numbers as the pages show and read them (pure). */
import { MAX_STARTER_CHARS, MAX_STARTERS } from '../src/starters.ts'

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' })
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })

export const formatDate = (iso: string) => dateFormat.format(new Date(iso))
export const formatDateTime = (iso: string | null) => (iso ? dateTimeFormat.format(new Date(iso)) : 'Never')

const escapeAttribute = (text: string) => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** The tag a site pastes: the widget from this server, with the key and any options as data-* attributes. */
export function embedSnippet(key: string, options: Record<string, string> = {}): string {
  const extra = Object.entries(options)
    .filter(([, value]) => value !== '')
    .map(([name, value]) => ` data-${name}="${escapeAttribute(value)}"`)
    .join('')
  return `<script src="${location.origin}/widget.js" data-key="${escapeAttribute(key)}"${extra} async></script>`
}

/** Entries typed one per line or separated by commas (or by `separator` alone), blanks dropped. */
export const splitEntries = (text: string, separator: string | RegExp = /[\n,]/) =>
  text
    .split(separator)
    .map((entry) => entry.trim())
    .filter(Boolean)

/** Starter questions, typed one per line: a comma belongs to its question. */
export const splitLines = (text: string) => splitEntries(text, '\n')

/** Why the widget would show none of these starters (src/starters.ts: how many, how long; `|` separates them), or ''. */
export function startersProblem(starters: string[]): string {
  if (starters.length > MAX_STARTERS) return `Up to ${MAX_STARTERS} starter questions (here ${starters.length}).`
  const bad = starters.find((text) => text.length > MAX_STARTER_CHARS || text.includes('|'))
  return bad === undefined
    ? ''
    : `Each starter question takes up to ${MAX_STARTER_CHARS} characters and no "|" ("${bad.slice(0, 30)}…" does not).`
}

/**
 * A whole number typed into a form: null when empty, the number when it is digits (spaces, commas
 * and underscores between them ignored), else the text itself, which the server refuses naming the field.
 */
export function wholeFrom(text: string): number | string | null {
  const digits = text.replace(/[\s,_]/g, '')
  if (digits === '') return null
  return /^\d+$/.test(digits) ? Number(digits) : text
}
