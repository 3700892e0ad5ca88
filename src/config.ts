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

/** Each option's rule for its trimmed text form; an empty value means the default. */
const RULES: Record<keyof WidgetOptions, [RegExp, string]> = {
  // The server's keys are `ask_` + base62; anything else is a copy-paste accident.
  key: [/^ask_[A-Za-z0-9]{1,196}$/, 'must be an Assisters key (ask_…)'],
  api: [/^(https?:\/\/[^/?#@\s]+(\/[^?#\s]*)?)?$/i, 'must be an http(s) URL without query or credentials'],
  title: [/^.{0,80}$/s, 'is over 80 characters'],
  welcome: [/^.{0,1000}$/s, 'is over 1000 characters'],
  placeholder: [/^.{0,120}$/s, 'is over 120 characters'],
  color: [/^(#[0-9a-f]{3}|#[0-9a-f]{6})?$/i, 'must be a hex colour like #2563eb'],
  position: [/^(bottom-right|bottom-left)?$/, 'must be bottom-right or bottom-left'],
  // `data-open` with no value means true, as HTML boolean attributes do.
  open: [/^(true|false|)$/, 'must be true or false'],
  starters: [/^[^|]{0,200}(\|[^|]{0,200}){0,5}$/s, 'must be at most 6 prompts of up to 200 characters'],
}
const NAMES = Object.keys(RULES) as (keyof WidgetOptions)[]

/** Picks the widget's options out of a script tag's `dataset`; unknown attributes are ignored. */
export function fromDataset(dataset: DOMStringMap): WidgetOptions {
  return Object.fromEntries(NAMES.filter((name) => dataset[name] !== undefined).map((name) => [name, dataset[name]]))
}

/** Validates options into a WidgetConfig; `defaultApi` is the origin the script was served from. */
export function toWidgetConfig(options: WidgetOptions, defaultApi = ''): WidgetConfig {
  if (options === null || typeof options !== 'object') fail('options', 'must be an object', options)
  const value = {} as Record<keyof WidgetOptions, string>
  for (const name of Object.keys(options) as (keyof WidgetOptions)[]) {
    if (!RULES[name]) fail(name, 'is not an option', options[name])
  }
  for (const name of NAMES) {
    let raw: unknown = options[name] ?? ''
    if (typeof raw === 'boolean' && name === 'open') raw = String(raw)
    if (Array.isArray(raw) && name === 'starters' && raw.every((item) => typeof item === 'string')) raw = raw.join('|')
    if (typeof raw !== 'string') fail(name, 'must be a string', raw)
    // Empty starters between bars ("A||B") are dropped before counting.
    value[name] = name === 'starters' ? raw.split('|').map((s) => s.trim()).filter(Boolean).join('|') : raw.trim()
    if (!RULES[name][0].test(value[name])) fail(name, RULES[name][1], raw)
  }
  if (!value.key) fail('key', RULES.key[1], options.key)
  const api = value.api || defaultApi
  if (!api || !RULES.api[0].test(api)) fail('api', RULES.api[1], api)
  const color = value.color.toLowerCase() || '#2563eb'
  return {
    key: value.key,
    api: api.replace(/\/+$/, ''),
    title: value.title || 'Chat with us',
    welcome: value.welcome || 'Hi! How can I help you today?',
    placeholder: value.placeholder || 'Type your message…',
    color: color.length === 4 ? color.replace(/\w/g, '$&$&') : color,
    position: (value.position || 'bottom-right') as Position,
    open: value.open === 'true' || options.open === '',
    starters: value.starters ? value.starters.split('|') : [],
  }
}

function fail(name: string, problem: string, value: unknown): never {
  const shown = typeof value === 'string' && value.length > 40 ? `${value.slice(0, 40)}…` : value
  throw new ConfigError(`Assisters: "${name}" ${problem} (got ${JSON.stringify(shown) ?? String(shown)})`)
}
