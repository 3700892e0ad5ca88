import { describe, expect, it, vi } from 'vitest'
import { createAssisters } from '../../src/assisters.ts'
import { createMountPanel } from '../../src/mount.ts'
import { API, DONE, KEY, delta, errorResponse, onChat, sseResponse } from './api-mock.ts'
import { answersHere, setUpWidgetTests, startWidget, until, view } from './dom.ts'

setUpWidgetTests()

/** Opens a widget and waits for its panel. */
async function openWith(options: Parameters<typeof startWidget>[0]) {
  const w = startWidget(options)
  w.assisters.open()
  await until(() => expect(w.dialog()).toBeTruthy())
  return w
}

describe('languages', () => {
  it('speaks the owner’s lang: every word of the panel, and the launcher’s name once the panel is there', async () => {
    const w = await openWith({ lang: 'es' })
    expect(w.$('.title')!.textContent).toBe('Chatea con nosotros')
    expect(w.$('.welcome')!.textContent).toBe('¡Hola! ¿En qué puedo ayudarte hoy?')
    expect(w.textarea().placeholder).toBe('Escribe tu mensaje…')
    expect(w.textarea().getAttribute('aria-label')).toBe('Mensaje')
    expect(w.launcher().getAttribute('aria-label')).toBe('Cerrar el chat')
    expect(w.dialog()!.getAttribute('lang')).toBe('es')
    expect(w.dialog()!.getAttribute('dir')).toBe('ltr')
  })

  it('takes the page’s <html lang>, then the browser’s language, then English', async () => {
    document.documentElement.lang = 'fr-CA'
    try {
      expect((await openWith({})).$('.title')!.textContent).toBe('Discutez avec nous')
    } finally {
      document.documentElement.lang = ''
    }
  })

  it('falls back to the browser’s language when the page says none', async () => {
    vi.spyOn(navigator, 'language', 'get').mockReturnValue('de-AT')
    expect((await openWith({})).$('.title')!.textContent).toBe('Chatten Sie mit uns')
  })

  it('lays the panel out right to left in Arabic, each bubble taking its own direction from its text', async () => {
    onChat(() => sseResponse(delta('Hello, in English'), DONE))
    const w = await openWith({ lang: 'ar' })
    expect(w.dialog()!.getAttribute('dir')).toBe('rtl')
    expect(w.dialog()!.getAttribute('lang')).toBe('ar')
    expect(w.$('.title')!.textContent).toBe('تحدّث معنا')
    w.assisters.send('مرحبا')
    await until(() => expect(w.bubbles()).toEqual(['مرحبا', 'Hello, in English']))
    expect(w.$$('.msg').every((bubble) => bubble.getAttribute('dir') === 'auto')).toBe(true)
  })

  it('shows errors, and tells the error event, in the visitor’s words', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {})
    onChat(() => errorResponse(503, 'upstream_error', 'down'))
    const w = await openWith({ lang: 'pt' })
    const errors: string[] = []
    w.assisters.on('error', ({ message }) => errors.push(message))
    w.assisters.send('Oi')
    await until(() => expect(w.errorText()).toContain('O assistente não conseguiu responder.'))
    expect(w.button('Tentar de novo')).toBeTruthy()
    expect(errors).toEqual(['O assistente não conseguiu responder. Tente de novo.'])
  })

  it('lets the owner replace any word in init(), over the language’s own', async () => {
    const w = await openWith({ lang: 'es', title: 'Ayuda de Ana', strings: { send: 'Mandar', closeChat: 'Cerrar' } })
    expect(w.$('.title')!.textContent).toBe('Ayuda de Ana')
    expect(w.$('.send')!.getAttribute('aria-label')).toBe('Mandar')
    expect(w.launcher().getAttribute('aria-label')).toBe('Cerrar')
    expect(w.$('.welcome')!.textContent).toBe('¡Hola! ¿En qué puedo ayudarte hoy?')
  })

  it.each([
    ['dark', ['root', 'bottom-right', 'dark']],
    ['light', ['root', 'bottom-right', 'light']],
    ['auto', ['root', 'bottom-right']],
  ] as const)('fixes the colour scheme with data-theme="%s"', async (theme, classes) => {
    const w = await openWith({ theme })
    expect([...w.$('.root')!.classList]).toEqual(classes)
    w.assisters.destroy()
    expect(document.querySelector('.dark, .light')).toBeNull()
  })

  it('speaks English, with a warning, when the language’s words cannot be fetched', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const mountPanel = createMountPanel(
      async () => {
        throw new Error('https://cdn.example/panel-ja-0123456789.json answered 404')
      },
      async () => answersHere,
    )
    const assisters = createAssisters(API, async () => mountPanel)
    assisters.init({ key: KEY, lang: 'ja' })
    assisters.open()
    const w = view()
    await until(() => expect(w.dialog()).toBeTruthy())
    expect(w.$('.title')!.textContent).toBe('Chat with us')
    expect(w.dialog()!.getAttribute('lang')).toBe('en')
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('the ja words could not load'))
    assisters.destroy()
  })
})
