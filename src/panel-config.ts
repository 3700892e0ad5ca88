import { problem, type checkOptions, type Rules } from './check-options.ts'
import type { PanelOptions, WidgetConfig } from './config.ts'
import type { Language } from './language.ts'
import { MAX_STARTER_CHARS, MAX_STARTERS, STARTERS_PATTERN } from './starters.ts'
import { en, type Words } from './words/en.ts'

const RULES: Rules<Omit<PanelOptions, 'strings'>> = {
  title: [/^.{0,80}$/s, 'up to 80 characters'],
  welcome: [/^.{0,1000}$/s, 'up to 1000 characters'],
  placeholder: [/^.{0,120}$/s, 'up to 120 characters'],
  starters: [STARTERS_PATTERN, `up to ${MAX_STARTERS} prompts of up to ${MAX_STARTER_CHARS} characters`],
  lang: [/^[a-z]{2,3}(-[a-z0-9]{1,8})*$/i, 'a language tag like es or pt-BR'],
  theme: [/^(auto|light|dark)$/, 'auto, light or dark'],
}
/** The words an owner may replace: all but the layout direction, which belongs to the language. */
const REPLACEABLE = Object.keys(en).filter((name) => name !== 'dir') as (keyof Words)[]

/** The panel's configuration: the loader's, plus its own options checked, and the owner's words. */
export interface PanelConfig extends Omit<WidgetConfig, 'panel'> {
  starters: string[]
  /** The `lang` option, if the owner gave a good one. */
  lang?: string
  /** A colour scheme the owner fixed, whatever the visitor's is (`auto`: none). */
  theme?: 'light' | 'dark'
  /** The owner's words (`title`, `welcome`, `placeholder` and `strings`), laid over the language's table. */
  words: Partial<Words>
}

/** What the panel renders from: its configuration with the words settled for one language, the owner's laid over them. */
export interface PanelSettings extends Omit<PanelConfig, 'words'> {
  language: Language
  words: Words
}

/**
 * Checks the options only the panel uses (the loader passed them on unread) with the loader's own
 * checker, so the panel does not carry a second copy; a bad one gets its default and one warning.
 */
export function toPanelConfig(
  { panel, ...config }: WidgetConfig,
  check: typeof checkOptions,
  warn: (message: string) => void,
): PanelConfig {
  let { starters, strings, ...texts } = panel
  if (Array.isArray(starters) && starters.every((item) => typeof item === 'string')) starters = starters.join('|')
  // Empty prompts between bars ("A||B") are dropped before counting.
  if (typeof starters === 'string')
    starters = starters
      .split('|')
      .map((item) => item.trim())
      .filter(Boolean)
      .join('|')
  const value = check({ ...texts, starters }, RULES, (_, message) => warn(message))
  const { title, welcome, placeholder } = value
  return {
    ...config,
    starters: value.starters?.split('|') ?? [],
    lang: value.lang,
    theme: value.theme === 'auto' ? undefined : (value.theme as PanelConfig['theme']),
    words: { ...toWords(strings, warn), ...(title && { title }), ...(welcome && { welcome }), ...(placeholder && { placeholder }) },
  }
}

/** The owner's `strings`: each a known word's name with non-empty text; any other is left out with a warning. */
function toWords(strings: unknown, warn: (message: string) => void): Partial<Words> {
  if (strings == null) return {}
  if (typeof strings !== 'object' || Array.isArray(strings)) {
    warn(`${problem('strings', 'an object of words by name', strings)}; ignored`)
    return {}
  }
  const words: Partial<Words> = {}
  for (const [name, text] of Object.entries(strings)) {
    if (!(REPLACEABLE as string[]).includes(name)) warn(`${problem(`strings.${name}`, `one of ${REPLACEABLE.join(', ')}`, text)}; ignored`)
    else if (typeof text !== 'string' || !text.trim() || text.length > 1000)
      warn(`${problem(`strings.${name}`, 'text of up to 1000 characters', text)}; ignored`)
    else words[name as keyof Words] = text.trim() as never
  }
  return words
}
