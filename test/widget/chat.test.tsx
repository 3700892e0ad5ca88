import { HttpResponse, http } from 'msw'
import { describe, expect, it, vi } from 'vitest'
import { API, DONE, KEY, KEY_URL, controlledStream, delta, errorResponse, onChat, recordRequests, server, sseResponse } from './api-mock.ts'
import { UNREAD_FLAG } from '../../src/storage.ts'
import { panelLoads, setUpWidgetTests, settle, startWidget, until } from './dom.ts'

setUpWidgetTests()

/** A widget whose panel is open, with console noise from expected failures silenced. */
async function openWidget(options = {}) {
  vi.spyOn(console, 'warn').mockImplementation(() => {})
  const w = startWidget(options)
  w.launcher().click()
  await until(() => expect(w.textarea()).toBeTruthy())
  return w
}

async function ask(w: Awaited<ReturnType<typeof openWidget>>, text: string) {
  w.type(text)
  w.press(w.textarea(), 'Enter')
}

describe('opening and closing', () => {
  it('shows only the launcher until the visitor opens it', async () => {
    const w = startWidget()
    await settle()
    expect(w.launcher().getAttribute('aria-label')).toBe('Open chat')
    expect(w.dialog()).toBeNull()
    expect(w.$('textarea')).toBeNull()
    // The loader's launcher alone (its dot and its note empty and hidden); the panel was never asked for.
    expect([...w.root().querySelectorAll('*')].map((el) => el.getAttribute('class') ?? el.localName)).toEqual([
      'root bottom-right',
      'launcher',
      'svg',
      'path',
      'badge',
      'note',
    ])
    expect(w.$('.badge')!.hidden).toBe(true)
    expect(w.$('.note')!.textContent).toBe('')
    expect(panelLoads.count).toBe(0)
  })

  it('opens a dialog labelled by its title, with the focus in the composer', async () => {
    const w = startWidget({ title: 'Ask Ada' })
    const opened = vi.fn()
    w.assisters.on('open', opened)
    w.launcher().click()
    await until(() => expect(w.dialog()).toBeTruthy())
    const label = w.root().getElementById(w.dialog()!.getAttribute('aria-labelledby')!)
    expect(label?.textContent).toBe('Ask Ada')
    expect(w.launcher().getAttribute('aria-expanded')).toBe('true')
    await until(() => expect(w.root().activeElement).toBe(w.textarea()))
    expect(opened).toHaveBeenCalledOnce()
  })

  it('closes on Escape and hands the focus back to the launcher', async () => {
    const w = await openWidget()
    const closed = vi.fn()
    w.assisters.on('close', closed)
    await until(() => expect(w.root().activeElement).toBe(w.textarea()))
    w.press(w.textarea(), 'Escape')
    await until(() => expect(w.dialog()).toBeNull())
    expect(w.root().activeElement).toBe(w.launcher())
    expect(w.launcher().getAttribute('aria-expanded')).toBe('false')
    expect(closed).toHaveBeenCalledOnce()
  })

  it('stays open on the Escape that cancels an IME composition', async () => {
    const w = await openWidget()
    w.type('にほ')
    // Chromium sends it so (key Escape, isComposing) when the visitor drops a candidate.
    w.press(w.textarea(), 'Escape', { isComposing: true })
    await settle()
    expect(w.dialog()).not.toBeNull()
  })

  it('closes from the close button in the header, handing the focus to the launcher', async () => {
    const w = await openWidget()
    const close = w.$$('header button').at(-1)!
    expect(close.getAttribute('aria-label')).toBe('Close chat')
    close.focus()
    close.click()
    await until(() => expect(w.dialog()).toBeNull())
    expect(w.root().activeElement).toBe(w.launcher())
  })

  it('starts open with data-open, without taking the focus from the page', async () => {
    const outside = document.createElement('input')
    document.body.append(outside)
    outside.focus()
    const w = startWidget({ open: true })
    await settle()
    expect(w.dialog()).toBeTruthy()
    expect(document.activeElement).toBe(outside)
  })

  it('sits bottom-left when asked', async () => {
    const w = startWidget({ position: 'bottom-left' })
    await settle()
    expect(w.$('.root')!.classList.contains('bottom-left')).toBe(true)
  })

  it('themes the accent from data-color, with readable text on it', () => {
    const w = startWidget({ color: '#ffd600' })
    const css = w.css()
    // happy-dom re-serialises the parsed rules, with spaces after colons and commas.
    expect(css).toMatch(/--accent: ?var\(--assisters-accent, ?#ffd600\)/)
    expect(css).toMatch(/--on-accent: ?var\(--assisters-accent-text, ?#000000\)/)
  })
})

describe('the composer', () => {
  it('sends on Enter and adds a line on Shift+Enter', async () => {
    const requests = recordRequests()
    onChat(() => sseResponse(delta('Hi!'), DONE))
    const w = await openWidget()
    w.type('first line')
    const shifted = w.press(w.textarea(), 'Enter', { shiftKey: true })
    expect(shifted.defaultPrevented).toBe(false)
    await settle()
    expect(requests).toHaveLength(0)
    w.type('first line\nsecond line')
    w.press(w.textarea(), 'Enter')
    await until(() => expect(w.bubbles()).toEqual(['first line\nsecond line', 'Hi!']))
    expect(requests[0]!.body.messages).toEqual([{ role: 'user', content: 'first line\nsecond line' }])
    expect(w.textarea().value).toBe('')
  })

  it('does not send the Enter that confirms an IME composition', async () => {
    const requests = recordRequests()
    const w = await openWidget()
    w.type('にほんご')
    w.press(w.textarea(), 'Enter', { isComposing: true })
    await settle()
    expect(requests).toHaveLength(0)
    expect(w.textarea().value).toBe('にほんご')
  })

  it('does not send the Enter that Safari sends after ending an IME composition (keyCode 229)', async () => {
    const requests = recordRequests()
    const w = await openWidget()
    w.type('日本語')
    w.press(w.textarea(), 'Enter', { keyCode: 229 } as KeyboardEventInit)
    await settle()
    expect(requests).toHaveLength(0)
  })

  it('sends nothing for blank text', async () => {
    const requests = recordRequests()
    const w = await openWidget()
    w.type('   \n ')
    w.press(w.textarea(), 'Enter')
    await settle()
    expect(requests).toHaveLength(0)
    expect(w.$<HTMLButtonElement>('.send')!.disabled).toBe(true)
  })

  it('offers starter prompts until the first message, and sends the one clicked', async () => {
    const requests = recordRequests()
    onChat(() => sseResponse(delta('We open at 9.'), DONE))
    const w = await openWidget({ starters: 'Opening hours?|Prices?' })
    expect(w.$$('.starter').map((b) => b.textContent)).toEqual(['Opening hours?', 'Prices?'])
    w.$$('.starter')[0]!.click()
    await until(() => expect(w.bubbles()).toEqual(['Opening hours?', 'We open at 9.']))
    expect(w.$$('.starter')).toHaveLength(0)
    expect(requests[0]!.body.messages.at(-1)!.content).toBe('Opening hours?')
    // The starter is gone: the focus went to the composer, not to the page.
    expect(w.root().activeElement).toBe(w.textarea())
  })

  it('sends the conversation so far with each question', async () => {
    const requests = recordRequests()
    onChat(() => sseResponse(delta('Answer.'), DONE))
    const w = await openWidget()
    await ask(w, 'One')
    await until(() => expect(w.bubbles()).toHaveLength(2))
    await ask(w, 'Two')
    await until(() => expect(w.bubbles()).toHaveLength(4))
    expect(requests[1]!.body.messages).toEqual([
      { role: 'user', content: 'One' },
      { role: 'assistant', content: 'Answer.' },
      { role: 'user', content: 'Two' },
    ])
  })
})

describe('a streamed answer', () => {
  it('shows a typing indicator, then the answer growing, in a live region that is busy until it is complete', async () => {
    const stream = controlledStream()
    onChat((request) => stream.response(request))
    const w = await openWidget()
    const messages = vi.fn()
    w.assisters.on('message', messages)
    await ask(w, 'Tell me')
    await until(() => expect(w.$('.typing')).toBeTruthy())
    expect(w.log().getAttribute('aria-live')).toBe('polite')
    expect(w.log().getAttribute('aria-busy')).toBe('true')
    stream.push(delta('Once upon'))
    await until(() => expect(w.bubbles()).toEqual(['Tell me', 'Once upon']))
    expect(w.$('.typing')).toBeNull()
    expect(w.button('Stop answering')).toBeTruthy()
    stream.push(delta(' a time.'))
    await until(() => expect(w.bubbles()).toEqual(['Tell me', 'Once upon a time.']))
    expect(w.log().getAttribute('aria-busy')).toBe('true')
    stream.push(DONE)
    stream.end()
    await until(() => expect(w.log().getAttribute('aria-busy')).toBe('false'))
    expect(messages.mock.calls.map(([m]) => m)).toEqual([
      { role: 'user', content: 'Tell me' },
      { role: 'assistant', content: 'Once upon a time.' },
    ])
  })

  it('changes only the growing message while tokens arrive', async () => {
    onChat(() => sseResponse(delta('Earlier answer'), DONE))
    const w = await openWidget()
    await ask(w, 'First')
    await until(() => expect(w.log().getAttribute('aria-busy')).toBe('false'))
    const stream = controlledStream()
    onChat((request) => stream.response(request))
    await ask(w, 'Second')
    stream.push(delta('Tok'))
    await until(() => expect(w.bubbles().at(-1)).toBe('Tok'))
    const growing = w.$$('.answer').at(-1)!
    const touched: Node[] = []
    const observer = new MutationObserver((records) => touched.push(...records.map((r) => r.target)))
    observer.observe(w.log(), { subtree: true, childList: true, characterData: true, attributes: true })
    for (const piece of ['en', ' by', ' token']) stream.push(delta(piece))
    await until(() => expect(w.bubbles().at(-1)).toBe('Token by token'))
    await settle()
    observer.disconnect()
    expect(touched.length).toBeGreaterThan(0)
    expect(touched.every((node) => growing.contains(node))).toBe(true)
    stream.push(DONE)
    stream.end()
  })

  it('renders markdown in answers as elements, and model HTML as text', async () => {
    onChat(() => sseResponse(delta('**Bold** and `code` <img src=x onerror=alert(1)>'), DONE))
    const w = await openWidget()
    await ask(w, 'Format?')
    await until(() => expect(w.$('.answer strong')?.textContent).toBe('Bold'))
    expect(w.$('.answer code')?.textContent).toBe('code')
    expect(w.$('.answer img')).toBeNull()
    expect(w.$('.answer')!.textContent).toContain('<img src=x onerror=alert(1)>')
  })

  it('stops on request, keeping what arrived and letting the visitor send again', async () => {
    const stream = controlledStream()
    onChat((request) => stream.response(request))
    const w = await openWidget()
    await ask(w, 'Long story please')
    stream.push(delta('It was a dark'))
    await until(() => expect(w.bubbles().at(-1)).toBe('It was a dark'))
    w.button('Stop answering').click()
    await until(() => expect(w.$('button[aria-label="Send message"]')).toBeTruthy())
    expect(w.bubbles()).toEqual(['Long story please', 'It was a dark'])
    expect(w.errorText()).toBeNull()
    expect(w.log().getAttribute('aria-busy')).toBe('false')
  })

  it('hands the focus to the composer when the focused Stop turns into a Send with nothing to send', async () => {
    const stream = controlledStream()
    onChat((request) => stream.response(request))
    const w = await openWidget()
    await ask(w, 'Long story please')
    stream.push(delta('It was a dark'))
    // Stopped from the keyboard: Stop has the focus.
    const stop = w.button('Stop answering')
    stop.focus()
    stop.click()
    await until(() => expect(w.$('button[aria-label="Send message"]')).toBeTruthy())
    expect(w.root().activeElement).toBe(w.textarea())

    // An answer that ends while the focus rests on Stop.
    onChat(() => sseResponse(delta('Short.'), DONE))
    await ask(w, 'Short one?')
    w.button('Stop answering').focus()
    await until(() => expect(w.bubbles().at(-1)).toBe('Short.'))
    await until(() => expect(w.$('button[aria-label="Send message"]')).toBeTruthy())
    expect(w.root().activeElement).toBe(w.textarea())
  })

  it('offers to copy a finished answer', async () => {
    onChat(() => sseResponse(delta('Copy **me**'), DONE))
    const w = await openWidget()
    await ask(w, 'Q')
    await until(() => expect(w.button('Copy answer')).toBeTruthy())
    w.button('Copy answer').click()
    await until(() => expect(w.button('Copied')).toBeTruthy())
    expect(await navigator.clipboard.readText()).toBe('Copy **me**')
  })

  it('marks answers that land while the chat is closed as unread', async () => {
    const stream = controlledStream()
    onChat((request) => stream.response(request))
    const w = await openWidget()
    await ask(w, 'Ping')
    w.assisters.close()
    stream.push(delta('Pong'))
    stream.push(DONE)
    stream.end()
    await until(() => expect(w.launcher().getAttribute('aria-label')).toBe('Open chat (new answer)'))
    expect(w.$('.badge:not([hidden])')).toBeTruthy()
    w.launcher().click()
    await until(() => expect(w.$('.badge:not([hidden])')).toBeNull())
    expect(w.bubbles()).toEqual(['Ping', 'Pong'])
  })

  it('forgets an unread answer with the conversation on reset(): no dot for nothing, and no flag for the next page', async () => {
    onChat(() => sseResponse(delta('Pong'), DONE))
    const w = await openWidget()
    w.assisters.close()
    w.assisters.send('Ping')
    w.assisters.close()
    await until(() => expect(w.$('.badge:not([hidden])')).toBeTruthy())
    w.assisters.reset()
    await until(() => expect(w.$('.badge:not([hidden])')).toBeNull())
    expect(w.launcher().getAttribute('aria-label')).toBe('Open chat')
    expect(localStorage.getItem(UNREAD_FLAG)).toBeNull()
  })

  describe('a stored unread answer, a sign of intent on the next page', () => {
    const STORE = `assisters:${API}:${KEY.slice(0, 12)}`

    /** A page where an answer landed while the chat was closed, then went away: the flag is left behind. */
    async function leaveUnread() {
      onChat(() => sseResponse(delta('Pong'), DONE))
      const w = await openWidget()
      await ask(w, 'Ping')
      await until(() => expect(w.bubbles()).toEqual(['Ping', 'Pong']))
      w.assisters.close()
      expect(localStorage.getItem(UNREAD_FLAG)).toBeNull()
      onChat(() => sseResponse(delta('Pong again'), DONE))
      w.assisters.send('Ping again')
      w.assisters.close()
      await until(() => expect(localStorage.getItem(UNREAD_FLAG)).toBe(STORE))
      w.assisters.destroy()
    }

    it('is flagged while unread, and the flag is lowered on opening', async () => {
      await leaveUnread()
      const w = startWidget()
      await until(() => expect(w.$('.badge:not([hidden])')).toBeTruthy())
      w.launcher().click()
      await until(() => expect(w.$('.badge:not([hidden])')).toBeNull())
      expect(localStorage.getItem(UNREAD_FLAG)).toBeNull()
    })

    it('brings the panel in when the page is idle, with the dot and its name on the launcher', async () => {
      await leaveUnread()
      panelLoads.count = 0
      const w = startWidget()
      expect(panelLoads.count).toBe(0) // not during the page's load
      await until(() => expect(panelLoads.count).toBe(1))
      await until(() => expect(w.launcher().getAttribute('aria-label')).toBe('Open chat (new answer)'))
      expect(w.dialog()).toBeNull()
    })

    it("loads the panel for another conversation's flag, but shows no dot and leaves that flag alone", async () => {
      localStorage.setItem(UNREAD_FLAG, 'assisters:https://elsewhere.test:ask_Other123')
      const w = startWidget()
      await until(() => expect(panelLoads.count).toBe(1))
      await settle()
      expect(w.$('.badge:not([hidden])')).toBeNull()
      w.launcher().click()
      await until(() => expect(w.dialog()).toBeTruthy())
      expect(localStorage.getItem(UNREAD_FLAG)).toBe('assisters:https://elsewhere.test:ask_Other123')
    })

    it('costs nothing where storage is blocked', async () => {
      // As a browser that blocks storage does: reading window.localStorage throws.
      vi.spyOn(window, 'localStorage', 'get').mockImplementation(() => {
        throw new DOMException('blocked', 'SecurityError')
      })
      const errors = vi.fn()
      window.addEventListener('error', errors)
      const w = startWidget()
      await settle()
      window.removeEventListener('error', errors)
      expect(errors).not.toHaveBeenCalled()
      expect(panelLoads.count).toBe(0)
      w.launcher().click()
      await until(() => expect(w.dialog()).toBeTruthy())
    })
  })
})

describe('errors, in words a visitor understands', () => {
  it.each([
    [401, 'invalid_api_key', "This chat isn't set up correctly"],
    [403, 'origin_not_allowed', "This chat isn't enabled for this website"],
    [413, 'request_too_large', "This message couldn't be sent"],
  ])('explains a %i without offering a pointless retry', async (status, code, words) => {
    onChat(() => errorResponse(status, code, 'server words'))
    const w = await openWidget()
    const errors = vi.fn()
    w.assisters.on('error', errors)
    await ask(w, 'Hello')
    await until(() => expect(w.errorText()).toContain(words))
    expect(w.$$('.retry')).toHaveLength(0)
    expect(errors).toHaveBeenCalledWith(expect.objectContaining({ status, detail: 'server words' }))
    // The site owner's console gets the code, the status and the server's own words (and, for a key or origin, what to change).
    expect(console.warn).toHaveBeenCalledWith(
      '[Assisters]',
      expect.any(String),
      status,
      'server words',
      ...(status === 413 ? [] : [expect.any(String)]),
    )
  })

  it.each([
    ['a 502', () => errorResponse(502, 'upstream_error', 'x'), "The assistant couldn't answer"],
    ['a 504', () => errorResponse(504, 'upstream_timeout', 'x'), "The assistant couldn't answer"],
    ['a lost connection', () => HttpResponse.error(), 'You seem to be offline'],
  ])('explains %s and retries the same question on request', async (_, failing, words) => {
    const requests = recordRequests()
    onChat(failing)
    const w = await openWidget()
    await ask(w, 'Are you there?')
    await until(() => expect(w.errorText()).toContain(words))
    onChat(() => sseResponse(delta('Yes.'), DONE))
    w.button('Try again').click()
    await until(() => expect(w.bubbles()).toEqual(['Are you there?', 'Yes.']))
    expect(w.errorText()).toBeNull()
    expect(w.root().activeElement).toBe(w.textarea())
    expect(requests.map((r) => r.body.messages)).toEqual([
      [{ role: 'user', content: 'Are you there?' }],
      [{ role: 'user', content: 'Are you there?' }],
    ])
  })

  it('treats an answer that ends with nothing in it as cut off', async () => {
    onChat(() => sseResponse(DONE))
    const w = await openWidget()
    const messages = vi.fn()
    w.assisters.on('message', messages)
    w.assisters.close()
    await ask(w, 'Hello?')
    await until(() => expect(w.launcher().getAttribute('aria-label')).toBe('Open chat'))
    w.assisters.open()
    await until(() => expect(w.errorText()).toContain('The answer was cut off'))
    expect(w.bubbles()).toEqual(['Hello?'])
    expect(messages.mock.calls.map(([m]) => m.role)).toEqual(['user'])
    expect(w.$('.badge:not([hidden])')).toBeNull()
  })

  it('keeps a cut-off answer visible, and replaces it on retry', async () => {
    const errorEvent = `data: ${JSON.stringify({ error: { message: 'upstream broke', code: 'upstream_error' } })}\n\n`
    onChat(() => sseResponse(delta('The first half'), errorEvent))
    const w = await openWidget()
    await ask(w, 'Explain')
    await until(() => expect(w.errorText()).toContain('The answer was cut off'))
    expect(w.bubbles()).toEqual(['Explain', 'The first half'])
    onChat(() => sseResponse(delta('The whole answer'), DONE))
    w.button('Try again').click()
    await until(() => expect(w.bubbles()).toEqual(['Explain', 'The whole answer']))
  })

  it('counts down a 429 from Retry-After, then lets the visitor send again', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    onChat(() => errorResponse(429, 'rate_limit_exceeded', 'Rate limit reached', { 'retry-after': '3' }))
    const w = await openWidget()
    await ask(w, 'Quick question')
    await until(() => expect(w.errorText()).toContain('You can send again in 3 s.'))
    expect(w.$$('.retry')).toHaveLength(0)
    w.type('Another')
    expect(w.$<HTMLButtonElement>('.send')!.disabled).toBe(true)
    vi.advanceTimersByTime(1000)
    await until(() => expect(w.errorText()).toContain('You can send again in 2 s.'))
    vi.advanceTimersByTime(2000)
    await until(() => expect(w.$$('.retry')).toHaveLength(1))
    expect(w.errorText()).not.toContain('You can send again in')
    expect(vi.getTimerCount()).toBe(0)
    onChat(() => sseResponse(delta('Sure.'), DONE))
    w.press(w.textarea(), 'Enter')
    await until(() => expect(w.bubbles()).toEqual(['Quick question', 'Another', 'Sure.']))
    expect(w.errorText()).toBeNull()
  })

  it('hides the ticking seconds from screen readers', async () => {
    onChat(() => errorResponse(429, 'rate_limit_exceeded', 'Rate limit reached', { 'retry-after': '30' }))
    const w = await openWidget()
    await ask(w, 'Hi')
    await until(() => expect(w.errorText()).toContain('30 s'))
    expect(w.$('[role="alert"] [aria-hidden="true"]')!.textContent).toContain('30 s')
  })
})

describe('the key check on opening (GET /v1/key)', () => {
  /** Answers the key check with `respond`, counting the requests and their Authorization headers. */
  function onCheck(respond: () => Response | Promise<Response>) {
    const seen: (string | null)[] = []
    server.use(http.get(KEY_URL, ({ request }) => (seen.push(request.headers.get('authorization')), respond())))
    return seen
  }

  it.each([
    [
      403,
      'origin_not_allowed',
      "This chat isn't enabled for this website",
      `This page's origin is ${location.origin}: add ${location.host} to the key's allowed domains.`,
    ],
    [401, 'invalid_api_key', "This chat isn't set up correctly", 'The key is unknown or revoked: check data-key.'],
  ])('shows a %i before anyone types, and tells the console what to change', async (status, code, words, fix) => {
    const checks = onCheck(() => errorResponse(status, code, 'server words'))
    const chats = recordRequests()
    const errors = vi.fn()
    vi.spyOn(console, 'warn').mockImplementation(() => {})
    const w = startWidget()
    w.assisters.on('error', errors)
    w.launcher().click()
    await until(() => expect(w.errorText()).toContain(words))
    expect(w.$$('.retry')).toHaveLength(0)
    expect(checks).toEqual([`Bearer ${KEY}`])
    expect(chats).toHaveLength(0)
    expect(console.warn).toHaveBeenCalledWith('[Assisters]', code, status, 'server words', fix)
    expect(errors).toHaveBeenCalledWith(expect.objectContaining({ code, status, detail: 'server words' }))
  })

  it('asks once per page, and says nothing when the key and origin are accepted', async () => {
    const checks = onCheck(() => HttpResponse.json({ ok: true }))
    const w = await openWidget()
    await until(() => expect(checks).toHaveLength(1))
    w.assisters.close()
    w.assisters.open()
    await settle()
    expect(checks).toHaveLength(1)
    expect(w.errorText()).toBeNull()
  })

  it.each([
    ['busy (429)', () => errorResponse(429, 'rate_limit_exceeded', 'Too many key checks', { 'retry-after': '5' })],
    ['failing (500)', () => errorResponse(500, 'internal_error', 'x')],
    ['unreachable', () => HttpResponse.error()],
  ])('says nothing when the check is %s: the chat itself will tell', async (_, respond) => {
    const checks = onCheck(respond)
    onChat(() => sseResponse(delta('Hi'), DONE))
    const w = await openWidget()
    await until(() => expect(checks).toHaveLength(1))
    await settle()
    expect(w.errorText()).toBeNull()
    await ask(w, 'Hello')
    await until(() => expect(w.bubbles()).toEqual(['Hello', 'Hi']))
  })

  it('does not tell twice what the question already heard', async () => {
    let answerCheck!: () => void
    onCheck(() => new Promise((resolve) => (answerCheck = () => resolve(errorResponse(403, 'origin_not_allowed', 'no')))))
    onChat(() => errorResponse(403, 'origin_not_allowed', 'no'))
    const errors = vi.fn()
    const w = await openWidget()
    w.assisters.on('error', errors)
    await ask(w, 'Hello')
    await until(() => expect(errors).toHaveBeenCalledTimes(1))
    answerCheck()
    await settle()
    expect(errors).toHaveBeenCalledTimes(1)
  })

  it('lets an answer that comes after destroy() touch nothing', async () => {
    let answerCheck!: () => void
    onCheck(() => new Promise((resolve) => (answerCheck = () => resolve(errorResponse(403, 'origin_not_allowed', 'no')))))
    const errors = vi.fn()
    const w = await openWidget()
    w.assisters.on('error', errors)
    await until(() => expect(answerCheck).toBeTypeOf('function'))
    w.assisters.destroy()
    answerCheck()
    await settle()
    expect(errors).not.toHaveBeenCalled()
  })
})
