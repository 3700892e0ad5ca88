import { describe, expect, it, vi } from 'vitest'
import { HOST_TAG } from '../../src/launcher.ts'
import { API, DONE, KEY, controlledStream, delta, onChat, recordRequests, server, sseResponse } from './api-mock.ts'
import { loadPanelHere, setUpWidgetTests, settle, startWidget, until, view } from './dom.ts'

setUpWidgetTests()

// The script tag's loader fetches the panel with a script element; here the panel module stands in,
// asked for by the name and hash the build writes into the loader (vite.config.ts), next to the loader.
const scriptLoads = vi.hoisted(() => ({ calls: [] as string[][] }))
vi.mock('../../src/load-script.ts', async () => ({
  loadScript: (...args: string[]) => (scriptLoads.calls.push(args), import('./dom.ts').then(({ loadPanelHere }) => loadPanelHere())),
}))
Object.assign(globalThis, { __ASSISTERS_PANEL__: { file: 'panel-0123456789.js', integrity: 'sha256-built' } })

/** Runs src/main.ts as the browser would run the script tag: fresh module, currentScript set. */
async function loadScript(attributes: Record<string, string>, src = `${API}/widget.js`) {
  const script = document.createElement('script')
  script.src = src
  for (const [name, value] of Object.entries(attributes)) script.setAttribute(name, value)
  // Not appended: happy-dom would try to fetch it. The widget only reads currentScript.
  vi.spyOn(document, 'currentScript', 'get').mockReturnValue(script)
  vi.resetModules()
  await import('../../src/main.ts')
}

describe('the script tag', () => {
  it('boots from its data-* attributes, with the API at the origin it was served from', async () => {
    const requests: string[] = []
    server.events.on('request:start', ({ request }) => void requests.push(request.url))
    onChat(() => sseResponse(delta('Hi'), DONE))
    scriptLoads.calls.length = 0
    await loadScript({ 'data-key': KEY, 'data-title': 'Shop help', 'data-open': '' })
    const w = view()
    await until(() => expect(w.dialog()).toBeTruthy())
    expect(w.$('.title')!.textContent).toBe('Shop help')
    window.Assisters!.send('Hello')
    // The key check as the chat opens, then the question: both to the API the script came from.
    await until(() => expect(requests).toEqual([`${API}/v1/key`, `${API}/v1/chat/completions`]))
    expect(scriptLoads.calls).toEqual([['panel-0123456789.js', 'sha256-built', `${API}/widget.js`]])
  })

  it('mounts one widget when the script is loaded twice', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {})
    await loadScript({ 'data-key': KEY })
    const first = window.Assisters
    await loadScript({ 'data-key': KEY })
    await settle()
    expect(document.querySelectorAll(HOST_TAG)).toHaveLength(1)
    expect(window.Assisters).toBe(first)
  })

  it('mounts again when a single-page app re-injects the tag after destroy()', async () => {
    await loadScript({ 'data-key': KEY })
    window.Assisters!.destroy()
    expect(document.querySelector(HOST_TAG)).toBeNull()
    await loadScript({ 'data-key': KEY, 'data-title': 'Back again' })
    await settle()
    expect(document.querySelectorAll(HOST_TAG)).toHaveLength(1)
  })

  it('waits for Assisters.init() when the tag carries no key', async () => {
    await loadScript({})
    await settle()
    expect(document.querySelector(HOST_TAG)).toBeNull()
    window.Assisters!.init({ key: KEY, title: 'Later' })
    await settle()
    expect(view().$('.launcher')).toBeTruthy()
  })

  it('mounts with the default for a bad cosmetic attribute, warning once in the console', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    await loadScript({ 'data-key': KEY, 'data-color': '8b3a1a', 'data-title': 'Shop help' })
    await settle()
    expect(view().launcher()).toBeTruthy()
    expect(warn).toHaveBeenCalledOnce()
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(/^\[Assisters\] "color" must be a hex colour .*got "8b3a1a"\); using the default$/),
    )
  })

  it('reports a malformed key in the console and mounts nothing', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    await loadScript({ 'data-key': 'sk-live-123', 'data-color': '#123456' })
    await settle()
    expect(document.querySelector(HOST_TAG)).toBeNull()
    expect(error).toHaveBeenCalledWith(expect.stringContaining('"key"'))
  })

  it('reports a missing key in the console', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    await loadScript({ 'data-key': '' })
    expect(error).toHaveBeenCalledWith(expect.stringContaining('"key"'))
  })
})

describe('window.Assisters', () => {
  it('throws from init() on a malformed key, naming it', () => {
    const { assisters } = startWidget()
    assisters.destroy()
    expect(() => assisters.init({ key: 'ask_' })).toThrow(/"key"/)
    expect(document.querySelector(HOST_TAG)).toBeNull()
  })

  it('mounts from init() with a typo in an option name, warning of it', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const { launcher } = startWidget({ colour: '#fff' } as never)
    expect(launcher()).toBeTruthy()
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('"colour" must be one of the options'))
  })

  it('opens, closes and toggles, firing open and close events', async () => {
    const { assisters, dialog } = startWidget()
    const seen: string[] = []
    assisters.on('open', () => seen.push('open'))
    assisters.on('close', () => seen.push('close'))
    assisters.open()
    assisters.open() // already open: no second event
    await until(() => expect(dialog()).toBeTruthy())
    assisters.toggle()
    await until(() => expect(dialog()).toBeNull())
    assisters.toggle()
    assisters.close()
    expect(seen).toEqual(['open', 'close', 'open', 'close'])
  })

  it('sends a question for the visitor, opening the chat', async () => {
    onChat(() => sseResponse(delta('42'), DONE))
    const w = startWidget()
    expect(w.assisters.send('Meaning of life?')).toBe(true)
    await until(() => expect(w.bubbles()).toEqual(['Meaning of life?', '42']))
    expect(w.dialog()).toBeTruthy()
  })

  it('refuses to send while an answer is streaming', async () => {
    const stream = controlledStream()
    onChat((request) => stream.response(request))
    const { assisters } = startWidget()
    expect(assisters.send('One')).toBe(true)
    expect(assisters.send('Two')).toBe(false)
    stream.push(DONE)
    stream.end()
  })

  it('lets a listener send the next question as soon as an answer lands', async () => {
    onChat(() => sseResponse(delta('First answer'), DONE))
    const { assisters, bubbles } = startWidget()
    const sent: boolean[] = []
    const off = assisters.on('message', ({ role }) => {
      if (role === 'assistant') {
        off()
        sent.push(assisters.send('Follow-up'))
      }
    })
    assisters.send('First')
    await until(() => expect(bubbles()).toEqual(['First', 'First answer', 'Follow-up', 'First answer']))
    expect(sent).toEqual([true])
  })

  it('refuses a second question from a listener while the first is on its way', async () => {
    const requests = recordRequests()
    onChat(() => sseResponse(delta('Only answer'), DONE))
    const { assisters, bubbles } = startWidget()
    const sent: boolean[] = []
    assisters.on('message', ({ role }) => role === 'user' && sent.push(assisters.send('Again')))
    assisters.send('Once')
    await until(() => expect(bubbles()).toEqual(['Once', 'Only answer']))
    expect(sent).toEqual([false])
    expect(requests).toHaveLength(1)
  })

  it('reset() during an answer stops it, and the next question gets its own answer', async () => {
    const stream = controlledStream()
    onChat((request) => stream.response(request))
    const { assisters, bubbles, log } = startWidget()
    const messages = vi.fn()
    assisters.on('message', messages)
    assisters.send('Long one')
    stream.push(delta('Partial'))
    await until(() => expect(bubbles()).toEqual(['Long one', 'Partial']))
    assisters.reset()
    await until(() => expect(bubbles()).toEqual([]))
    expect(stream.cancelled || log().getAttribute('aria-busy') === 'false').toBe(true)
    onChat(() => sseResponse(delta('Fresh'), DONE))
    expect(assisters.send('New one')).toBe(true)
    await until(() => expect(bubbles()).toEqual(['New one', 'Fresh']))
    await settle()
    expect(messages.mock.calls.map(([m]) => m.content)).toEqual(['Long one', 'New one', 'Fresh'])
    expect(JSON.parse(localStorage.getItem(Object.keys(localStorage)[0]!)!)).toEqual([
      { role: 'user', content: 'New one' },
      { role: 'assistant', content: 'Fresh' },
    ])
  })

  it('destroy() during an answer aborts the request and writes nothing afterwards', async () => {
    const stream = controlledStream()
    let aborted = false
    onChat((request) => {
      request.signal.addEventListener('abort', () => (aborted = true))
      return stream.response(request)
    })
    const { assisters, bubbles } = startWidget()
    const events = vi.fn()
    assisters.on('message', events)
    assisters.on('error', events)
    assisters.send('Question')
    stream.push(delta('Half'))
    await until(() => expect(bubbles()).toEqual(['Question', 'Half']))
    const setItem = vi.spyOn(Storage.prototype, 'setItem')
    assisters.destroy()
    await settle()
    expect(aborted).toBe(true)
    expect(setItem).not.toHaveBeenCalled()
    expect(events.mock.calls.map(([m]) => m.role)).toEqual(['user'])
  })

  it('stops calling a listener once unsubscribed, and survives a listener that throws', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    const { assisters } = startWidget()
    const listener = vi.fn()
    const unsubscribe = assisters.on('open', listener)
    assisters.on('open', () => {
      throw new Error('page bug')
    })
    assisters.open()
    await until(() => expect(listener).toHaveBeenCalledOnce())
    unsubscribe()
    assisters.close()
    assisters.open()
    await settle()
    expect(listener).toHaveBeenCalledOnce()
    expect(error).toHaveBeenCalledTimes(2)
  })

  it.each([
    ['unknown event', 'opened', () => {}],
    ['listener that is not a function', 'open', 'nope'],
  ])('refuses an %s', (_, event, listener) => {
    const { assisters } = startWidget()
    expect(() => assisters.on(event as 'open', listener as () => void)).toThrow(/open, close, message, error/)
  })

  it('warns instead of failing when called before init()', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const { createAssisters } = await import('../../src/assisters.ts')
    const assisters = createAssisters(API, loadPanelHere)
    assisters.open()
    expect(assisters.send('hi')).toBe(false)
    expect(warn).toHaveBeenCalled()
    assisters.destroy()
  })

  it('ignores a second init() while running', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const { assisters } = startWidget()
    assisters.init({ key: KEY })
    expect(document.querySelectorAll(HOST_TAG)).toHaveLength(1)
    expect(warn).toHaveBeenCalled()
  })

  it('destroy() removes the element, the listeners and every timer, and init() can mount again', async () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'requestAnimationFrame', 'cancelAnimationFrame'],
    })
    // happy-dom has no visualViewport; a phone browser's would be an EventTarget like this.
    const viewport = Object.assign(new EventTarget(), { height: 600, offsetTop: 0 })
    vi.stubGlobal('visualViewport', viewport)
    const added = vi.spyOn(viewport, 'addEventListener')
    const removed = vi.spyOn(viewport, 'removeEventListener')
    const { assisters } = startWidget()
    assisters.open()
    await vi.advanceTimersByTimeAsync(200)
    expect(added).toHaveBeenCalled()
    assisters.destroy()
    await vi.advanceTimersByTimeAsync(200)
    expect(document.querySelector(HOST_TAG)).toBeNull()
    expect(removed.mock.calls.map(([type]) => type).sort()).toEqual(added.mock.calls.map(([type]) => type).sort())
    expect(vi.getTimerCount()).toBe(0)
    assisters.init({ key: KEY })
    expect(document.querySelectorAll(HOST_TAG)).toHaveLength(1)
  })

  it('leaves no timer running while idle, open or closed', async () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'requestAnimationFrame', 'cancelAnimationFrame'],
    })
    const { assisters } = startWidget()
    await vi.advanceTimersByTimeAsync(200)
    expect(vi.getTimerCount()).toBe(0)
    assisters.open()
    await vi.advanceTimersByTimeAsync(200)
    expect(vi.getTimerCount()).toBe(0)
    assisters.close()
    await vi.advanceTimersByTimeAsync(200)
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('the conversation across page loads', () => {
  async function converse() {
    onChat(() => sseResponse(delta('Stored answer'), DONE))
    const w = startWidget()
    w.assisters.send('Stored question')
    await until(() => expect(w.bubbles().slice(-2)).toEqual(['Stored question', 'Stored answer']))
    await until(() => expect(w.log().getAttribute('aria-busy')).toBe('false'))
    return w
  }

  const storeOldConversation = () =>
    localStorage.setItem(
      `assisters:${API}:${KEY.slice(0, 12)}`,
      JSON.stringify([
        { role: 'user', content: 'Old question' },
        { role: 'assistant', content: 'Old answer' },
      ]),
    )

  it('opens with data-open scrolled to the latest message', async () => {
    storeOldConversation()
    // happy-dom does no layout: give the log the height a browser would, and none while detached.
    vi.spyOn(HTMLElement.prototype, 'scrollHeight', 'get').mockImplementation(function (this: HTMLElement) {
      return this.isConnected && this.classList.contains('log') ? 900 : 0
    })
    const w = startWidget({ open: true })
    await settle()
    expect(w.log().scrollTop).toBe(900)
  })

  it('comes back after a reload', async () => {
    const w = await converse()
    w.assisters.destroy()
    const again = startWidget()
    again.assisters.open()
    await until(() => expect(again.bubbles()).toEqual(['Stored question', 'Stored answer']))
  })

  it('offers to ask again, after a reload, a stored question that got no answer', async () => {
    localStorage.setItem(`assisters:${API}:${KEY.slice(0, 12)}`, JSON.stringify([{ role: 'user', content: 'Still there?' }]))
    const requests = recordRequests()
    onChat(() => sseResponse(delta('Yes, here.'), DONE))
    const w = startWidget()
    w.assisters.open()
    await until(() => expect(w.errorText()).toContain('The answer was cut off.'))
    expect(w.bubbles()).toEqual(['Still there?'])
    w.button('Try again').click()
    await until(() => expect(w.bubbles()).toEqual(['Still there?', 'Yes, here.']))
    expect(requests.map((r) => r.body.messages)).toEqual([[{ role: 'user', content: 'Still there?' }]])
    expect(w.errorText()).toBeNull()
  })

  it('offers to ask again, after a reload, a question whose answer was still streaming when the page went away', async () => {
    const stream = controlledStream()
    onChat((request) => stream.response(request))
    const w = startWidget()
    w.assisters.send('Still there?')
    stream.push(delta('Half'))
    await until(() => expect(w.bubbles()).toEqual(['Still there?', 'Half']))
    // The page goes away mid-answer: like a closed tab, destroy() writes nothing more.
    w.assisters.destroy()

    onChat(() => sseResponse(delta('Yes, here.'), DONE))
    const again = startWidget()
    again.assisters.open()
    await until(() => expect(again.errorText()).toContain('The answer was cut off.'))
    expect(again.bubbles()).toEqual(['Still there?'])
    again.button('Try again').click()
    await until(() => expect(again.bubbles()).toEqual(['Still there?', 'Yes, here.']))
  })

  it('is read from storage when the chat first opens, not at page load', async () => {
    const w = startWidget()
    await settle()
    // Written after the widget mounted: shown only if the opening, not the mount, reads storage.
    storeOldConversation()
    w.assisters.open()
    await until(() => expect(w.bubbles()).toEqual(['Old question', 'Old answer']))
  })

  it('keeps the stored conversation when send() opens the chat', async () => {
    storeOldConversation()
    const w = await converse()
    expect(w.bubbles()).toEqual(['Old question', 'Old answer', 'Stored question', 'Stored answer'])
  })

  it('is stored under the API and key prefix, never the whole key', async () => {
    await converse()
    const names = Object.keys(localStorage)
    expect(names).toEqual([`assisters:${API}:${KEY.slice(0, 12)}`])
    expect(JSON.stringify(localStorage)).not.toContain(KEY)
  })

  it('keeps conversations of different keys apart', async () => {
    const w = await converse()
    w.assisters.destroy()
    const other = startWidget({ key: 'ask_' + 'Zz7'.repeat(14) })
    other.assisters.open()
    await settle()
    expect(other.bubbles()).toEqual([])
  })

  it('is forgotten by reset() and by the new-conversation button', async () => {
    const w = await converse()
    w.assisters.reset()
    await until(() => expect(w.bubbles()).toEqual([]))
    expect(localStorage.length).toBe(0)
    w.assisters.send('Stored question')
    await until(() => expect(w.bubbles()).toEqual(['Stored question', 'Stored answer']))
    await until(() => expect(localStorage.length).toBe(1))
    w.button('Start a new conversation').click()
    await until(() => expect(w.bubbles()).toEqual([]))
    expect(localStorage.length).toBe(0)
  })

  it('ignores storage that is corrupt or of the wrong shape', async () => {
    const name = `assisters:${API}:${KEY.slice(0, 12)}`
    for (const junk of ['{not json', '{"role":"user"}', '[{"role":"system","content":"x"}]', '[{"role":"user","content":5}]']) {
      localStorage.setItem(name, junk)
      const w = startWidget()
      w.assisters.open()
      await settle()
      expect(w.bubbles()).toEqual([])
      w.assisters.destroy()
    }
  })

  it('keeps at most the last 50 messages', async () => {
    const name = `assisters:${API}:${KEY.slice(0, 12)}`
    const turns = Array.from({ length: 80 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `m${i}` }))
    localStorage.setItem(name, JSON.stringify(turns))
    await converse()
    const stored = JSON.parse(localStorage.getItem(name)!)
    expect(stored).toHaveLength(50)
    expect(stored.at(-1)).toEqual({ role: 'assistant', content: 'Stored answer' })
  })

  it('drops the oldest messages to stay under 100,000 characters', async () => {
    const name = `assisters:${API}:${KEY.slice(0, 12)}`
    const turns = Array.from({ length: 10 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: 'x'.repeat(15_000) }))
    localStorage.setItem(name, JSON.stringify(turns))
    await converse()
    expect(localStorage.getItem(name)!.length).toBeLessThanOrEqual(100_000)
    expect(JSON.parse(localStorage.getItem(name)!).at(-1).content).toBe('Stored answer')
  })

  it('still chats when storage throws (blocked or full)', async () => {
    // On the instance: happy-dom binds Storage methods onto it on first use, past any prototype spy.
    const write = vi.spyOn(localStorage, 'setItem').mockImplementation(() => {
      throw new DOMException('quota', 'QuotaExceededError')
    })
    const read = vi.spyOn(localStorage, 'getItem').mockImplementation(() => {
      throw new DOMException('denied', 'SecurityError')
    })
    await converse()
    // The widget did try the storage, both ways, and got on without it.
    expect(read).toHaveBeenCalled()
    expect(write).toHaveBeenCalled()
  })
})
