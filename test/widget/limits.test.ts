/**
 * The limits of issue 16 as the visitor meets them: each 429 code in its own words, in English and
 * other languages (Arabic right to left), the countdown where the wait is short, and for a daily
 * budget, hours away, the local time it resets instead.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DONE, delta, errorResponse, onChat, sseResponse } from './api-mock.ts'
import { setUpWidgetTests, settle, startWidget, until } from './dom.ts'

setUpWidgetTests()

/** Opens a widget in `lang` and sends `question`, recording the codes of its error events. */
async function ask(lang: string, question: string) {
  vi.spyOn(console, 'warn').mockImplementation(() => {})
  const w = startWidget({ lang })
  const codes: string[] = []
  w.assisters.on('error', ({ code }) => codes.push(code))
  w.launcher().click()
  await until(() => expect(w.textarea()).toBeTruthy())
  w.type(question)
  w.press(w.textarea(), 'Enter')
  return { ...w, codes, sendButton: () => w.$<HTMLButtonElement>('button[type="submit"]')!, retries: () => w.$$('.retry') }
}

/** The error bar's text with Intl's narrow no-break spaces (as in "9:00 AM") made plain. */
const said = (w: { errorText: () => string | null }) => w.errorText()?.replace(/\s/g, ' ').trim() ?? null

describe('a limit with a short wait', () => {
  it.each([
    ['en', 'visitor_rate_limit_exceeded', "You're sending messages quickly. You can send again in {n} s."],
    ['en', 'visitor_concurrent_streams_exceeded', 'Please wait for the current answer to finish. You can send again in {n} s.'],
    ['en', 'concurrent_streams_exceeded', 'The chat is busy right now. You can send again in {n} s.'],
    ['en', 'rate_limit_exceeded', 'The chat is busy right now. You can send again in {n} s.'],
    ['es', 'visitor_rate_limit_exceeded', 'Estás enviando mensajes muy rápido. Podrás volver a enviar en {n} s.'],
    [
      'de',
      'visitor_concurrent_streams_exceeded',
      'Bitte warten Sie, bis die aktuelle Antwort fertig ist. Sie können in {n} s wieder senden.',
    ],
    ['fr', 'concurrent_streams_exceeded', 'La discussion est très sollicitée en ce moment. Vous pourrez renvoyer un message dans {n} s.'],
    ['ja', 'visitor_rate_limit_exceeded', 'メッセージの送信間隔が短すぎます。 {n} 秒後に再び送信できます。'],
    ['ar', 'visitor_rate_limit_exceeded', 'أنت ترسل الرسائل بسرعة كبيرة. يمكنك الإرسال مجددًا بعد {n} ث.'],
  ])('%s, %s: says so with a countdown, sending disabled until it ends, then sends', async (lang, code, words) => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    onChat(() => errorResponse(429, code, 'A limit was reached', { 'retry-after': '3', 'retry-after-ms': '2400' }))
    const w = await ask(lang, 'Quick question')
    await until(() => expect(said(w)).toBe(words.replace('{n}', '3')))
    expect(w.codes).toEqual([code])
    expect(w.retries()).toHaveLength(0)
    w.type('Another')
    await settle() // the typed text has rendered: only the wait keeps Send disabled
    expect(w.sendButton().disabled).toBe(true)
    w.press(w.textarea(), 'Enter')
    vi.advanceTimersByTime(1000)
    await until(() => expect(said(w)).toBe(words.replace('{n}', '2')))
    expect(w.sendButton().disabled).toBe(true)
    vi.advanceTimersByTime(2000)
    await until(() => expect(w.sendButton().disabled).toBe(false))
    expect(w.retries()).toHaveLength(1)
    expect(vi.getTimerCount()).toBe(0)
    expect(w.textarea().value).toBe('Another') // Enter during the wait sent nothing, and kept the text
    onChat(() => sseResponse(delta('Sure.'), DONE))
    w.press(w.textarea(), 'Enter')
    await until(() => expect(w.bubbles()).toEqual(['Quick question', 'Another', 'Sure.']))
    expect(w.errorText()).toBeNull()
  })

  it('keeps the busy words for a 429 code it does not know', async () => {
    onChat(() => errorResponse(429, 'tokens_per_fortnight_exceeded', 'A new limit', { 'retry-after': '20' }))
    const w = await ask('en', 'Hello')
    await until(() => expect(said(w)).toBe('The chat is busy right now. You can send again in 20 s.'))
    expect(w.codes).toEqual(['rate_limit_exceeded'])
  })

  it('lays the words out right to left in Arabic', async () => {
    onChat(() => errorResponse(429, 'visitor_concurrent_streams_exceeded', 'One answer at a time', { 'retry-after': '2' }))
    const w = await ask('ar', 'مرحبا')
    await until(() => expect(said(w)).toBe('يُرجى الانتظار حتى ينتهي الرد الحالي. يمكنك الإرسال مجددًا بعد 2 ث.'))
    expect(w.$('[role="alert"]')!.closest('[dir]')!.getAttribute('dir')).toBe('rtl')
  })
})

describe('a daily budget spent', () => {
  const zone = process.env.TZ
  afterEach(() => {
    if (zone === undefined) delete process.env.TZ
    else process.env.TZ = zone
  })

  /** 22:00 UTC: the budget resets in two hours, at 09:00 in Tokyo (the visitor's clock and zone, injected). */
  function tenPmUtcInTokyo() {
    process.env.TZ = 'Asia/Tokyo'
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] })
    vi.setSystemTime(new Date('2026-03-10T22:00:00Z'))
  }

  it.each([
    ['en', 'en-US', 'daily_token_limit_reached', 'This chat has reached its limit for today. Try again after 9:00 AM.'],
    ['en', 'en-GB', 'account_daily_token_limit_reached', 'This chat has reached its limit for today. Try again after 09:00.'],
    // The visitor's regional format only when it is the panel's language: a French panel for an English browser.
    ['fr', 'en-US', 'daily_token_limit_reached', "Cette discussion a atteint sa limite pour aujourd'hui. Réessayez après 09:00."],
    ['pt', 'pt-BR', 'account_daily_token_limit_reached', 'Este chat atingiu o limite de hoje. Tente de novo a partir das 09:00.'],
    ['ja', 'ja-JP', 'daily_token_limit_reached', 'このチャットは本日の利用上限に達しました。 9:00 以降にもう一度お試しください。'],
    ['zh', 'zh-CN', 'daily_token_limit_reached', '此聊天今日的使用量已达上限。 请在 09:00 之后再试。'],
    ['ar', 'ar-EG', 'daily_token_limit_reached', 'بلغت هذه المحادثة حدّها لهذا اليوم. يمكنك المحاولة مجددًا بعد الساعة ٩:٠٠ ص.'],
  ])('%s (browser %s), %s: says so with the local time of the reset, no countdown, no retry', async (lang, browser, code, words) => {
    tenPmUtcInTokyo()
    vi.spyOn(navigator, 'language', 'get').mockReturnValue(browser)
    onChat(() => errorResponse(429, code, 'Daily token limit reached; resets at 00:00 UTC', { 'retry-after': '7200' }))
    const w = await ask(lang, 'One more question')
    await until(() => expect(said(w)).toBe(words))
    expect(w.codes).toEqual([code])
    expect(w.retries()).toHaveLength(0)
    expect(vi.getTimerCount()).toBe(0)
    // Nothing to count down for hours: the visitor may still write (the server answers the same until the reset).
    w.type('Still there?')
    await until(() => expect(w.sendButton().disabled).toBe(false))
  })

  it('keeps the time of the reset when the panel opens again later', async () => {
    tenPmUtcInTokyo()
    onChat(() => errorResponse(429, 'daily_token_limit_reached', 'Daily token limit reached', { 'retry-after': '7200' }))
    const w = await ask('en', 'Hello')
    await until(() => expect(said(w)).toContain('Try again after 9:00 AM.'))
    w.assisters.close()
    vi.setSystemTime(new Date('2026-03-10T23:30:00Z'))
    w.assisters.open()
    await until(() => expect(said(w)).toBe('This chat has reached its limit for today. Try again after 9:00 AM.'))
  })

  it('names no time when the server gave none', async () => {
    onChat(() => errorResponse(429, 'account_daily_token_limit_reached', 'Daily token limit reached'))
    const w = await ask('en', 'Hello')
    await until(() => expect(said(w)).toBe('This chat has reached its limit for today.'))
    expect(w.retries()).toHaveLength(0)
  })

  it('lays the words out right to left in Arabic', async () => {
    onChat(() => errorResponse(429, 'daily_token_limit_reached', 'Daily token limit reached'))
    const w = await ask('ar', 'مرحبا')
    await until(() => expect(said(w)).toBe('بلغت هذه المحادثة حدّها لهذا اليوم.'))
    expect(w.dialog()!.getAttribute('dir')).toBe('rtl')
  })

  it('lets the owner say it in their own words', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {})
    onChat(() => errorResponse(429, 'daily_token_limit_reached', 'Daily token limit reached'))
    const w = startWidget({ strings: { daily_token_limit_reached: 'We are closed until tomorrow. Email us at help@shop.example.' } })
    w.assisters.send('Hello')
    await until(() => expect(said(w)).toBe('We are closed until tomorrow. Email us at help@shop.example.'))
  })
})
