import { describe, expect, it, vi } from 'vitest'
import { DONE, controlledStream, delta, errorResponse, onChat, sseResponse } from './api-mock.ts'
import { setUpWidgetTests, settle, startWidget, until } from './dom.ts'

// happy-dom does no layout, so these tests give elements the sizes a browser would and check what the
// widget does with them; the real-browser suite checks the layout itself.

setUpWidgetTests()

/** Gives `el` a fixed viewport height and a content height that grows with its text. */
function fakeScrollBox(el: HTMLElement, clientHeight: number) {
  Object.defineProperty(el, 'clientHeight', { configurable: true, get: () => clientHeight })
  Object.defineProperty(el, 'scrollHeight', { configurable: true, get: () => 100 + el.textContent!.length * 10 })
}

describe('auto-scroll', () => {
  it('follows a growing answer, pauses while the visitor reads further up, and resumes at the bottom', async () => {
    const stream = controlledStream()
    onChat((request) => stream.response(request))
    const w = startWidget()
    w.assisters.open()
    await until(() => expect(w.textarea()).toBeTruthy())
    const log = w.log()
    fakeScrollBox(log, 200)
    w.assisters.send('Tell me a long story')
    stream.push(delta('Once'))
    await until(() => expect(log.scrollTop).toBe(log.scrollHeight))

    log.scrollTop = 10 // the visitor scrolls up to reread
    log.dispatchEvent(new Event('scroll'))
    stream.push(delta(' upon a time'))
    await until(() => expect(w.bubbles().at(-1)).toBe('Once upon a time'))
    await settle()
    expect(log.scrollTop).toBe(10)

    log.scrollTop = log.scrollHeight - 200 // back at the bottom
    log.dispatchEvent(new Event('scroll'))
    stream.push(delta(', the end.'))
    await until(() => expect(log.scrollTop).toBe(log.scrollHeight))
    stream.push(DONE)
    stream.end()
  })

  it('jumps back to the bottom when the visitor sends a question', async () => {
    onChat(() => sseResponse(delta('Answer'), DONE))
    const w = startWidget()
    w.assisters.open()
    await until(() => expect(w.textarea()).toBeTruthy())
    const log = w.log()
    fakeScrollBox(log, 200)
    log.scrollTop = 0
    log.dispatchEvent(new Event('scroll'))
    w.assisters.send('Question')
    await until(() => expect(log.scrollTop).toBe(log.scrollHeight))
  })
})

describe('the composer', () => {
  it('grows with its text', async () => {
    const w = startWidget()
    w.assisters.open()
    await until(() => expect(w.textarea()).toBeTruthy())
    const box = w.textarea()
    Object.defineProperty(box, 'scrollHeight', { configurable: true, get: () => 20 * box.value.split('\n').length })
    w.type('one\ntwo\nthree')
    await until(() => expect(box.style.height).toBe('62px'))
    w.type('one')
    await until(() => expect(box.style.height).toBe('22px'))
  })
})

describe('on a phone', () => {
  it('sizes the panel to the visual viewport and follows it when the keyboard opens', async () => {
    const viewport = Object.assign(new EventTarget(), { height: 740, offsetTop: 0 })
    vi.stubGlobal('visualViewport', viewport)
    const w = startWidget()
    w.assisters.open()
    await until(() => expect(w.dialog()).toBeTruthy())
    const panel = w.dialog()!
    expect(panel.style.getPropertyValue('--vh')).toBe('740px')
    Object.assign(viewport, { height: 400, offsetTop: 12 }) // the on-screen keyboard takes the bottom
    viewport.dispatchEvent(new Event('resize'))
    expect(panel.style.getPropertyValue('--vh')).toBe('400px')
    expect(panel.style.getPropertyValue('--vt')).toBe('12px')
    viewport.dispatchEvent(new Event('scroll'))
    expect(panel.style.getPropertyValue('--vt')).toBe('12px')
  })
})

describe('accessible names', () => {
  it('names every button and labels the dialog, the log and the composer', async () => {
    onChat(() => sseResponse(delta('Answer'), DONE))
    const w = startWidget({ starters: 'First|Second' })
    w.assisters.open()
    await until(() => expect(w.textarea()).toBeTruthy())
    w.assisters.send('Question')
    await until(() => expect(w.$$('.copy')).toHaveLength(1))
    onChat(() => errorResponse(502, 'upstream_error', 'x'))
    vi.spyOn(console, 'warn').mockImplementation(() => {})
    w.assisters.send('Again')
    await until(() => expect(w.$$('.retry')).toHaveLength(1))
    const names = w.$$('button').map((b) => (b.getAttribute('aria-label') ?? b.textContent ?? '').trim())
    expect(names).toEqual(['Close chat', 'Start a new conversation', 'Close chat', 'Copy answer', 'Try again', 'Send message'])
    expect(w.dialog()!.getAttribute('aria-labelledby')).toBeTruthy()
    expect(w.log().getAttribute('aria-label')).toBe('Conversation')
    expect(w.textarea().getAttribute('aria-label')).toBe('Message')
    expect(w.$$('svg').every((svg) => svg.getAttribute('aria-hidden') === 'true')).toBe(true)
  })
})

describe('the stylesheet in the shadow root', () => {
  // Its text as the bundle ships it: comments dropped, whitespace collapsed.
  const shadowCss = (w: ReturnType<typeof startWidget>) =>
    w
      .css()
      .replace(/\/\*[^]*?\*\//g, '')
      .replace(/\s+/g, ' ')

  it('resets everything the page could pass down to the host, and keeps its own rules inside', async () => {
    const w = startWidget()
    expect(w.host()!.shadowRoot).toBeTruthy() // open mode: the page can inspect, not restyle
    const css = shadowCss(w)
    expect(css).toMatch(/:host \{ all: initial !important; \}/)
    expect(document.querySelectorAll('style')).toHaveLength(0)
    expect(w.$('style')).toBeNull() // a constructed stylesheet: nothing a strict CSP would refuse
  })

  it('has a phone layout with 16px composer text, a dark palette and a reduced-motion rule, once the panel is there', async () => {
    const w = startWidget()
    w.assisters.open()
    await until(() => expect(w.dialog()).toBeTruthy())
    const css = shadowCss(w)
    expect(css).toMatch(/@media \(max-width: 480px\), \(max-height: 480px\) \{[^@]*textarea \{ font-size: 16px; \}/)
    expect(css).toMatch(/@media \(prefers-color-scheme: dark\) \{ \.root:not\(\.light\) \{ --bg:/)
    expect(css).toMatch(/@media \(prefers-reduced-motion: reduce\) \{ \* \{ animation: none !important; \} \}/)
  })

  it.each([
    ['#1e3a8a', 'light palette only', ['.root { --focus: #1e3a8a; }'], ['.root.dark { --focus: #1e3a8a; }']],
    [
      '#fde68a',
      'dark palette only',
      ['.root.dark { --focus: #fde68a; }', '.root:not(.light) { --focus: #fde68a; }'],
      ['.root { --focus: #fde68a; }'],
    ],
  ])('rings the focus in data-color %s where it stands out at 3:1 (%s)', async (color, _, present, absent) => {
    const w = startWidget({ color })
    w.assisters.open()
    await until(() => expect(w.dialog()).toBeTruthy())
    const css = w.css().replace(/\s+/g, ' ')
    for (const rule of present) expect(css).toContain(rule)
    for (const rule of absent) expect(css).not.toContain(rule)
    // The palette's own ring is still there for the other one.
    expect(css).toMatch(/--focus: #(0b57d0|9ec3ff)/)
  })
})
