/**
 * APPENDs at the wire's speed, behind Store.appendMessage: calls for the same folder that arrive
 * while the connections are busy (or within one turn of the event loop) are sent together, as one
 * MULTIAPPEND (RFC 3502) when the server offers it, else as separate APPENDs pipelined on the same
 * connection (RFC 9051 5.5). Several commands are in flight per connection (WireConnection).
 *
 * Safety (the engine commits each message's pending row before calling appendMessage, so every
 * message of a command has its row before the command is written):
 * - MULTIAPPEND is all-or-nothing (RFC 3502 6.3.11); its APPENDUID uid-set lists the new UIDs in
 *   the order of the messages (RFC 4315 3), so it is mapped back in order.
 * - A batch refused with a tagged NO/BAD is split in halves until the refused message is alone: only
 *   that message fails, with the server's reason; the others are stored.
 * - A command whose connection dropped after any of its bytes were written has an unknown outcome:
 *   each of its messages fails with ConnectError {outcomeUnknown} and the engine looks for it on
 *   the destination before sending it again. Messages whose command had not started are sent again.
 * - Pushback in a tagged NO (RFC 5530 UNAVAILABLE, "try again later"; not [LIMIT]) stored nothing:
 *   tried again after the pool's backoff, as before.
 */
import {ConnectError, describeError} from '../errors.js'
import type {Logger} from '../log.js'
import {isPushback, isSessionCap, translateAppendError} from './errors.js'
import {backoffDelay, gaveUp, NO_RETRY, type RetryPolicy} from './retry.js'
import {appendAttributes, appendUids, batchCount, commandsInFlight} from './append-command.js'
import {Watchdog} from './watchdog.js'
import {WireConnection, type WireResponse} from './wire.js'

export interface AppendOutcome {
  uid?: number
  uidValidity?: number
}

export interface AppendPipelineOptions {
  /** Connections to open at most. */
  size: number
  open: () => Promise<WireConnection>
  /** "destination alice@host:port", for messages. */
  where: string
  logger: Logger
  retry?: RetryPolicy
  signal?: AbortSignal
  /** The account's personal namespace prefix: added to a path without it, as imapflow does. */
  namespacePrefix?: () => string | undefined
  /** Messages per MULTIAPPEND at most. */
  maxBatchMessages?: number
  /** Bytes per MULTIAPPEND at most (a bigger message goes alone); also capped by APPENDLIMIT. */
  maxBatchBytes?: number
  /** Called synchronously just before a command's first byte is written (the caller commits its 'pending' rows). */
  beforeSend?: () => void
  /** Test hook: called once every byte of the n-th APPEND command was written, before its answer. */
  onCommandSent?: (ordinal: number) => void
  onDropped?: () => void
  /**
   * When the server refuses even one more connection (pushback, no pipelined connection open):
   * APPEND one message through the store's existing sessions instead, for the rest of the run.
   */
  fallback?: (path: string, raw: Buffer, flags: string[], date: Date) => Promise<AppendOutcome>
  onFallback?: (error: unknown) => void
  onRetry?: (text: string) => void
  /**
   * Set when the connections take the place of the store's only session (the account is allowed one
   * connection, docs/design.md "One connection a side"): opening one waits for that place (the
   * `open` given), and an idle one is logged out whenever this says that tasks wait for a session.
   */
  yieldTo?: () => boolean
}

interface Item {
  path: string
  raw: Buffer
  flags: string[]
  date: Date
  attempts: number
  resolve: (outcome: AppendOutcome) => void
  reject: (error: unknown) => void
}

export class AppendPipeline {
  readonly #options: AppendPipelineOptions
  readonly #queues = new Map<string, Item[]>()
  #connections: WireConnection[] = []
  #opening = 0
  /** #openOne at work. */
  #openingOne?: Promise<void>
  /** A connection spare() is opening, which callers at the same moment wait for. */
  #spareOpening?: Promise<WireConnection>
  #size: number
  #failures = 0
  #failingSince = 0
  /** No connection is opened before this time (backoff after a failure to connect). */
  #pausedUntil = 0
  #wakeUp?: NodeJS.Timeout
  readonly #stalled: Watchdog
  readonly #handOver: Watchdog
  #scheduled = false
  #commands = 0
  #closed = false
  /** Set once the server refused the first pipelined connection: appends go through fallback. */
  #fallingBack = false

  constructor(options: AppendPipelineOptions) {
    this.#options = options
    this.#size = Math.max(1, options.size)
    this.#stalled = new Watchdog(options.logger, `${options.where}: APPENDs waited beside a free connection; sent now`)
    this.#handOver = new Watchdog(options.logger, `${options.where}: sessions waited beside an idle APPEND connection; it makes way now`)
  }

  append(path: string, raw: Buffer, flags: string[], date: Date): Promise<AppendOutcome> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new ConnectError(`${this.#options.where}: closed`))
      if (this.#fallingBack) return this.#options.fallback!(path, raw, flags, date).then(resolve, reject)
      this.#enqueue({path, raw, flags, date, attempts: 0, resolve, reject})
    })
  }

  /**
   * The least busy connection for a command besides the APPENDs (pipeline-commands.ts), or one opened
   * when none is, within the same cap; throws when none can be had.
   */
  async spare(): Promise<WireConnection> {
    const open = this.#connections.filter((c) => c.usable).sort((a, b) => a.load - b.load)[0]
    if (open) return open
    // Callers at the same moment share the one being opened.
    if (this.#spareOpening) return this.#spareOpening
    // In the session's place, a session would have to take the place back: wait for the APPENDs' one.
    if (this.#options.yieldTo && this.#openingOne) {
      await this.#openingOne
      return this.spare()
    }
    // Within the same cap as the APPENDs' connections (the caller goes one by one otherwise).
    if (this.#fallingBack || this.#connections.length + this.#opening >= this.#size) throw new ConnectError(`${this.#options.where}: no connection free`)
    this.#opening++
    this.#spareOpening = this.#options.open().then((connection) => {
      if (this.#closed) {
        void connection.logout()
        throw new ConnectError(`${this.#options.where}: closed`)
      }
      this.#adopt(connection)
      return connection
    })
    try {
      return await this.#spareOpening
    } finally {
      this.#opening--
      this.#spareOpening = undefined
      // APPENDs that came meanwhile found a connection opening and waited for it (#dispatch).
      this.#schedule()
    }
  }

  /** Sessions wait: an idle connection that stands in for one gives its place back (yieldTo). */
  wake(): void {
    this.#schedule()
    this.#handOver.arm(() => {
      const missed = !this.#closed && this.#options.yieldTo?.() === true && this.#nextPath() === undefined && this.#connections.some((c) => c.load === 0)
      if (missed) this.#yieldIdle()
      return missed
    })
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#wakeUp)
    this.#stalled.stop()
    this.#handOver.stop()
    for (const items of this.#queues.values()) for (const item of items.splice(0)) item.reject(new ConnectError(`${this.#options.where}: closed`))
    await Promise.allSettled(this.#connections.map((c) => c.logout()))
    this.#connections = []
  }

  #enqueue(item: Item, front = false): void {
    // Closed: a batch that comes back unsent (its connection logged out) is not sent again.
    if (this.#closed) return item.reject(new ConnectError(`${this.#options.where}: closed`))
    let queue = this.#queues.get(item.path)
    if (!queue) this.#queues.set(item.path, (queue = []))
    if (front) queue.unshift(item)
    else queue.push(item)
    this.#schedule()
  }

  /** Dispatch after this turn of the event loop, so the appends of one burst share a command. */
  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#dispatch()
    })
  }

  #dispatch(): void {
    // After close its connections log out: not dropped, and nothing is left to send.
    if (this.#closed) return
    for (const connection of this.#connections.filter((c) => !c.usable)) {
      this.#connections.splice(this.#connections.indexOf(connection), 1)
      this.#options.onDropped?.()
    }
    for (;;) {
      const path = this.#nextPath()
      if (path === undefined) return this.#yieldIdle()
      const connection = this.#freeConnection()
      if (!connection) {
        // One connection opened at a time: failures then count one by one, each after its pause.
        const wait = this.#pausedUntil - Date.now()
        if (this.#opening > 0 || this.#connections.length >= this.#size) return this.#watchStall()
        if (wait <= 0) this.#openingOne = this.#openOne().finally(() => (this.#openingOne = undefined))
        else if (!this.#wakeUp) this.#wakeUp = setTimeout(() => ((this.#wakeUp = undefined), this.#schedule()), wait)
        return
      }
      const batch = this.#takeBatch(path, connection)
      void this.#send(connection, batch)
    }
  }

  /** APPENDs waiting for a connection rely on a command ending to wake them (watchdog.ts). */
  #watchStall(): void {
    this.#stalled.arm(() => {
      if (this.#closed) return false
      const missed = !this.#scheduled && this.#nextPath() !== undefined && this.#freeConnection() !== undefined
      this.#schedule()
      return missed
    })
  }

  /** Nothing waits to be sent: idle connections that stand in for sessions make way for waiting tasks. */
  #yieldIdle(): void {
    if (!this.#options.yieldTo?.()) return
    for (const connection of this.#connections.filter((c) => c.load === 0)) {
      this.#connections.splice(this.#connections.indexOf(connection), 1)
      void connection.logout()
    }
  }

  /** The folder whose first waiting message has waited longest (queues keep arrival order). */
  #nextPath(): string | undefined {
    for (const [path, queue] of this.#queues) {
      if (queue.length > 0) return path
      this.#queues.delete(path)
    }
    return undefined
  }

  #freeConnection(): WireConnection | undefined {
    let best: WireConnection | undefined
    for (const c of this.#connections) {
      if (c.usable && c.load < commandsInFlight(c.capabilities) && (!best || c.load < best.load)) best = c
    }
    return best
  }

  #takeBatch(path: string, connection: WireConnection): Item[] {
    const queue = this.#queues.get(path)!
    // Move the folder behind the others, so one busy folder does not starve the rest.
    this.#queues.delete(path)
    const {maxBatchMessages: maxMessages, maxBatchBytes: maxBytes} = this.#options
    const batch = queue.splice(0, batchCount(queue, connection.capabilities, {maxMessages, maxBytes}))
    if (queue.length > 0) this.#queues.set(path, queue)
    return batch
  }

  async #openOne(): Promise<void> {
    this.#opening++
    try {
      const connection = await this.#options.open()
      this.#failures = 0
      this.#failingSince = 0
      if (this.#closed) return void connection.logout()
      this.#adopt(connection)
    } catch (error) {
      if (this.#failures++ === 0) this.#failingSince = Date.now()
      const established = this.#connections.filter((c) => c.usable).length
      // A cap on sessions; other pushback ("Temporary authentication failure") passes: a pause, then again.
      const capped = isSessionCap(error)
      if (established === 0 && capped && this.#options.fallback) {
        // The sessions the store holds already use up what the server allows (RFC 5530 LIMIT,
        // "Maximum number of connections"): those sessions do the APPENDs, one at a time each.
        this.#fallingBack = true
        this.#options.onFallback?.(error)
        for (const queue of this.#queues.values()) {
          for (const item of queue.splice(0)) this.#options.fallback(item.path, item.raw, item.flags, item.date).then(item.resolve, item.reject)
        }
        return
      }
      if (established > 0) {
        // "Too many connections": make do with the ones we have (as the session pool does);
        // anything else: the others work on, another one is tried after a pause.
        if (capped) this.#size = established
        else this.#pausedUntil = Date.now() + backoffDelay(this.#options.retry ?? NO_RETRY, this.#failures, error)
      } else {
        const policy = this.#options.retry ?? NO_RETRY
        const transient = error instanceof ConnectError && error.transient
        if (!transient || this.#failures > policy.retries || this.#options.signal?.aborted) {
          this.#failAll(gaveUp(error, this.#failures - 1, this.#failingSince))
        } else {
          const delay = backoffDelay(policy, this.#failures, error)
          this.#options.onRetry?.(`${describeError(error)}; retry ${this.#failures}/${policy.retries} in ${(delay / 1000).toFixed(1)} s`)
          this.#pausedUntil = Date.now() + delay
          this.#schedule()
        }
        return
      }
    } finally {
      this.#opening--
    }
    this.#schedule()
  }

  /** Any command ending on it (pipeline-commands.ts' too, which count towards its load) wakes waiting APPENDs. */
  #adopt(connection: WireConnection): void {
    connection.onSettled = () => this.#schedule()
    this.#connections.push(connection)
  }

  #failAll(error: unknown): void {
    for (const queue of this.#queues.values()) for (const item of queue.splice(0)) item.reject(error)
  }

  /** One command for these messages (MULTIAPPEND when there are several); settles each of them. */
  async #send(connection: WireConnection, batch: Item[]): Promise<void> {
    try {
      this.#options.beforeSend?.()
    } catch (error) {
      // The rows that must be committed first could not be (StateWriter.commit): not sent at all.
      for (const item of batch) item.reject(error)
      this.#schedule()
      return
    }
    let response: WireResponse
    try {
      response = await connection.command('APPEND', appendAttributes(connection.mailbox(this.folderName(batch[0].path)), connection.capabilities.has('BINARY'), batch), {
        onSent: () => this.#options.onCommandSent?.(++this.#commands),
        traceAs: `APPEND "${batch[0].path}" (${batch.length} ${batch.length === 1 ? 'message' : 'messages'}, ${batch.reduce((n, item) => n + item.raw.length, 0)} bytes)`,
      })
    } catch (error) {
      return this.#failed(connection, batch, error)
    } finally {
      this.#schedule()
    }
    const uids = appendUids(response, batch.length)
    batch.forEach((item, index) => item.resolve(uids ? {uid: uids.uids[index], uidValidity: uids.uidValidity} : {}))
  }

  async #failed(connection: WireConnection, batch: Item[], error: unknown): Promise<void> {
    const e = error as {responseStatus?: string; serverResponseCode?: string}
    const tagged = e.responseStatus === 'NO' || e.responseStatus === 'BAD'
    if (!tagged) {
      if (!WireConnection.started(error)) {
        // Not a byte of it reached the server: it can go on another connection.
        for (const item of batch.reverse()) this.#enqueue(item, true)
        return
      }
      const translated = translateAppendError(error, this.#options.where, batch[0].path)
      if (translated instanceof ConnectError && translated.outcomeUnknown) {
        this.#options.logger.warn(
          `${translated.message} (${batch.length === 1 ? 'the message is' : `its ${batch.length} messages are`} looked for on the destination before being sent again)`,
        )
      }
      for (const item of batch) item.reject(translated)
      return
    }
    if (e.serverResponseCode !== 'LIMIT' && isPushback(error)) return this.#later(batch, error)
    if (batch.length > 1) {
      // All-or-nothing (RFC 3502): nothing of the batch was stored. Halve it until the refused
      // message is alone, so that only it fails.
      const half = Math.ceil(batch.length / 2)
      await Promise.all([this.#sendNow(connection, batch.slice(0, half)), this.#sendNow(connection, batch.slice(half))])
      return
    }
    batch[0].reject(translateAppendError(error, this.#options.where, batch[0].path))
  }

  #sendNow(connection: WireConnection, batch: Item[]): Promise<void> {
    if (!connection.usable) {
      for (const item of batch.reverse()) this.#enqueue(item, true)
      return Promise.resolve()
    }
    return this.#send(connection, batch)
  }

  /** Pushback: nothing was stored; the same messages go again after a pause, as many times as the policy allows. */
  #later(batch: Item[], error: unknown): void {
    const policy = this.#options.retry ?? NO_RETRY
    const attempt = Math.max(...batch.map((item) => ++item.attempts))
    if (attempt > policy.retries || this.#options.signal?.aborted) {
      const translated = translateAppendError(error, this.#options.where, batch[0].path)
      for (const item of batch) item.reject(translated)
      return
    }
    const delay = backoffDelay(policy, attempt, error)
    this.#options.onRetry?.(`${this.#options.where}: server busy: ${describeError(error)}; retry ${attempt}/${policy.retries} in ${(delay / 1000).toFixed(1)} s`)
    setTimeout(() => {
      for (const item of [...batch].reverse()) this.#enqueue(item, true)
    }, delay)
  }

  /** The folder's name on the server: the namespace prefix added where the path lacks it. */
  folderName(path: string): string {
    if (path.toUpperCase() === 'INBOX') return 'INBOX'
    const prefix = this.#options.namespacePrefix?.()
    return prefix && !path.startsWith(prefix) ? prefix + path : path
  }
}
