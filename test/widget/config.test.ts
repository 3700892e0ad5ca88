import { describe, expect, it } from 'vitest'
import { checkOptions } from '../../src/check-options.ts'
import { ConfigError, fromDataset, toWidgetConfig, type WidgetOptions } from '../../src/config.ts'
import { toPanelConfig } from '../../src/panel-config.ts'
import { en } from '../../src/words/en.ts'

/**
 * The whole configuration as the panel sees it: the loader's check, then the panel's; the owner's words
 * for the three text options shown with English under them.
 */
function configure(options: WidgetOptions, defaultApi?: string, warn: (message: string) => void = () => {}) {
  const { words, lang, ...config } = toPanelConfig(toWidgetConfig(options, defaultApi, warn), checkOptions, warn)
  const { title = en.title, welcome = en.welcome, placeholder = en.placeholder, ...strings } = words
  return { ...config, title, welcome, placeholder, ...(lang && { lang }), ...(Object.keys(strings).length && { strings }) }
}
type Configured = ReturnType<typeof configure>

const KEY = 'ask_' + 'a1B2'.repeat(10) + 'Zz9yX8'
const SCRIPT_ORIGIN = 'https://api.example.com'

describe('fromDataset', () => {
  it('picks the widget options from a script tag and ignores other data attributes', () => {
    const script = document.createElement('script')
    script.setAttribute('data-key', KEY)
    script.setAttribute('data-title', 'Help')
    script.setAttribute('data-starters', 'A|B')
    script.setAttribute('data-open', '')
    script.setAttribute('data-tracking', 'x')
    expect(fromDataset(script.dataset)).toEqual({ key: KEY, title: 'Help', starters: 'A|B', open: '' })
  })
})

describe('toWidgetConfig, then toPanelConfig', () => {
  it('fills every default from a key alone, with the API at the script origin', () => {
    expect(configure({ key: KEY }, SCRIPT_ORIGIN)).toEqual({
      key: KEY,
      api: SCRIPT_ORIGIN,
      title: 'Chat with us',
      welcome: 'Hi! How can I help you today?',
      placeholder: 'Type your message…',
      color: '#2563eb',
      position: 'bottom-right',
      open: false,
      starters: [],
    })
  })

  it('takes every option, trimmed and normalised', () => {
    const config = configure(
      {
        key: ` ${KEY} `,
        api: 'https://chat.example.org/assisters/',
        title: ' Ask Ada ',
        welcome: 'Hello!',
        placeholder: 'Ask anything',
        color: '#0A0',
        position: 'bottom-left',
        open: 'true',
        starters: ' Pricing? | | Opening hours ',
      },
      SCRIPT_ORIGIN,
    )
    expect(config).toEqual({
      key: KEY,
      api: 'https://chat.example.org/assisters',
      title: 'Ask Ada',
      welcome: 'Hello!',
      placeholder: 'Ask anything',
      color: '#00aa00',
      position: 'bottom-left',
      open: true,
      starters: ['Pricing?', 'Opening hours'],
    })
  })

  it.each<[string, WidgetOptions['open'], boolean]>([
    ['absent', undefined, false],
    ['an empty attribute (data-open)', '', true],
    ['"true"', 'true', true],
    ['"false"', 'false', false],
    ['true', true, true],
    ['false', false, false],
  ])('reads open given %s', (_, open, expected) => {
    expect(configure({ key: KEY, open }, SCRIPT_ORIGIN).open).toBe(expected)
  })

  it('treats null options as absent', () => {
    const config = configure({ key: KEY, open: null, title: null } as unknown as WidgetOptions, SCRIPT_ORIGIN)
    expect([config.open, config.title]).toEqual([false, 'Chat with us'])
  })

  it('takes starters as an array from init()', () => {
    expect(configure({ key: KEY, starters: ['One', ' Two '] }, SCRIPT_ORIGIN).starters).toEqual(['One', 'Two'])
  })

  it('treats empty text attributes as absent', () => {
    const config = configure({ key: KEY, title: ' ', color: '', position: '' }, SCRIPT_ORIGIN)
    expect([config.title, config.color, config.position]).toEqual(['Chat with us', '#2563eb', 'bottom-right'])
  })

  it.each<[string, WidgetOptions, string | undefined, RegExp]>([
    ['a missing key', {}, SCRIPT_ORIGIN, /"key" must be an Assisters key \(ask_…\)/],
    ['an empty key', { key: '' }, SCRIPT_ORIGIN, /"key"/],
    ['a key without the ask_ prefix', { key: 'sk-abc123' }, SCRIPT_ORIGIN, /"key".*got "sk-abc123"/],
    ['a key with a space inside', { key: 'ask_abc def' }, SCRIPT_ORIGIN, /"key"/],
    ['a key that is only the prefix', { key: 'ask_' }, SCRIPT_ORIGIN, /"key"/],
    ['a key that is not a string', { key: 42 as unknown as string }, SCRIPT_ORIGIN, /"key" must be a string/],
    ['a huge key', { key: 'ask_' + 'a'.repeat(500) }, SCRIPT_ORIGIN, /"key" must be an Assisters key/],
    ['no API and no script origin', { key: KEY }, undefined, /"api" must be an http\(s\) URL/],
    ['a bad API and no script origin', { key: KEY, api: '/v1' }, undefined, /"api" must be an http\(s\) URL/],
    ['options that are not an object', null as unknown as WidgetOptions, SCRIPT_ORIGIN, /"options" must be an object/],
  ])('refuses %s with an error naming the option', (_, options, defaultApi, message) => {
    expect(() => configure(options, defaultApi)).toThrow(ConfigError)
    expect(() => configure(options, defaultApi)).toThrow(message)
  })

  // An owner's typo in a cosmetic option must not cost the site its chat: the default, and one warning.
  it.each<[string, WidgetOptions, keyof Configured, unknown, RegExp]>([
    ['a colour without its #', { color: '8b3a1a' }, 'color', '#2563eb', /"color" must be a hex colour.*got "8b3a1a"\); using the default/],
    ['a colour name', { color: 'red' }, 'color', '#2563eb', /"color" must be a hex colour.*got "red"/],
    ['a five-digit hex colour', { color: '#12345' }, 'color', '#2563eb', /"color"/],
    ['an rgb() colour', { color: 'rgb(0,0,0)' }, 'color', '#2563eb', /"color"/],
    ['a CSS injection in the colour', { color: '#fff;}body{display:none' }, 'color', '#2563eb', /"color"/],
    [
      'a position of "left"',
      { position: 'left' },
      'position',
      'bottom-right',
      /"position" must be bottom-right or bottom-left \(got "left"\)/,
    ],
    ['an open value that is not a boolean', { open: 'yes' }, 'open', false, /"open" must be true or false/],
    ['a title over 80 characters', { title: 'x'.repeat(81) }, 'title', 'Chat with us', /"title" must be up to 80/],
    ['a welcome over 1000 characters', { welcome: 'x'.repeat(1001) }, 'welcome', 'Hi! How can I help you today?', /"welcome"/],
    ['a placeholder over 120 characters', { placeholder: 'x'.repeat(121) }, 'placeholder', 'Type your message…', /"placeholder"/],
    ['a title that is not a string', { title: 7 as unknown as string }, 'title', 'Chat with us', /"title" must be a string/],
    ['seven starters', { starters: 'a|b|c|d|e|f|g' }, 'starters', [], /"starters" must be up to 6 prompts/],
    [
      'a starter over 200 characters',
      { starters: ['x'.repeat(201)] },
      'starters',
      [],
      /"starters" must be up to 6 prompts of up to 200 characters/,
    ],
    ['starters that are not strings', { starters: [1, 2] as unknown as string[] }, 'starters', [], /"starters" must be a string/],
    ['a relative API', { api: '/v1' }, 'api', SCRIPT_ORIGIN, /"api"/],
    ['a javascript: API', { api: 'javascript:alert(1)' }, 'api', SCRIPT_ORIGIN, /"api"/],
    ['an ftp API', { api: 'ftp://example.com' }, 'api', SCRIPT_ORIGIN, /"api"/],
    ['an API with a query', { api: 'https://a.example?x=1' }, 'api', SCRIPT_ORIGIN, /"api"/],
    ['an API with credentials', { api: 'https://u:p@a.example' }, 'api', SCRIPT_ORIGIN, /"api"/],
    [
      'a language that is no language tag',
      { lang: 'english!' },
      'lang',
      undefined,
      /"lang" must be a language tag like es or pt-BR \(got "english!"\); using the default/,
    ],
    [
      'a theme that is no theme',
      { theme: 'night' },
      'theme',
      undefined,
      /"theme" must be auto, light or dark \(got "night"\); using the default/,
    ],
    [
      'strings that are not an object',
      { strings: 'Hola' as never },
      'strings',
      undefined,
      /"strings" must be an object of words by name \(got "Hola"\); ignored/,
    ],
    [
      'a string for no word',
      { strings: { sendd: 'Go' } },
      'strings',
      undefined,
      /"strings.sendd" must be one of title, welcome, .*; ignored/,
    ],
    ['the layout direction as a string', { strings: { dir: 'rtl' } }, 'strings', undefined, /"strings.dir" must be one of title/],
    [
      'an empty string for a word',
      { strings: { send: ' ' } },
      'strings',
      undefined,
      /"strings.send" must be text of up to 1000 characters/,
    ],
    ['a word that is not text', { strings: { send: 5 } as never }, 'strings', undefined, /"strings.send" must be text/],
    [
      'an unknown option (a typo)',
      { colour: '#fff' } as WidgetOptions,
      'color',
      '#2563eb',
      /"colour" must be one of the options key, api.*; ignored/,
    ],
    [
      'an option named like an Object method',
      { toString: 'x' } as unknown as WidgetOptions,
      'title',
      'Chat with us',
      /"toString" must be one of the options/,
    ],
  ])('mounts with the default for %s, warning once', (_, options, field, fallback, message) => {
    const warnings: string[] = []
    const config = configure({ key: KEY, ...options }, SCRIPT_ORIGIN, (warning) => warnings.push(warning))
    expect(config[field]).toEqual(fallback)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(message)
  })

  it('takes a language tag and the owner’s words for any string, over the title, welcome and placeholder options', () => {
    const config = configure(
      {
        key: KEY,
        lang: ' pt-BR ',
        title: 'Fale com a Ana',
        strings: { send: ' Enviar ', title: 'ignored: the option wins', retry: 'De novo' },
      },
      SCRIPT_ORIGIN,
    )
    expect(config).toMatchObject({ lang: 'pt-BR', title: 'Fale com a Ana', strings: { send: 'Enviar', retry: 'De novo' } })
  })

  it('keeps the good options when one is bad', () => {
    const config = configure({ key: KEY, title: 'Ask Ada', color: 'blue', position: 'bottom-left' }, SCRIPT_ORIGIN, () => {})
    expect([config.title, config.color, config.position]).toEqual(['Ask Ada', '#2563eb', 'bottom-left'])
  })
})
