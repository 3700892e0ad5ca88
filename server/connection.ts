/**
 * What happens on one connection between its requests: one request at a time, none after an
 * answer that closes the connection, and a close in stages so the client reads that answer.
 *
 * Node runs each request as soon as it has parsed it, holding back only the answers of those
 * pipelined behind another. After an answer with `Connection: close` (a 413 to an oversized body,
 * say) a request already in the buffer would still run: an admin call would take effect, a chat
 * request would spend the key's limit, and nobody would hear of it. RFC 9112 §9.6: once it has
 * sent `close`, a server must not process further requests on that connection.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

type Listener = (req: IncomingMessage, res: ServerResponse) => void

/**
 * Wraps a request listener so a pipelined request starts only once the answer before it is over,
 * and never when that answer closed the connection (or the client left).
 */
export function inTurn(listener: Listener): Listener {
  // Per connection, the turn of its latest request: settles once that request's answer is over.
  const turns = new WeakMap<Socket, Promise<void>>()
  return (req, res) => {
    const socket = req.socket
    const ahead = turns.get(socket)
    let passOn!: () => void
    turns.set(socket, new Promise<void>((resolve) => (passOn = resolve)))
    const start = () => {
      // An answer ahead ended the connection (Node half-closed it as that answer finished): this
      // request is never run, and Node discards it with the connection.
      if (!socket.writable) return passOn()
      res.once('close', passOn)
      listener(req, res)
    }
    if (ahead !== undefined) void ahead.then(start)
    else start()
  }
}

/** How long a connection that is closing reads on, discarding, for the client to finish sending. */
const LINGER_MS = 2000

/**
 * Replaces Node's immediate close after an answer that closes the connection with a close in
 * stages (RFC 9112 §9.6): half-close, go on reading and discarding what the client still sends,
 * and close once the client has closed its side or LINGER_MS have passed. Closing at once with
 * unread bytes would send a reset: a client still uploading a body we refused would see its send
 * fail, and often lose our 413 with it. Nothing read after the answer is run (see inTurn).
 */
export function closeInStages(socket: Socket): void {
  // Node's server calls destroySoon, where the socket has one, once the closing answer is written.
  socket.destroySoon = () => {
    socket.end()
    const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref()
    socket.once('close', () => clearTimeout(timer))
  }
}
