/**
 * A real OpenAI-compatible upstream on a loopback socket: it streams whatever answer the test
 * scripts, piece by piece with a pause between pieces, so the browser can be seen rendering a
 * growing answer. By default it echoes the question.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ScriptedAnswer {
  pieces: string[]
  /** Pause before each piece. */
  delayMs: number
}

type ChatBody = { messages: { role: string; content: string }[]; stream?: boolean }

const echo = (body: ChatBody): ScriptedAnswer => {
  const question = body.messages.findLast((message) => message.role === 'user')?.content ?? ''
  return { pieces: ['You ', 'asked: ', `“${question}”. `, 'This ', 'answer ', 'streams.'], delayMs: 20 }
}

export async function startUpstreamDouble() {
  let answer: (body: ChatBody) => ScriptedAnswer = echo
  const requests: ChatBody[] = []
  const outcome = { completed: 0, aborted: 0 }

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
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
      await new Promise((resolve) => setTimeout(resolve, delayMs))
      // The relay closes this socket when the visitor's request is aborted.
      if (res.destroyed) return void outcome.aborted++
      res.write(`data: ${JSON.stringify(chunk({ content: piece }))}\n\n`)
    }
    res.write(`data: ${JSON.stringify(chunk({}, 'stop'))}\n\n`)
    res.end('data: [DONE]\n\n')
    outcome.completed++
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    /** Every chat request the server relayed, oldest first. */
    requests,
    /** Streams that ran to [DONE], and streams cut off because the relay hung up. */
    outcome,
    /** Scripts the answers from now on; `undefined` goes back to echoing. */
    answerWith(next?: (body: ChatBody) => ScriptedAnswer) {
      answer = next ?? echo
    },
    close() {
      server.closeAllConnections()
      server.close()
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

const completion = (content: string) => ({
  id: 'chatcmpl-double',
  object: 'chat.completion',
  created: 1,
  model: 'double',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
})
