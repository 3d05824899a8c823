/**
 * A TCP relay in front of a real server's port: the network between mailferry and the server, which a
 * test can cut (every connection dropped, new ones refused) and restore on the same port. The server
 * behind it is real; only the path to it fails.
 */
import {connect, createServer, type Server, type Socket} from 'node:net'

export class Relay {
  readonly sockets = new Set<Socket>()
  server!: Server
  port = 0
  /** Connections accepted so far. */
  accepted = 0
  /** Connections cut mid-answer (cutAfter). */
  cuts = 0

  /** cutAfter: each of the first `times` connections to pass `bytes` from the server is dropped right there. */
  constructor(
    readonly target: number,
    readonly cutAfter?: {bytes: number; times: number},
  ) {}

  async start(port = 0): Promise<void> {
    this.server = createServer((client) => {
      this.accepted++
      const upstream = connect({host: '127.0.0.1', port: this.target})
      for (const socket of [client, upstream]) {
        this.sockets.add(socket)
        socket.on('close', () => this.sockets.delete(socket))
        socket.on('error', () => {})
      }
      client.pipe(upstream)
      if (this.cutAfter) this.#cutting(upstream, client, this.cutAfter)
      else upstream.pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve))
    this.port = (this.server.address() as {port: number}).port
  }

  #cutting(upstream: Socket, client: Socket, cut: {bytes: number; times: number}): void {
    let passed = 0
    upstream.on('data', (chunk: Buffer) => {
      passed += chunk.length
      if (passed > cut.bytes && this.cuts < cut.times) {
        this.cuts++
        client.destroy()
        upstream.destroy()
        return
      }
      client.write(chunk)
    })
  }

  /** Drops every connection and stops listening (connection refused). */
  async down(): Promise<void> {
    const closed = new Promise((resolve) => this.server.close(resolve))
    for (const socket of this.sockets) socket.destroy()
    await closed
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    await this.start(this.port)
  }
}
