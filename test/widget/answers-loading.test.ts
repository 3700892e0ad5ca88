/**
 * The answers' file (src/answers-file.ts: the stream reader and the markdown renderer), which the
 * panel asks for once it has mounted: asked for once; answers in plain text (their lines kept) until
 * it arrives; a question sent before it arrives waits for it; a file that cannot load leaves answers
 * readable, turns a question into a connection error with "Try again", and is asked for again at the
 * next opening or try. Its script element and integrity check run in the browser suite
 * (test/e2e/loader.test.ts).
 */
import { describe, expect, it, vi } from 'vitest'
import { createAssisters } from '../../src/assisters.ts'
import type { Answers } from '../../src/mount.ts'
import { createMountPanel } from '../../src/mount.ts'
import { API, DONE, KEY, delta, onChat, recordRequests, sseResponse } from './api-mock.ts'
import { answersHere, loadWordsHere, setUpWidgetTests, settle, until, view } from './dom.ts'

setUpWidgetTests()

const ANSWER = '**Bold** and `code`\nsecond line'
const FAILED = 'https://api.assisters.test/panel-answers-0123456789.js did not load'

/** A widget whose answers' file arrives only when the test says: each ask is a promise the test settles. */
function startWithSlowAnswers() {
  const asks: { resolve: (answers: Answers) => void; reject: (err: Error) => void }[] = []
  const mountPanel = createMountPanel(loadWordsHere, () => new Promise((resolve, reject) => void asks.push({ resolve, reject })))
  const assisters = createAssisters(API, async () => mountPanel)
  assisters.init({ key: KEY })
  return { assisters, asks, ...view() }
}

/** Opens the chat once the file has come (or failed), and has history to show: a question and its answer, stored. */
function storeConversation() {
  localStorage.setItem(
    `assisters:${API}:${KEY.slice(0, 12)}`,
    JSON.stringify([
      { role: 'user', content: 'Format?' },
      { role: 'assistant', content: ANSWER },
    ]),
  )
}

describe('the answers’ file', () => {
  it('is asked for once, as soon as the panel has mounted, however often the chat opens, closes and answers', async () => {
    const w = startWithSlowAnswers()
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
    w.asks[0]!.resolve(answersHere)
    w.assisters.open()
    for (const question of ['One?', 'Two?']) {
      onChat(() => sseResponse(delta(`About ${question}`), DONE))
      w.assisters.send(question)
      await until(() => expect(w.bubbles().at(-1)).toBe(`About ${question}`))
      await until(() => expect(w.$('button[type="submit"]')).toBeTruthy())
    }
    expect(w.asks).toHaveLength(1)
  })

  it('shows stored answers as plain text, their lines kept, until it arrives; then as markdown', async () => {
    storeConversation()
    const w = startWithSlowAnswers()
    w.assisters.open()
    await until(() => expect(w.bubbles()).toEqual(['Format?', ANSWER]))
    const answer = w.$('.answer .msg')!
    expect(answer.classList.contains('plain')).toBe(true)
    expect(answer.children).toHaveLength(0) // text only: no element from the answer
    expect(w.css()).toMatch(/\.plain[^{]*\{[^}]*white-space: pre-wrap/)

    w.asks[0]!.resolve(answersHere)
    await until(() => expect(w.$('.answer strong')?.textContent).toBe('Bold'))
    expect(answer.classList.contains('plain')).toBe(false)
    expect(w.$('.answer code')?.textContent).toBe('code')
    expect(w.$('.answer br')).toBeTruthy()
  })

  it('holds a question sent before it arrives, and sends it once it has', async () => {
    const requests = recordRequests()
    onChat(() => sseResponse(delta(ANSWER), DONE))
    const w = startWithSlowAnswers()
    w.assisters.open()
    await until(() => expect(w.asks).toHaveLength(1))
    expect(w.assisters.send('Format?')).toBe(true)
    await settle()
    expect(requests.filter((request) => request.body)).toEqual([])
    expect(w.$('.typing')).toBeTruthy()

    w.asks[0]!.resolve(answersHere)
    await until(() => expect(w.$('.answer strong')?.textContent).toBe('Bold'))
    expect(requests.filter((request) => request.body)).toHaveLength(1)
  })

  it('leaves stored answers readable when it cannot load, says so, and is asked for again at the next opening', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    storeConversation()
    const w = startWithSlowAnswers()
    w.assisters.open()
    await until(() => expect(w.asks).toHaveLength(1))
    w.asks[0]!.reject(new Error(FAILED))
    await settle()
    expect(warn.mock.calls.map((call) => call.join(' '))).toEqual([
      `[Assisters] answers show as plain text until the answers' file loads (${FAILED})`,
    ])
    expect(w.$('.answer .msg.plain')!.textContent).toBe(ANSWER)
    // Still open, nobody asking: nothing asks again behind the visitor's back.
    await settle()
    expect(w.asks).toHaveLength(1)

    w.assisters.close()
    w.assisters.open()
    await until(() => expect(w.asks).toHaveLength(2))
    w.asks[1]!.resolve(answersHere)
    await until(() => expect(w.$('.answer strong')?.textContent).toBe('Bold'))
  })

  it('turns a question into a connection error when it cannot load, and "Try again" asks for it again', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {})
    const errors: unknown[] = []
    onChat(() => sseResponse(delta(ANSWER), DONE))
    const w = startWithSlowAnswers()
    w.assisters.on('error', (error) => void errors.push(error))
    w.assisters.open()
    await until(() => expect(w.asks).toHaveLength(1))
    w.assisters.send('Format?')
    w.asks[0]!.reject(new Error(FAILED))
    await until(() => expect(w.errorText()).toContain('You seem to be offline. Check your connection.'))
    expect(errors).toEqual([
      { code: 'network_error', message: 'You seem to be offline. Check your connection.', detail: `Error: ${FAILED}`, status: 0 },
    ])

    w.button('Try again').click()
    await until(() => expect(w.asks).toHaveLength(2))
    w.asks[1]!.resolve(answersHere)
    await until(() => expect(w.$('.answer strong')?.textContent).toBe('Bold'))
    expect(w.errorText()).toBeNull()
  })

  it('never touches a destroyed widget when it arrives late', async () => {
    const w = startWithSlowAnswers()
    w.assisters.open()
    await until(() => expect(w.asks).toHaveLength(1))
    w.assisters.destroy()
    w.asks[0]!.resolve(answersHere)
    await settle()
    expect(w.host()).toBeNull()
  })
})
