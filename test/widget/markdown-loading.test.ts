/**
 * The markdown renderer as its own file (src/markdown-file.ts), which the panel asks for once it has
 * mounted: asked for once, answers in plain text (their lines kept) until it arrives, and a renderer
 * that cannot load leaves the answers readable and is asked for again at the next opening. Its
 * script element and integrity check run in the browser suite (test/e2e/loader.test.ts).
 */
import { describe, expect, it, vi } from 'vitest'
import { createAssisters } from '../../src/assisters.ts'
import { createMarkdown } from '../../src/markdown.ts'
import { createMountPanel } from '../../src/mount.ts'
import { API, DONE, KEY, delta, onChat, sseResponse } from './api-mock.ts'
import { loadWordsHere, setUpWidgetTests, settle, until, view } from './dom.ts'

setUpWidgetTests()

const ANSWER = '**Bold** and `code`\nsecond line'

/** A widget whose markdown renderer arrives only when the test says: each ask is a promise the test settles. */
function startWithSlowMarkdown() {
  const asks: { resolve: (create: typeof createMarkdown) => void; reject: (err: Error) => void }[] = []
  const mountPanel = createMountPanel(loadWordsHere, () => new Promise((resolve, reject) => void asks.push({ resolve, reject })))
  const assisters = createAssisters(API, async () => mountPanel)
  assisters.init({ key: KEY })
  return { assisters, asks, ...view() }
}

async function askAndWait(w: ReturnType<typeof startWithSlowMarkdown>) {
  onChat(() => sseResponse(delta(ANSWER), DONE))
  w.assisters.send('Format?')
  await until(() => expect(w.bubbles()).toEqual(['Format?', ANSWER]))
}

describe('the markdown renderer, a file of its own', () => {
  it('is asked for once, as soon as the panel has mounted, however often the chat opens and closes', async () => {
    const w = startWithSlowMarkdown()
    w.launcher().dispatchEvent(new Event('pointerenter'))
    await until(() => expect(w.asks).toHaveLength(1))
    expect(w.dialog()).toBeNull() // mounted closed, on the hover
    for (let i = 0; i < 3; i++) {
      w.assisters.open()
      await settle()
      w.assisters.close()
      await settle()
    }
    expect(w.asks).toHaveLength(1)
    w.asks[0]!.resolve(createMarkdown)
    w.assisters.open()
    await settle()
    expect(w.asks).toHaveLength(1)
  })

  it('shows an answer as plain text, its lines kept, until it arrives; then as markdown', async () => {
    const w = startWithSlowMarkdown()
    w.assisters.open()
    await until(() => expect(w.dialog()).toBeTruthy())
    await askAndWait(w)
    const answer = w.$('.answer .msg')!
    expect(answer.classList.contains('plain')).toBe(true)
    expect(answer.children).toHaveLength(0) // text only: no element from the answer
    expect(w.css()).toMatch(/\.plain[^{]*\{[^}]*white-space: pre-wrap/)

    w.asks[0]!.resolve(createMarkdown)
    await until(() => expect(w.$('.answer strong')?.textContent).toBe('Bold'))
    expect(answer.classList.contains('plain')).toBe(false)
    expect(w.$('.answer code')?.textContent).toBe('code')
    expect(w.$('.answer br')).toBeTruthy()
  })

  it('leaves answers readable as plain text when it cannot load, says so once, and is asked for again at the next opening', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const w = startWithSlowMarkdown()
    w.assisters.open()
    await until(() => expect(w.asks).toHaveLength(1))
    w.asks[0]!.reject(new Error('https://api.assisters.test/panel-markdown-0123456789.js did not load'))
    await settle()
    expect(warn.mock.calls.map((call) => call.join(' '))).toEqual([
      '[Assisters] answers show as plain text until the markdown renderer loads (https://api.assisters.test/panel-markdown-0123456789.js did not load)',
    ])
    await askAndWait(w)
    expect(w.$('.answer .msg.plain')!.textContent).toBe(ANSWER)
    // Still open: nothing asks again behind the visitor's back.
    await settle()
    expect(w.asks).toHaveLength(1)

    w.assisters.close()
    w.assisters.open()
    await until(() => expect(w.asks).toHaveLength(2))
    w.asks[1]!.resolve(createMarkdown)
    await until(() => expect(w.$('.answer strong')?.textContent).toBe('Bold'))
  })

  it('never touches a destroyed widget when it arrives late', async () => {
    const w = startWithSlowMarkdown()
    w.assisters.open()
    await until(() => expect(w.asks).toHaveLength(1))
    w.assisters.destroy()
    w.asks[0]!.resolve(createMarkdown)
    await settle()
    expect(w.host()).toBeNull()
  })
})
