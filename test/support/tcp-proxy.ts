/**
 * A TCP proxy on a loopback port in front of a real service (the shared PostgreSQL or Redis), so a
 * test can take the service away from the server under test and give it back, without stopping
 * the service that everything else on the machine shares.
 */
import { connect, createServer, type Socket } from 'node:net'

export interface TcpProxy {
  port: number
  /** Ends every connection through the proxy and refuses new ones (connections are reset). */
  cut(): void
  /** Accepts connections again. */
  restore(): void
  close(): Promise<void>
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  let open = true
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }
  const server = createServer((client) => {
    track(client)
    if (!open) return void client.resetAndDestroy()
    const service = connect(target.port, target.host)
    track(service)
    client.pipe(service).pipe(client)
    client.on('error', () => service.destroy())
    service.on('error', () => client.destroy())
    client.on('close', () => service.destroy())
    service.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    cut() {
      open = false
      for (const socket of sockets) socket.resetAndDestroy()
    },
    restore() {
      open = true
    },
    close() {
      open = false
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
