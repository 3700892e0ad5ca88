import { describe, expect, it } from 'vitest'
import { ConfigError, fromDataset, toWidgetConfig, type WidgetOptions } from '../../src/config.ts'

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

describe('toWidgetConfig', () => {
  it('fills every default from a key alone, with the API at the script origin', () => {
    expect(toWidgetConfig({ key: KEY }, SCRIPT_ORIGIN)).toEqual({
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
    const config = toWidgetConfig(
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
    expect(toWidgetConfig({ key: KEY, open }, SCRIPT_ORIGIN).open).toBe(expected)
  })

  it('treats null options as absent', () => {
    const config = toWidgetConfig({ key: KEY, open: null, title: null } as unknown as WidgetOptions, SCRIPT_ORIGIN)
    expect([config.open, config.title]).toEqual([false, 'Chat with us'])
  })

  it('takes starters as an array from init()', () => {
    expect(toWidgetConfig({ key: KEY, starters: ['One', ' Two '] }, SCRIPT_ORIGIN).starters).toEqual(['One', 'Two'])
  })

  it('treats empty text attributes as absent', () => {
    const config = toWidgetConfig({ key: KEY, title: ' ', color: '', position: '' }, SCRIPT_ORIGIN)
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
    ['a relative API', { key: KEY, api: '/v1' }, SCRIPT_ORIGIN, /"api"/],
    ['a javascript: API', { key: KEY, api: 'javascript:alert(1)' }, SCRIPT_ORIGIN, /"api"/],
    ['an ftp API', { key: KEY, api: 'ftp://example.com' }, SCRIPT_ORIGIN, /"api"/],
    ['an API with a query', { key: KEY, api: 'https://a.example?x=1' }, SCRIPT_ORIGIN, /"api"/],
    ['an API with credentials', { key: KEY, api: 'https://u:p@a.example' }, SCRIPT_ORIGIN, /"api"/],
    ['a colour name', { key: KEY, color: 'red' }, SCRIPT_ORIGIN, /"color" must be a hex colour.*got "red"/],
    ['a five-digit hex colour', { key: KEY, color: '#12345' }, SCRIPT_ORIGIN, /"color"/],
    ['an rgb() colour', { key: KEY, color: 'rgb(0,0,0)' }, SCRIPT_ORIGIN, /"color"/],
    ['a CSS injection in the colour', { key: KEY, color: '#fff;}body{display:none' }, SCRIPT_ORIGIN, /"color"/],
    ['an unknown position', { key: KEY, position: 'top-left' }, SCRIPT_ORIGIN, /"position" must be bottom-right or bottom-left/],
    ['an open value that is not a boolean', { key: KEY, open: 'yes' }, SCRIPT_ORIGIN, /"open" must be true or false/],
    ['a title over 80 characters', { key: KEY, title: 'x'.repeat(81) }, SCRIPT_ORIGIN, /"title" must be up to 80/],
    ['a welcome over 1000 characters', { key: KEY, welcome: 'x'.repeat(1001) }, SCRIPT_ORIGIN, /"welcome"/],
    ['a placeholder over 120 characters', { key: KEY, placeholder: 'x'.repeat(121) }, SCRIPT_ORIGIN, /"placeholder"/],
    ['a title that is not a string', { key: KEY, title: 7 as unknown as string }, SCRIPT_ORIGIN, /"title" must be a string/],
    ['seven starters', { key: KEY, starters: 'a|b|c|d|e|f|g' }, SCRIPT_ORIGIN, /"starters" must be up to 6 prompts/],
    [
      'a starter over 200 characters',
      { key: KEY, starters: ['x'.repeat(201)] },
      SCRIPT_ORIGIN,
      /"starters" must be up to 6 prompts of up to 200 characters/,
    ],
    ['starters that are not strings', { key: KEY, starters: [1, 2] as unknown as string[] }, SCRIPT_ORIGIN, /"starters" must be a string/],
    [
      'an unknown option (a typo)',
      { key: KEY, colour: '#fff' } as WidgetOptions,
      SCRIPT_ORIGIN,
      /"colour" must be one of the options key, api/,
    ],
    [
      'an option named like an Object method',
      { key: KEY, toString: 'x' } as unknown as WidgetOptions,
      SCRIPT_ORIGIN,
      /"toString" must be one of the options/,
    ],
    ['options that are not an object', null as unknown as WidgetOptions, SCRIPT_ORIGIN, /"options" must be an object/],
  ])('refuses %s with an error naming the option', (_, options, defaultApi, message) => {
    expect(() => toWidgetConfig(options, defaultApi)).toThrow(ConfigError)
    expect(() => toWidgetConfig(options, defaultApi)).toThrow(message)
  })
})
