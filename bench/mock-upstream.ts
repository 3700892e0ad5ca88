/**
 * A mock OpenAI-compatible upstream for the benchmarks: `POST …/chat/completions` answers a fixed
 * completion, or streams numbered events. A streamed request sets its shape in its last message,
 * `events=200 gap=50`, so every hop between the client and here passes it on untouched.
 * Started as its own process: `mock-upstream.ts <port>`.
 */
import { createServer } from 'node:http'

const COMPLETION = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1,
    model: 'bench-model',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from the bench upstream.' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 },
  }),
)

const chunk = (content: string) =>
  `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"bench-model","choices":[{"index":0,"delta":{"content":"${content}"},"finish_reason":null}]}\n\n`
const USAGE =
  'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"bench-model","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":200,"total_tokens":209}}\n\n'

/** The stream shape a request asks for, from `events=N gap=M` in its last message. */
function shapeOf(request: { messages?: { content?: unknown }[] }) {
  const text = String(request.messages?.at(-1)?.content ?? '')
  return {
    events: Number(/events=(\d+)/.exec(text)?.[1] ?? 20),
    gapMs: Number(/gap=(\d+)/.exec(text)?.[1] ?? 0),
  }
}

const server = createServer((req, res) => {
  const parts: Buffer[] = []
  req.on('data', (part: Buffer) => parts.push(part))
  req.on('end', () => {
    const request = JSON.parse(Buffer.concat(parts).toString())
    if (!request.stream) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': COMPLETION.length })
      res.end(COMPLETION)
      return
    }
    const { events, gapMs } = shapeOf(request)
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    let sent = 0
    let timer: NodeJS.Timeout | undefined
    const next = () => {
      if (res.destroyed) return
      if (sent === events) {
        if (request.stream_options?.include_usage) res.write(USAGE)
        res.end('data: [DONE]\n\n')
        return
      }
      res.write(chunk(`${sent++} `))
      if (gapMs > 0) timer = setTimeout(next, gapMs)
      else next()
    }
    res.on('close', () => clearTimeout(timer))
    next()
  })
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.argv[2]), '127.0.0.1')
