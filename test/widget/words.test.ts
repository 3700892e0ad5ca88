import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LANGUAGES, pickLanguage } from '../../src/language.ts'
import { en } from '../../src/words/en.ts'

const FOLDER = join(process.cwd(), 'src/words')
const tables = readdirSync(FOLDER)
  .filter((name) => name.endsWith('.json'))
  .map((name) => [name.replace('.json', ''), JSON.parse(readFileSync(join(FOLDER, name), 'utf8'))] as const)

describe('the words', () => {
  it('has a table for every language the panel speaks but English, which the panel carries', () => {
    expect(tables.map(([language]) => language).sort()).toEqual(LANGUAGES.filter((language) => language !== 'en').sort())
  })

  it.each(tables)('%s: every word English has, and no other, each non-empty text', (_, table) => {
    expect(Object.keys(table).sort()).toEqual(Object.keys(en).sort())
    for (const [name, text] of Object.entries(table)) {
      expect(typeof text, name).toBe('string')
      expect((text as string).trim(), name).not.toBe('')
    }
    expect(['ltr', 'rtl']).toContain(table.dir)
    expect(table.wait).toContain('{n}')
    expect(table.until).toContain('{t}')
  })

  it('lays out Arabic right to left, and the others left to right', () => {
    expect(Object.fromEntries(tables.map(([language, table]) => [language, table.dir]))).toEqual({
      ar: 'rtl',
      de: 'ltr',
      es: 'ltr',
      fr: 'ltr',
      ja: 'ltr',
      pt: 'ltr',
      zh: 'ltr',
    })
  })
})

describe('pickLanguage', () => {
  it.each<[string, (string | undefined | null)[], string]>([
    ['the owner’s choice first', ['es', 'fr', 'de-DE'], 'es'],
    ['a region or script subtag by its language', ['pt-BR'], 'pt'],
    ['any case and an underscore', ['ZH_cn'], 'zh'],
    ['the page’s language when the owner chose none', [undefined, 'ja', 'en-US'], 'ja'],
    ['the browser’s when the page says nothing', [undefined, '', 'ar-EG'], 'ar'],
    ['the next choice when one is a language it does not speak', ['ko', 'fr-CA'], 'fr'],
    ['the next choice over Simplified Chinese for a reader of Traditional', ['zh-TW', 'en'], 'en'],
    ['the next choice for zh-Hant too', ['zh-Hant-HK', 'de'], 'de'],
    ['English when it speaks none of them', ['ko', 'ru', null], 'en'],
    ['English when nobody says', [], 'en'],
  ])('takes %s', (_, tags, expected) => {
    expect(pickLanguage(tags)).toBe(expected)
  })
})
