/** Dates and snippets as the pages show them (pure). */

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' })
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })

export const formatDate = (iso: string) => dateFormat.format(new Date(iso))
export const formatDateTime = (iso: string | null) => (iso ? dateTimeFormat.format(new Date(iso)) : 'Never')

/** The tag a site pastes: the widget from this server, with the key. */
export const embedSnippet = (key: string) => `<script src="${location.origin}/widget.js" data-key="${key}" async></script>`

/** Entries typed one per line or separated by commas, blanks dropped. */
export const splitEntries = (text: string) => text.split(/[\n,]/).map((entry) => entry.trim()).filter(Boolean)
