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

/** Each option's rule for its trimmed text form (an empty value means the default), and what it expects. */
const RULES: Record<keyof WidgetOptions, [RegExp, string]> = {
  // The server's keys are `ask_` + base62; anything else is a copy-paste accident.
  key: [/^ask_[A-Za-z0-9]{1,196}$/, 'an Assisters key (ask_…)'],
  api: [/^https?:\/\/[^/?#@\s]+(\/[^?#\s]*)?$/i, 'an http(s) URL'],
  title: [/^.{0,80}$/s, 'up to 80 characters'],
  welcome: [/^.{0,1000}$/s, 'up to 1000 characters'],
  placeholder: [/^.{0,120}$/s, 'up to 120 characters'],
  color: [/^#([0-9a-f]{3}){1,2}$/i, 'a hex colour like #2563eb'],
  position: [/^bottom-(right|left)$/, 'bottom-right or bottom-left'],
  open: [/^(true|false)$/, 'true or false'],
  starters: [/^[^|]{1,200}(\|[^|]{1,200}){0,5}$/s, 'up to 6 prompts of up to 200 characters'],
}
const NAMES = Object.keys(RULES) as (keyof WidgetOptions)[]

/** Picks the widget's options out of a script tag's `dataset`; unknown attributes are ignored. */
export function fromDataset(dataset: DOMStringMap): WidgetOptions {
  return Object.fromEntries(NAMES.filter((name) => dataset[name] !== undefined).map((name) => [name, dataset[name]]))
}

/** Validates options into a WidgetConfig; `defaultApi` is the origin the script was served from. */
export function toWidgetConfig(options: WidgetOptions, defaultApi = ''): WidgetConfig {
  if (options === null || typeof options !== 'object') fail('options', 'an object', options)
  const value: Record<string, string> = { api: defaultApi }
  for (const [name, given] of Object.entries(options) as [keyof WidgetOptions, unknown][]) {
    if (!Object.hasOwn(RULES, name)) fail(name, `one of the options ${NAMES.join(', ')}`, given)
    if (given == null) continue
    let raw: unknown = given
    // `data-open` with no value means true, as HTML boolean attributes do; init() may pass booleans.
    if (name === 'open') raw = raw === '' ? 'true' : String(raw)
    if (name === 'starters' && Array.isArray(raw) && raw.every((item) => typeof item === 'string')) raw = raw.join('|')
    if (typeof raw !== 'string') fail(name, 'a string', given)
    // Empty prompts between bars ("A||B") are dropped before counting.
    const text =
      name === 'starters'
        ? raw
            .split('|')
            .map((item) => item.trim())
            .filter(Boolean)
            .join('|')
        : raw.trim()
    if (text && !RULES[name][0].test(text)) fail(name, RULES[name][1], given)
    if (text) value[name] = text
  }
  for (const name of ['key', 'api'] as const) if (!value[name]) fail(name, RULES[name][1], options[name])
  const color = value.color?.toLowerCase() ?? '#2563eb'
  return {
    key: value.key!,
    api: value.api!.replace(/\/+$/, ''),
    title: value.title ?? 'Chat with us',
    welcome: value.welcome ?? 'Hi! How can I help you today?',
    placeholder: value.placeholder ?? 'Type your message…',
    color: color.length === 4 ? color.replace(/\w/g, '$&$&') : color,
    position: (value.position ?? 'bottom-right') as Position,
    open: value.open === 'true',
    starters: value.starters?.split('|') ?? [],
  }
}

function fail(name: string, problem: string, value: unknown): never {
  const shown = typeof value === 'string' && value.length > 40 ? `${value.slice(0, 40)}…` : value
  throw new ConfigError(`Assisters: "${name}" must be ${problem} (got ${JSON.stringify(shown) ?? String(shown)})`)
}
