/**
 * The one upstream double of the tests: a real server on a loopback socket, for what msw cannot
 * show (an abort reaching the upstream, TCP backpressure, a reset) and for the browser suite and
 * `npm start`, which need a real upstream. By default it is OpenAI-compatible and streams a scripted
 * answer piece by piece with a pause between pieces, so a growing answer can be seen; by default
 * that answer echoes the question. A test that wants a fault gives its own handler instead.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { sleep } from './sleep.ts'

export interface ScriptedAnswer {
  pieces: string[]
  /** Pause before each piece. */
  delayMs: number
}

type ChatBody = {
  messages: { role: string; content: string }[]
  stream?: boolean
  stream_options?: { include_usage?: boolean }
}
type Handler = (request: IncomingMessage, response: ServerResponse) => void

const echo = (body: ChatBody): ScriptedAnswer => {
  const question = body.messages.findLast((message) => message.role === 'user')?.content ?? ''
  return { pieces: ['You ', 'asked: ', `“${question}”. `, 'This ', 'answer ', 'streams.'], delayMs: 20 }
}

/**
 * Starts the double: `handle` replaces the scripted upstream. `port` 0 picks a free one; a given
 * one lets a test bring an upstream up where there was none.
 */
export async function startUpstreamDouble(handle?: Handler, port = 0) {
  let answer: (body: ChatBody) => ScriptedAnswer = echo
  const requests: ChatBody[] = []
  const outcome = { completed: 0, aborted: 0 }

  const scripted: Handler = async (req, res) => {
    let raw = ''
    for await (const chunk of req) raw += chunk
    const body = JSON.parse(raw) as ChatBody
    requests.push(body)
    const { pieces, delayMs } = answer(body)
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(completion(pieces.join(''))))
      return
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    for (const piece of pieces) {
      await sleep(delayMs)
      // The relay closes this socket when the visitor's request is aborted.
      if (res.destroyed) return void outcome.aborted++
      res.write(`data: ${JSON.stringify(chunk({ content: piece }))}\n\n`)
    }
    res.write(`data: ${JSON.stringify(chunk({}, 'stop'))}\n\n`)
    // As OpenAI does when asked (the relay always asks): a last chunk with no choices, only usage.
    if (body.stream_options?.include_usage) res.write(`data: ${JSON.stringify(usageChunk(pieces.length))}\n\n`)
    res.end('data: [DONE]\n\n')
    outcome.completed++
  }

  const double = createServer(handle ?? scripted)
  await new Promise<void>((resolve, reject) => {
    double.once('error', reject)
    double.listen(port, '127.0.0.1', () => {
      double.off('error', reject)
      resolve()
    })
  })
  const bound = (double.address() as AddressInfo).port

  return {
    baseUrl: `http://127.0.0.1:${bound}/v1`,
    port: bound,
    /** Every chat request the scripted upstream answered, oldest first. */
    requests,
    /** Scripted streams that ran to [DONE], and those cut off because the relay hung up. */
    outcome,
    /** Scripts the answers from now on; `undefined` goes back to echoing. */
    answerWith(next?: (body: ChatBody) => ScriptedAnswer) {
      answer = next ?? echo
    },
    /** Hangs up the keep-alive connections with no request in flight (an idle pooled one is no leak). */
    closeIdle: () => double.closeIdleConnections(),
    close() {
      double.closeAllConnections()
      return new Promise<void>((resolve) => double.close(() => resolve()))
    },
  }
}

const chunk = (delta: object, finish: string | null = null) => ({
  id: 'chatcmpl-double',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'double',
  choices: [{ index: 0, delta, finish_reason: finish }],
})

const usageChunk = (completionTokens: number) => ({
  id: 'chatcmpl-double',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'double',
  choices: [],
  usage: { prompt_tokens: 1, completion_tokens: completionTokens, total_tokens: 1 + completionTokens },
})

const completion = (content: string) => ({
  id: 'chatcmpl-double',
  object: 'chat.completion',
  created: 1,
  model: 'double',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
})
