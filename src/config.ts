/** Where the corner widget sits. */
export type Position = 'bottom-right' | 'bottom-left'

/** What a page may pass: `data-*` attributes (strings) or `Assisters.init({...})` (strings or typed values). */
export interface WidgetOptions {
  key?: string
  api?: string
  title?: string
  welcome?: string
  placeholder?: string
  color?: string
  position?: string
  open?: boolean | string
  starters?: string[] | string
}

/** A validated configuration: every field present, every value usable. */
export interface WidgetConfig {
  key: string
  /** Absolute http(s) base URL without a trailing slash. */
  api: string
  title: string
  welcome: string
  placeholder: string
  /** `#rrggbb`. */
  color: string
  position: Position
  open: boolean
  starters: string[]
}

/** A configuration value the widget cannot work with; the message names the option and the value. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

const OPTION_NAMES = ['key', 'api', 'title', 'welcome', 'placeholder', 'color', 'position', 'open', 'starters'] as const
const TEXT_LIMITS = { title: 80, welcome: 1000, placeholder: 120 } as const
const MAX_STARTERS = 6
const MAX_STARTER_CHARS = 200

/** Picks the widget's options out of a script tag's `dataset`; unknown attributes are ignored. */
export function fromDataset(dataset: DOMStringMap): WidgetOptions {
  const options: Record<string, string> = {}
  for (const name of OPTION_NAMES) {
    const value = dataset[name]
    if (value !== undefined) options[name] = value
  }
  return options
}

/** Validates options into a WidgetConfig; `defaultApi` is the origin the script was served from. */
export function toWidgetConfig(options: WidgetOptions, defaultApi?: string): WidgetConfig {
  if (options === null || typeof options !== 'object') fail('options', 'must be an object', options)
  for (const name of Object.keys(options)) {
    if (!(OPTION_NAMES as readonly string[]).includes(name)) fail(name, 'is not an option', options[name as keyof WidgetOptions])
  }
  const key = text(options, 'key', 200)
  // The server's keys are `ask_` + base62; anything else is a copy-paste accident (a missing
  // character is caught by the server's checksum).
  if (!key || !/^ask_[A-Za-z0-9]+$/.test(key)) fail('key', 'must be an Assisters key starting with ask_', options.key)
  return {
    key,
    api: apiBase(options.api ?? defaultApi),
    title: text(options, 'title', TEXT_LIMITS.title) || 'Chat with us',
    welcome: text(options, 'welcome', TEXT_LIMITS.welcome) || 'Hi! How can I help you today?',
    placeholder: text(options, 'placeholder', TEXT_LIMITS.placeholder) || 'Type your message…',
    color: color(options.color),
    position: position(options.position),
    open: flag(options.open),
    starters: starters(options.starters),
  }
}

function fail(name: string, problem: string, value: unknown): never {
  throw new ConfigError(`Assisters: "${name}" ${problem} (got ${JSON.stringify(value) ?? String(value)})`)
}

/** Trimmed text; an empty value counts as absent. */
function text(options: WidgetOptions, name: 'key' | keyof typeof TEXT_LIMITS, limit: number): string {
  const value = options[name]
  if (value === undefined) return ''
  if (typeof value !== 'string') fail(name, 'must be a string', value)
  const trimmed = value.trim()
  if (trimmed.length > limit) fail(name, `must be at most ${limit} characters`, `${trimmed.slice(0, 20)}…`)
  return trimmed
}

function apiBase(value: unknown): string {
  let url: URL | undefined
  try {
    if (typeof value === 'string') url = new URL(value.trim())
  } catch {}
  if (!url || !/^https?:$/.test(url.protocol) || url.search || url.hash || url.username) {
    fail('api', 'must be an absolute http(s) URL without query or credentials', value)
  }
  return url.href.replace(/\/+$/, '')
}

function color(value: unknown): string {
  if (value === undefined || value === '') return '#2563eb'
  if (typeof value !== 'string' || !/^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(value.trim())) {
    fail('color', 'must be a hex colour such as #2563eb', value)
  }
  const hex = value.trim().slice(1).toLowerCase()
  return '#' + (hex.length === 3 ? hex.replace(/./g, '$&$&') : hex)
}

function position(value: unknown): Position {
  if (value === undefined || value === '') return 'bottom-right'
  if (value === 'bottom-right' || value === 'bottom-left') return value
  return fail('position', 'must be bottom-right or bottom-left', value)
}

/** `data-open` with no value means true, as HTML boolean attributes do. */
function flag(value: unknown): boolean {
  if (value === undefined || value === false || value === 'false') return false
  if (value === true || value === '' || value === 'true') return true
  return fail('open', 'must be true or false', value)
}

function starters(value: unknown): string[] {
  if (value === undefined) return []
  const list = typeof value === 'string' ? value.split('|') : value
  if (!Array.isArray(list) || list.some((item) => typeof item !== 'string')) {
    fail('starters', 'must be a |-separated string or an array of strings', value)
  }
  const items = (list as string[]).map((item) => item.trim()).filter(Boolean)
  if (items.length > MAX_STARTERS) fail('starters', `must be at most ${MAX_STARTERS} prompts`, items.length)
  const long = items.find((item) => item.length > MAX_STARTER_CHARS)
  if (long) fail('starters', `must each be at most ${MAX_STARTER_CHARS} characters`, `${long.slice(0, 20)}…`)
  return items
}
