/**
 * The floor for any Node relay: a minimal node:http pass-through proxy, with no checks at all.
 * Forwards method, path, headers and body to UPSTREAM over a keep-alive pool and streams the
 * answer back. Started as its own process: `passthrough-proxy.ts <port> <upstream origin>`.
 */
import http from 'node:http'

const upstream = new URL(String(process.argv[3]))
const agent = new http.Agent({ keepAlive: true })

const server = http.createServer((req, res) => {
  const forward = http.request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    },
  )
  forward.on('error', () => {
    if (!res.headersSent) res.writeHead(502)
    res.end()
  })
  // A visitor who leaves early takes the upstream request with them.
  res.on('close', () => {
    if (!res.writableFinished) forward.destroy()
  })
  req.pipe(forward)
})
server.keepAliveTimeout = 60_000
// Exits through process.exit, so a CPU profile (--cpu-prof) is written, as our server's is.
process.on('SIGTERM', () => process.exit(0))
server.listen(Number(process.argv[2]), '127.0.0.1')
