/**
 * The raw connections of check, plan and verify for folder scans (folder-scan.ts), beside the session
 * pool: at most `limit` open, each carrying up to `depth` scans at once (their commands pipelined
 * behind each other). An idle connection is used first, then a new one while under the limit, then
 * the least loaded; a caller waits when all are full. When one cannot be opened (the server refuses another
 * session, say), the limit drops to those open; with none, take() answers undefined and the caller
 * reads on the pool's sessions instead.
 */
export interface ScanConnection {
  readonly usable: boolean
  logout(): Promise<void>
}

/**
 * Scans in flight per connection: enough that a 32 ms round trip costs a folder nothing (the next
 * folder's EXAMINE is on its way while this one's headers come), few enough that one big folder at
 * the head of a connection holds back only a handful behind it.
 */
export const SCANS_PER_CONNECTION = 4

export class ScanConnections<C extends ScanConnection> {
  #limit: number
  readonly #depth: number
  #opening = 0
  /** Open connections, with the scans each carries now. */
  readonly #loads = new Map<C, number>()
  readonly #waiting: Array<(connection: C | undefined) => void> = []
  readonly #connect: () => Promise<C>
  readonly #onRefused: (error: unknown) => void

  /** onRefused: a connection could not be opened (the limit dropped to those open). */
  constructor(limit: number, connect: () => Promise<C>, onRefused: (error: unknown) => void, depth = SCANS_PER_CONNECTION) {
    this.#limit = limit
    this.#connect = connect
    this.#onRefused = onRefused
    this.#depth = Math.max(1, depth)
  }

  /** Opens every connection now, without waiting: the caller knows scans come (while the folders are listed). */
  warm(): void {
    while (this.#count < this.#limit) {
      void this.#open().then((connection) => {
        if (connection) this.#serve(connection)
        else if (this.#count === 0) this.#flush()
      })
    }
  }

  /** A connection to scan on (give it back with release), or undefined: read on the pool. */
  async take(): Promise<C | undefined> {
    const least = this.#leastLoaded()
    if (least && this.#loads.get(least) === 0) return this.#use(least)
    if (this.#count < this.#limit) {
      const opened = await this.#open()
      if (opened) {
        // Callers that came while it opened may share it.
        const mine = this.#use(opened)
        this.#serve(opened)
        return mine
      }
      if (this.#count === 0) {
        this.#flush()
        return undefined
      }
      return this.take()
    }
    if (least && this.#loads.get(least)! < this.#depth) return this.#use(least)
    if (this.#count === 0) return undefined
    return new Promise((resolve) => this.#waiting.push(resolve))
  }

  /** Gives a taken connection back: to the next waiter, or idle; a dead one (or after close) is dropped once its scans are back. */
  release(connection: C): void {
    const load = this.#loads.get(connection)
    if (load === undefined) return
    if (!connection.usable || this.#limit === 0) {
      if (connection.usable && load > 1) return void this.#loads.set(connection, load - 1)
      this.#loads.delete(connection)
      if (connection.usable) void connection.logout()
      const waiter = this.#waiting.shift()
      if (waiter) void this.take().then(waiter)
      return
    }
    this.#loads.set(connection, load - 1)
    const waiter = this.#waiting.shift()
    if (waiter) waiter(this.#use(connection))
  }

  /** No more connections: waiters get undefined, idle ones log out (those taken do when released). */
  async close(): Promise<void> {
    this.#limit = 0
    this.#flush()
    const idle = [...this.#loads].filter(([, load]) => load === 0).map(([connection]) => connection)
    for (const connection of idle) this.#loads.delete(connection)
    await Promise.all(idle.map((connection) => connection.logout()))
  }

  get #count(): number {
    return this.#opening + this.#loads.size
  }

  /** The usable connection with the fewest scans; one that died while idle is dropped. */
  #leastLoaded(): C | undefined {
    let least: C | undefined
    for (const [connection, load] of this.#loads) {
      if (!connection.usable) {
        if (load === 0) this.#loads.delete(connection)
      } else if (least === undefined || load < this.#loads.get(least)!) least = connection
    }
    return least
  }

  #use(connection: C): C {
    this.#loads.set(connection, this.#loads.get(connection)! + 1)
    return connection
  }

  /** Hands the connection to waiters while it has room. */
  #serve(connection: C): void {
    while (this.#waiting.length > 0 && this.#loads.get(connection)! < this.#depth) this.#waiting.shift()!(this.#use(connection))
  }

  #flush(): void {
    for (const waiter of this.#waiting.splice(0)) waiter(undefined)
  }

  /** A new connection (idle), or undefined when it could not be opened (the limit drops) or the scans closed meanwhile. */
  async #open(): Promise<C | undefined> {
    this.#opening++
    try {
      const connection = await this.#connect()
      if (this.#limit === 0) {
        void connection.logout()
        return undefined
      }
      this.#loads.set(connection, 0)
      return connection
    } catch (error) {
      this.#limit = this.#count - 1
      this.#onRefused(error)
      return undefined
    } finally {
      this.#opening--
    }
  }
}
