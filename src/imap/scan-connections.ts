/**
 * check's raw connections for header scans (header-scan.ts), beside the session pool: at most
 * `limit` open, an idle one reused, a caller waits for one released. When one cannot be opened (the
 * server refuses another session, say), the limit drops to those open; with none, take() answers
 * undefined and the caller reads on the pool's sessions instead.
 */
export interface ScanConnection {
  readonly usable: boolean
  logout(): Promise<void>
}

export class ScanConnections<C extends ScanConnection> {
  #limit: number
  #open = 0
  readonly #idle: C[] = []
  readonly #waiting: Array<(connection: C | undefined) => void> = []
  readonly #connect: () => Promise<C>
  readonly #onRefused: (error: unknown) => void

  /** onRefused: a connection could not be opened (the limit dropped to those open). */
  constructor(limit: number, connect: () => Promise<C>, onRefused: (error: unknown) => void) {
    this.#limit = limit
    this.#connect = connect
    this.#onRefused = onRefused
  }

  /** An idle connection, a new one while under the limit, or the next released; undefined: use the pool. */
  async take(): Promise<C | undefined> {
    const idle = this.#idle.pop()
    if (idle) return idle
    if (this.#open < this.#limit) {
      this.#open++
      try {
        return await this.#connect()
      } catch (error) {
        this.#open--
        this.#limit = this.#open
        this.#onRefused(error)
        for (const waiter of this.#waiting.splice(0)) waiter(undefined)
        return undefined
      }
    }
    if (this.#open === 0) return undefined
    return new Promise((resolve) => this.#waiting.push(resolve))
  }

  /** Gives a taken connection back: to the next waiter, or idle; a dead one (or after close) is dropped. */
  release(connection: C): void {
    if (!connection.usable || this.#limit === 0) {
      this.#open--
      if (connection.usable) void connection.logout()
      const waiter = this.#waiting.shift()
      if (waiter) void this.take().then(waiter)
      return
    }
    const waiter = this.#waiting.shift()
    if (waiter) waiter(connection)
    else this.#idle.push(connection)
  }

  /** No more connections: waiters get undefined, idle ones log out (those taken do when released). */
  async close(): Promise<void> {
    this.#limit = 0
    for (const waiter of this.#waiting.splice(0)) waiter(undefined)
    await Promise.all(this.#idle.splice(0).map((connection) => connection.logout()))
  }
}
