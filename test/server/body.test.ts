/**
 * readJsonBody against real requests on a real socket, for the timings the whole server cannot
 * set up: a client gone before the read begins (a slow store lookup in between, say).
 */
import { createServer, request, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { readJsonBody } from '../../server/body.ts'

let close = () => {}
afterEach(() => close())

/** Serves one request: hands it to `read` once the test lets it, and resolves with the outcome. */
async function readOnce(send: (req: ReturnType<typeof request>) => void, beforeRead: (req: IncomingMessage) => Promise<void>) {
  const outcome = new Promise<unknown>((resolve) => {
    const server = createServer(async (req, res) => {
      await beforeRead(req)
      resolve(await readJsonBody(req, res, 1024).catch((err: unknown) => err))
      res.end()
    })
    server.listen(0, '127.0.0.1', () => {
      const client = request({
        port: (server.address() as AddressInfo).port,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      })
      client.on('error', () => {})
      send(client)
    })
    close = () => {
      server.closeAllConnections()
      server.close()
    }
  })
  return outcome
}

describe('readJsonBody', () => {
  it('reads a whole body sent in pieces', async () => {
    const result = await readOnce(
      (client) => {
        client.write('{"a":')
        setTimeout(() => client.end('1}'), 20)
      },
      async () => {},
    )
    expect(result).toEqual({ a: 1 })
  })

  it('answers 400 at once when the client left before the read began, instead of waiting forever', async () => {
    const result = await readOnce(
      (client) => {
        client.write('{"a":')
        setTimeout(() => client.destroy(), 20)
      },
      // A plain listener: events.once would also listen for (and reject on) the abort error.
      (req) => new Promise((resolve) => (req.destroyed ? resolve() : req.on('close', resolve))),
    )
    expect(result).toMatchObject({ status: 400, code: 'invalid_json', message: 'The request body ended before it was complete' })
  })
})
