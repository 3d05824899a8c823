/**
 * Places of the session pool lent to other connections (ConnectionPool.borrowPlace), so that they stay
 * within --connections: watch's IDLE session always, and with one connection a side the raw pipelined
 * connections (APPENDs or reads), which then take the only place in turns with the session
 * (docs/design.md, "One connection a side"). Whatever holds a place idle makes way as soon as a task
 * or another borrower waits (the pool's onWaiting).
 */
import {watchFolder} from '../imap/idle.js'
import type {ConnectionPool} from '../imap/pool.js'
import type {ImapClient} from '../imap/session.js'
import type {WireConnection} from '../imap/wire.js'
import type {FolderWatch} from './store.js'

/** A raw connection that stands in the place while it has work (AppendPipeline, ReadPipeline). */
interface StandIn {
  /** Tasks wait: logs out once idle. */
  wake(): void
}

export class PlaceTurns {
  readonly #pool: () => ConnectionPool
  readonly #openRaw: () => Promise<WireConnection>
  readonly #openSession: () => Promise<ImapClient>
  readonly #standIns: () => Array<StandIn | undefined>
  /** IDLE sessions in the place, logged out when it is wanted. */
  readonly #watches = new Set<FolderWatch>()

  /**
   * `openRaw` and `openSession` log in as the store's own connections do. `pool` and `standIns` are
   * read when needed: the pool is built with makeWay() as its onWaiting.
   */
  constructor(options: {
    pool: () => ConnectionPool
    openRaw: () => Promise<WireConnection>
    openSession: () => Promise<ImapClient>
    standIns: () => Array<StandIn | undefined>
  }) {
    this.#pool = options.pool
    this.#openRaw = options.openRaw
    this.#openSession = options.openSession
    this.#standIns = options.standIns
  }

  /** A raw connection in the place of the pool's only session, given back when it closes. */
  raw(): Promise<WireConnection> {
    return this.#borrowed(this.#openRaw, (connection, giveBack) => (connection.onClose = giveBack))
  }

  /**
   * watch's IDLE session in a place (FolderWatch.inTurns): it logs out as soon as a place is wanted,
   * and the caller sets it up again afterwards.
   */
  async watch(path: string, where: string, onChange: () => void): Promise<FolderWatch> {
    const client = await this.#borrowed(this.#openSession, (session, giveBack) => session.once('close', giveBack))
    const watch = await watchFolder(client, path, where, onChange, true)
    this.#watches.add(watch)
    // Wanted while it selected the folder: the hand-over it missed.
    if (this.#pool().waiting) this.makeWay()
    return watch
  }

  /** A connection opened in a place borrowed from the pool, given back once it closes (`onClosed`) or when it cannot be opened. */
  async #borrowed<T>(open: () => Promise<T>, onClosed: (opened: T, giveBack: () => void) => void): Promise<T> {
    const giveBack = await this.#pool().borrowPlace()
    try {
      const opened = await open()
      onClosed(opened, giveBack)
      return opened
    } catch (error) {
      giveBack()
      throw error
    }
  }

  /** A task or another borrower waits for the place: whatever stands in it while idle makes way. */
  makeWay(): void {
    for (const standIn of this.#standIns()) standIn?.wake()
    for (const watch of this.#watches) void watch.stop()
    this.#watches.clear()
  }
}
