/**
 * A TCP proxy on a loopback port in front of a real service (the shared PostgreSQL or Redis), so a
 * test can take the service away from what it tests and give it back, without stopping the service
 * that everything else on the machine shares: `cut()` resets every connection and refuses new ones
 * (a service gone); `freeze()` lets nothing through and closes nothing (a service or network that
 * hangs); `restore()` ends what is left and lets new connections through again.
 */
import { connect, createServer, type Socket } from 'node:net'

export interface TcpProxy {
  port: number
  cut(): void
  freeze(): void
  restore(): void
  close(): Promise<void>
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'open' | 'cut' | 'frozen' = 'open'
  const sockets = new Set<Socket>()
  const pairs = new Set<[Socket, Socket]>()
  const server = createServer((client) => {
    client.on('error', () => {})
    if (mode === 'cut') return void client.resetAndDestroy()
    sockets.add(client)
    client.once('close', () => sockets.delete(client))
    if (mode === 'frozen') return
    const service = connect(target.port, target.host)
    service.on('error', () => {})
    sockets.add(service)
    const pair: [Socket, Socket] = [client, service]
    pairs.add(pair)
    client.pipe(service)
    service.pipe(client)
    for (const socket of pair) {
      socket.once('close', () => {
        sockets.delete(socket)
        pairs.delete(pair)
        client.destroy()
        service.destroy()
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    cut() {
      mode = 'cut'
      for (const socket of sockets) socket.resetAndDestroy()
    },
    freeze() {
      mode = 'frozen'
      for (const [client, service] of pairs) {
        client.unpipe(service)
        service.unpipe(client)
        client.pause()
        service.pause()
      }
    },
    restore() {
      mode = 'open'
      for (const socket of sockets) socket.destroy()
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
