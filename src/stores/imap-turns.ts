/**
 * Places of the session pool lent to other connections (ConnectionPool.borrowPlace), so that they stay
 * within --connections: watch's IDLE session always, and with one connection a side the raw pipelined
 * connections (APPENDs or reads), which then take the only place in turns with the session
 * (docs/design.md, "One connection a side"). Whatever holds a place idle makes way as soon as a task
 * or another borrower waits (the pool's onWaiting).
 */
import type {EndpointConfig} from '../config/schema.js'
import type {Logger} from '../log.js'
import {watchFolder} from '../imap/idle.js'
import type {ConnectionPool} from '../imap/pool.js'
import {openSession} from '../imap/session.js'
import {openWireConnection} from '../imap/wire-login.js'
import type {WireConnection} from '../imap/wire.js'
import type {FolderWatch} from './store.js'

/** A raw connection that stands in the place while it has work (AppendPipeline, ReadPipeline). */
interface StandIn {
  /** Tasks wait: logs out once idle. */
  wake(): void
}

export class PlaceTurns {
  readonly #pool: () => ConnectionPool
  readonly #endpoint: EndpointConfig
  readonly #label: string
  readonly #logger: Logger
  readonly #standIns: () => Array<StandIn | undefined>
  /** IDLE sessions in the place, logged out when it is wanted. */
  readonly #watches = new Set<FolderWatch>()

  /** `pool` and `standIns` are read when needed: the pool is built with makeWay() as its onWaiting. */
  constructor(options: {pool: () => ConnectionPool; endpoint: EndpointConfig; label: string; logger: Logger; standIns: () => Array<StandIn | undefined>}) {
    this.#pool = options.pool
    this.#endpoint = options.endpoint
    this.#label = options.label
    this.#logger = options.logger
    this.#standIns = options.standIns
  }

  /** A raw connection in the place of the pool's only session, given back when it closes. */
  async raw(): Promise<WireConnection> {
    const giveBack = await this.#pool().borrowPlace()
    try {
      const connection = await openWireConnection(this.#endpoint, {label: this.#label, logger: this.#logger})
      connection.onClose = giveBack
      return connection
    } catch (error) {
      giveBack()
      throw error
    }
  }

  /**
   * watch's IDLE session in a place (FolderWatch.inTurns): it logs out as soon as a place is wanted,
   * and the caller sets it up again afterwards.
   */
  async watch(path: string, where: string, onChange: () => void): Promise<FolderWatch> {
    const giveBack = await this.#pool().borrowPlace()
    let client
    try {
      client = await openSession(this.#endpoint, {label: this.#label, logger: this.#logger})
    } catch (error) {
      giveBack()
      throw error
    }
    client.once('close', giveBack)
    const watch = await watchFolder(client, path, where, onChange, true)
    this.#watches.add(watch)
    // Wanted while it selected the folder: the hand-over it missed.
    if (this.#pool().waiting) this.makeWay()
    return watch
  }

  /** A task or another borrower waits for the place: whatever stands in it while idle makes way. */
  makeWay(): void {
    for (const standIn of this.#standIns()) standIn?.wake()
    for (const watch of this.#watches) void watch.stop()
    this.#watches.clear()
  }
}
