import { checkOptions, problem, type Rules } from './check-options.ts'

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
  /** A language tag (`es`, `pt-BR`); the page's and then the browser's language otherwise. */
  lang?: string
  /** `auto` (the visitor's colour scheme), `light` or `dark`. */
  theme?: string
  /** `init()` only: the owner's own words for any of the panel's, by name (src/words/en.ts). */
  strings?: Record<string, string>
}

/** The options only the panel uses: the loader passes them on unread, and the panel checks them (panel-config.ts). */
export type PanelOptions = Pick<WidgetOptions, 'title' | 'welcome' | 'placeholder' | 'starters' | 'lang' | 'theme' | 'strings'>
const PANEL_OPTIONS: (keyof PanelOptions)[] = ['title', 'welcome', 'placeholder', 'starters', 'lang', 'theme', 'strings']

/** The loader's configuration: every field it uses present and usable, the panel's options as given. */
export interface WidgetConfig {
  key: string
  /** Absolute http(s) base URL without a trailing slash. */
  api: string
  /** `#rrggbb`. */
  color: string
  position: Position
  open: boolean
  panel: PanelOptions
}

/** A configuration value the widget cannot work with; the message names the option and the value. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

const RULES: Rules<Omit<WidgetOptions, keyof PanelOptions>> = {
  // The server's keys are `ask_` + base62; anything else is a copy-paste accident.
  key: [/^ask_[A-Za-z0-9]{1,196}$/, 'an Assisters key (ask_…)'],
  api: [/^https?:\/\/[^/?#@\s]+(\/[^?#\s]*)?$/i, 'an http(s) URL'],
  color: [/^#([0-9a-f]{3}){1,2}$/i, 'a hex colour like #2563eb'],
  position: [/^bottom-(right|left)$/, 'bottom-right or bottom-left'],
  open: [/^(true|false)$/, 'true or false'],
}
const NAMES = [...Object.keys(RULES), ...PANEL_OPTIONS] as (keyof WidgetOptions)[]

/** Picks the widget's options out of a script tag's `dataset`; unknown attributes are ignored. */
export function fromDataset(dataset: DOMStringMap): WidgetOptions {
  return Object.fromEntries(NAMES.filter((name) => dataset[name] !== undefined).map((name) => [name, dataset[name]]))
}

/**
 * Validates the loader's options into a WidgetConfig; `defaultApi` is the origin the script was served
 * from. Only a missing or malformed key (or options that are not an object) stops the widget, with a
 * ConfigError: any other bad or unknown option falls back to its default, and `warn` is told once,
 * naming it. The panel's options are checked by the panel, when it loads.
 */
export function toWidgetConfig(options: WidgetOptions, defaultApi = '', warn: (message: string) => void = () => {}): WidgetConfig {
  if (options === null || typeof options !== 'object') throw new ConfigError(problem('options', 'an object', options))
  const panel: PanelOptions = {}
  const loaderOptions: WidgetOptions = {}
  for (const [name, given] of Object.entries(options) as [keyof WidgetOptions, never][]) {
    if (!NAMES.includes(name)) warn(`${problem(name, `one of the options ${NAMES.join(', ')}`, given)}; ignored`)
    else if ((PANEL_OPTIONS as string[]).includes(name)) panel[name as keyof PanelOptions] = given
    else loaderOptions[name] = given
  }
  const value = checkOptions(loaderOptions, RULES, (name, message) => {
    // The key has no default: a widget that cannot authenticate must not mount.
    if (name === 'key') throw new ConfigError(message)
    warn(message)
  })
  const api = value.api ?? defaultApi
  for (const [name, text] of [
    ['key', value.key],
    ['api', api],
  ] as const) {
    if (!text) throw new ConfigError(problem(name, RULES[name][1], options[name]))
  }
  const color = value.color?.toLowerCase() ?? '#2563eb'
  return {
    key: value.key!,
    api: api.replace(/\/+$/, ''),
    color: color.length === 4 ? color.replace(/\w/g, '$&$&') : color,
    position: (value.position ?? 'bottom-right') as Position,
    open: value.open === 'true',
    panel,
  }
}
