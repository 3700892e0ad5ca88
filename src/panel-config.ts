import type { checkOptions, Rules } from './check-options.ts'
import type { PanelOptions, WidgetConfig } from './config.ts'
import { defaults } from './words.ts'

const RULES: Rules<PanelOptions> = {
  title: [/^.{0,80}$/s, 'up to 80 characters'],
  welcome: [/^.{0,1000}$/s, 'up to 1000 characters'],
  placeholder: [/^.{0,120}$/s, 'up to 120 characters'],
  starters: [/^[^|]{1,200}(\|[^|]{1,200}){0,5}$/s, 'up to 6 prompts of up to 200 characters'],
}

/** The panel's configuration: the loader's, plus its own options checked and defaulted. */
export interface PanelConfig extends Omit<WidgetConfig, 'panel'> {
  title: string
  welcome: string
  placeholder: string
  starters: string[]
}

/**
 * Checks the options only the panel uses (the loader passed them on unread) with the loader's own
 * checker, so the panel does not carry a second copy; a bad one gets its default and one warning.
 */
export function toPanelConfig({ panel, ...config }: WidgetConfig, check: typeof checkOptions, warn: (message: string) => void): PanelConfig {
  let { starters } = panel
  if (Array.isArray(starters) && starters.every((item) => typeof item === 'string')) starters = starters.join('|')
  // Empty prompts between bars ("A||B") are dropped before counting.
  if (typeof starters === 'string') starters = starters.split('|').map((item) => item.trim()).filter(Boolean).join('|')
  const value = check({ ...panel, starters }, RULES, (_, message) => warn(message))
  return {
    ...config,
    title: value.title ?? defaults.title,
    welcome: value.welcome ?? defaults.welcome,
    placeholder: value.placeholder ?? defaults.placeholder,
    starters: value.starters?.split('|') ?? [],
  }
}
