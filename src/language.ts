import type { Words } from './words/en.ts'

/** The languages the panel speaks, by primary language subtag; English is bundled, the others are files of their own. */
export const LANGUAGES = ['en', 'es', 'fr', 'de', 'pt', 'ja', 'zh', 'ar'] as const
export type Language = (typeof LANGUAGES)[number]

/**
 * The first language the panel speaks among `tags` (the owner's `lang`, the page's `<html lang>`, the
 * browser's language, in that order), by primary subtag: `pt-BR` is Portuguese. English when none is.
 */
export function pickLanguage(tags: (string | null | undefined)[]): Language {
  for (const tag of tags) {
    const [primary = '', ...rest] = (tag ?? '').toLowerCase().split(/[-_]/)
    // The Chinese table is Simplified: a reader of Traditional characters is better served by the next choice.
    if (primary === 'zh' && rest.some((subtag) => ['hant', 'tw', 'hk', 'mo'].includes(subtag))) continue
    if ((LANGUAGES as readonly string[]).includes(primary)) return primary as Language
  }
  return 'en'
}

/** Loads a language's table (never English, which the panel carries). */
export type LoadWords = (language: Exclude<Language, 'en'>) => Promise<Words>
