/**
 * A delay line on 127.0.0.1 in front of a server's port: every byte, each way, arrives `oneWayMs`
 * after it was sent (a round trip of twice that), in order, and nothing else is changed (no loss, no
 * bandwidth cap beyond the machine's). Backpressure is passed on, so a slow reader slows the sender
 * instead of filling memory. For the bench's WAN mode (`--rtt-ms`).
 */
import {connect, createServer, type Server, type Socket} from 'node:net'

export class DelayLine {
  #server?: Server
  readonly #sockets = new Set<Socket>()
  port = 0

  constructor(readonly target: number, readonly oneWayMs: number) {}

  async start(): Promise<number> {
    this.#server = createServer({allowHalfOpen: true}, (client) => {
      const upstream = connect({host: '127.0.0.1', port: this.target, allowHalfOpen: true})
      for (const socket of [client, upstream]) {
        socket.setNoDelay(true)
        this.#sockets.add(socket)
        socket.on('close', () => this.#sockets.delete(socket))
        socket.on('error', () => {
          client.destroy()
          upstream.destroy()
        })
      }
      this.#pipe(client, upstream)
      this.#pipe(upstream, client)
    })
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve))
    this.port = (this.#server.address() as {port: number}).port
    return this.port
  }

  /** from -> to, each chunk (and the end) released oneWayMs after it arrived, in arrival order. */
  #pipe(from: Socket, to: Socket): void {
    const queue: Array<{at: number; chunk?: Buffer}> = []
    let timer: NodeJS.Timeout | undefined
    const release = () => {
      timer = undefined
      const now = performance.now()
      while (queue.length > 0 && queue[0].at <= now) {
        const {chunk} = queue.shift()!
        if (to.destroyed) return
        if (!chunk) {
          to.end()
          continue
        }
        if (!to.write(chunk)) {
          from.pause()
          to.once('drain', () => from.resume())
        }
      }
      if (queue.length > 0) timer = setTimeout(release, Math.max(0, queue[0].at - performance.now()))
    }
    const push = (chunk?: Buffer) => {
      queue.push({at: performance.now() + this.oneWayMs, chunk})
      timer ??= setTimeout(release, this.oneWayMs)
    }
    from.on('data', (chunk: Buffer) => push(chunk))
    from.on('end', () => push())
  }

  async stop(): Promise<void> {
    const closed = new Promise((resolve) => this.#server?.close(resolve) ?? resolve(undefined))
    for (const socket of this.#sockets) socket.destroy()
    await closed
  }
}
