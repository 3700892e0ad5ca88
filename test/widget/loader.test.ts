import { describe, expect, it, vi } from 'vitest'
import { createAssisters } from '../../src/assisters.ts'
import { HOST_TAG } from '../../src/launcher.ts'
import type { MountPanel } from '../../src/panel-host.ts'
import { API, DONE, KEY, delta, onChat, recordRequests, sseResponse } from './api-mock.ts'
import { mountPanel, setUpWidgetTests, settle, until, view } from './dom.ts'

setUpWidgetTests()

/** A widget whose panel arrives only when the test says: each load is a promise the test settles. */
function startWithSlowPanel(options: { open?: boolean } = {}) {
  const loads: { resolve: (mount: MountPanel) => void; reject: (err: Error) => void }[] = []
  const assisters = createAssisters(API, () => new Promise<MountPanel>((resolve, reject) => void loads.push({ resolve, reject })))
  assisters.init({ key: KEY, ...options })
  const w = view()
  return {
    assisters,
    loads,
    ...w,
    /** Lets the pending load succeed with the real panel. */
    async arrive() {
      loads.at(-1)!.resolve(mountPanel)
      await settle()
    },
    async fail() {
      loads.at(-1)!.reject(new Error('https://api.assisters.test/panel-0123456789.js did not load'))
      await settle()
    },
    note: () => w.$('.note')!.textContent,
  }
}

describe('the loader', () => {
  it('asks for the panel on the first sign of intent, once: pointer over, focus, touch or click', async () => {
    for (const type of ['pointerenter', 'focus', 'touchstart', 'click']) {
      const w = startWithSlowPanel()
      expect(w.loads).toHaveLength(0)
      w.launcher().dispatchEvent(new Event(type))
      w.launcher().dispatchEvent(new Event(type))
      expect(w.loads, type).toHaveLength(1)
      w.assisters.destroy()
    }
  })

  it('honours every call made before the panel arrives, in order, and on() listeners hear them', async () => {
    const requests = recordRequests()
    onChat(() => sseResponse(delta('Hello there'), DONE))
    const w = startWithSlowPanel()
    const events: string[] = []
    for (const name of ['open', 'close', 'message'] as const)
      w.assisters.on(name, (payload) => events.push(payload ? `${name}:${payload.role}` : name))
    w.assisters.open()
    expect(w.assisters.send('Hi')).toBe(true)
    w.assisters.close()
    expect(w.loads).toHaveLength(1)
    expect(events).toEqual([])
    await w.arrive()
    await until(() => expect(events).toEqual(['open', 'message:user', 'close', 'message:assistant']))
    expect(requests.map((r) => r.body.messages)).toEqual([[{ role: 'user', content: 'Hi' }]])
    expect(w.dialog()).toBeNull()
    expect(w.launcher().getAttribute('aria-label')).toBe('Open chat (new answer)')
  })

  it('refuses before the panel what the panel would refuse: nothing to send, or a second question on its way', async () => {
    onChat(() => sseResponse(delta('Yes'), DONE))
    const w = startWithSlowPanel()
    expect(w.assisters.send('   ')).toBe(false)
    expect(w.loads).toHaveLength(0) // nothing to send asks for nothing
    expect(w.assisters.send('One')).toBe(true)
    expect(w.assisters.send('Two')).toBe(false)
    w.assisters.reset()
    expect(w.assisters.send('Three')).toBe(true)
    await w.arrive()
    await until(() => expect(w.bubbles()).toEqual(['Three', 'Yes']))
  })

  it('takes calls made while the panel loads, and calls after it arrives go straight to it', async () => {
    const w = startWithSlowPanel()
    w.launcher().dispatchEvent(new Event('pointerenter'))
    w.assisters.toggle()
    await w.arrive()
    expect(w.dialog()).toBeTruthy()
    w.assisters.close()
    await settle()
    expect(w.dialog()).toBeNull()
    expect(w.loads).toHaveLength(1)
  })

  it('opens once for a visitor who clicks again while the panel loads (a slow link), and toggles once it is there', async () => {
    const w = startWithSlowPanel()
    w.launcher().click()
    w.launcher().click()
    await w.arrive()
    expect(w.dialog()).toBeTruthy()
    w.launcher().click()
    await settle()
    expect(w.dialog()).toBeNull()
  })

  it('needs no panel to close a chat that never opened', () => {
    const w = startWithSlowPanel()
    w.assisters.close()
    expect(w.loads).toHaveLength(0)
  })

  it('loads at once with data-open, and opens without taking the page’s focus', async () => {
    const input = document.body.appendChild(document.createElement('input'))
    input.focus()
    const w = startWithSlowPanel({ open: true })
    expect(w.loads).toHaveLength(1)
    await w.arrive()
    expect(w.dialog()).toBeTruthy()
    expect(document.activeElement).toBe(input)
  })

  it('mounts nothing when destroy() comes while the panel loads, and runs none of the queued calls', async () => {
    const requests = recordRequests()
    const w = startWithSlowPanel()
    w.assisters.send('Anyone?')
    w.assisters.destroy()
    expect(document.querySelector(HOST_TAG)).toBeNull()
    await w.arrive()
    expect(document.querySelector(HOST_TAG)).toBeNull()
    expect(requests).toEqual([])
  })

  it('treats a panel that fails to mount as one that failed to load', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {})
    const w = startWithSlowPanel()
    w.launcher().click()
    w.loads[0]!.resolve(async () => {
      throw new Error('mount failed')
    })
    await settle()
    expect(w.note()).toBe("The chat couldn't load. Try again.")
    w.launcher().click()
    expect(w.loads).toHaveLength(2)
  })

  it('says so on the launcher when the panel cannot load, drops what was asked meanwhile, and tries again on the next click', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const requests = recordRequests()
    onChat(() => sseResponse(delta('Back'), DONE))
    const w = startWithSlowPanel()
    expect(w.note()).toBe('')
    w.assisters.send('Lost?')
    await w.fail()
    expect(w.note()).toBe("The chat couldn't load. Try again.")
    expect(w.$('.note')!.getAttribute('role')).toBe('status')
    expect(warn).toHaveBeenCalledWith(
      '[Assisters] the chat panel could not load:',
      expect.objectContaining({ message: expect.stringContaining('panel-0123456789.js') }),
    )
    expect(w.dialog()).toBeNull()

    w.launcher().click()
    expect(w.loads).toHaveLength(2)
    await w.arrive()
    expect(w.note()).toBe('')
    await until(() => expect(w.dialog()).toBeTruthy())
    expect(requests).toEqual([]) // the question asked while it failed was not sent later by surprise
  })
})
