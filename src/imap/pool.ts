/**
 * Up to N authenticated sessions to one account, lent out one task at a time.
 * A session that is no longer usable (dropped, BYE) is replaced on the next loan.
 *
 * Reconnects: use() runs a task again on a fresh session when it failed for a reason that a pause
 * can cure (connection lost or refused, server pushback; see isTransient in errors.ts), with
 * exponential backoff (0.5 s, 1 s, 2 s ... up to maxDelayMs), at most `retries` times. Only tasks
 * marked idempotent are run again after they started; for the others (APPEND) only the failure to
 * get a session, or an error that says the command was refused (a tagged NO), is retried.
 */
import {ConnectError, MessageRejectedError} from '../errors.js'
import {sleep} from '../sleep.js'
import {isConnectionLoss, isSessionCap, isTransient, pushedBack} from './errors.js'
import {SILENCE_LIMIT_MS, limitBreach} from './limits.js'
import {backoffDelay, gaveUp, NO_RETRY, type RetryPolicy} from './retry.js'
import type {ImapClient} from './session.js'

/** What onRetry is told before each pause. */
export interface RetryNotice {
  /** 1 for the first retry. */
  attempt: number
  retries: number
  delayMs: number
  error: unknown
}

export interface PoolOptions {
  size: number
  /** Opens and logs in a session; `cancel` fires when the pool closes first (the login is then cut off). */
  connect: (cancel: AbortSignal) => Promise<ImapClient>
  retry?: RetryPolicy
  /** Called before each pause (for the log). */
  onRetry?: (notice: RetryNotice) => void
  /** Called when a task succeeds after one or more retries. */
  onRecovered?: (retries: number) => void
  /** Called for each session found closed (BYE, dropped connection) and replaced. */
  onDropped?: () => void
  /** Called once when the server refuses more sessions and the pool makes do with fewer. */
  onShrink?: (size: number, error: unknown) => void
  /** Called when a task starts waiting for a session (a borrowed place may be wanted back: borrowPlace). */
  onWaiting?: () => void
  /** Stops pauses early (SIGINT): the task then fails with its last error. */
  signal?: AbortSignal
  /** For tests: the randomness of the backoff jitter, 0..1. */
  random?: () => number
}

export interface UseOptions {
  /** Prefer an idle session that has this folder selected already, which saves a SELECT. */
  preferMailbox?: string
  /**
   * The task may run twice without harm (LIST, SELECT, FETCH, STORE flags, UID EXPUNGE...).
   * Default true. false for APPEND: once it was sent, its outcome after a lost connection is unknown.
   */
  idempotent?: boolean
}

interface Waiter {
  preferMailbox?: string
  /** borrowPlace's: a free place is taken as it is, without logging in a session for it. */
  placeOnly: boolean
  /** How often a later waiter was served first (see #nextWaiter). */
  passedOver: number
  /** undefined only for placeOnly: a place was free. */
  resolve: (client: ImapClient | undefined) => void
  reject: (error: unknown) => void
}

export class ConnectionPool {
  #size: number
  readonly #connect: (cancel: AbortSignal) => Promise<ImapClient>
  /** Aborted by close(): a session still logging in then is not worth waiting for (nor its LOGOUT). */
  readonly #closing = new AbortController()
  readonly #idle: ImapClient[] = []
  readonly #waiters: Waiter[] = []
  readonly #options: PoolOptions
  #open = 0
  /** Of #open, the sessions still connecting and logging in. */
  #connecting = 0
  #closed = false
  /** A #serveSoon is scheduled. */
  #serving = false
  /** renew() moves this on; sessions opened under an older one are closed instead of lent again. */
  #generation = 0
  readonly #generationOf = new WeakMap<ImapClient, number>()
  /** When each idle session was put back: one found closed after a long idle is no news. */
  readonly #idleSince = new WeakMap<ImapClient, number>()

  constructor(options: PoolOptions) {
    this.#size = Math.max(1, options.size)
    this.#connect = options.connect
    this.#options = options
  }

  /** Sessions the pool opens at most (lower than asked when the server refused more). */
  get size(): number {
    return this.#size
  }

  /** A session is idle now: a task would get it without waiting. */
  get idle(): boolean {
    return this.#waiters.length === 0 && this.#idle.length > 0
  }

  /** Tasks are waiting for a session. */
  get waiting(): boolean {
    return this.#waiters.length > 0
  }

  /**
   * One of the pool's places, for a connection of another kind that stands in for a session (the APPEND
   * pipeline's, when the account is allowed one connection): an idle session is logged out to make
   * room, else the caller waits its turn as a task waits for a session. Resolves with the function that
   * gives the place back (once the other connection is closed); sessions never add up with it past
   * the pool's size.
   */
  async borrowPlace(): Promise<() => void> {
    const client = await this.#acquire(undefined, false, true)
    if (client) {
      // Logged out rather than dropped, so that the server has let it go before the next login.
      if (client.usable) await client.logout().catch(() => client.close())
      else client.close()
    }
    let given = false
    return () => {
      if (given) return
      given = true
      this.#open--
      this.#serveFirst()
    }
  }

  /**
   * Open the first session now, so that bad credentials or a wrong address fail at once, before any
   * work starts. Pushback at login ("[UNAVAILABLE] Temporary authentication failure", too many
   * connections) says nothing about either: it is tried again under the retry policy.
   */
  async warmUp(): Promise<ImapClient> {
    const policy = this.#options.retry ?? NO_RETRY
    const started = Date.now()
    for (let attempt = 0; ; attempt++) {
      let client: ImapClient
      try {
        client = await this.#create()
      } catch (error) {
        if (!pushedBack(error)) throw error
        await this.#pause(error, attempt, policy, started)
        continue
      }
      this.#release(client)
      if (attempt > 0) this.#options.onRecovered?.(attempt)
      return client
    }
  }

  /**
   * Opens the rest of the sessions now, in the background and one after another, for a run that will
   * use them all: their log-ins overlap the folder listing instead of holding up the first folders.
   * One at a time, as a server counts them: Dovecot lets more than its per-user cap in when several
   * log in at once. Pushback ends the filling and shrinks the pool; any other failure is left to the
   * first task that needs a session.
   */
  fill(): void {
    void (async () => {
      while (this.#open < this.#size && !this.#closed) {
        try {
          this.#release(await this.#create())
        } catch (error) {
          this.#shrinkOnPushback(error)
          return
        }
      }
    })()
  }

  /**
   * Run fn with a session to ourselves; run it again on a fresh session after a transient failure
   * (see the file comment). The second argument may be the preferred mailbox, as before.
   */
  async use<T>(fn: (client: ImapClient) => Promise<T>, options: string | UseOptions = {}): Promise<T> {
    const {preferMailbox, idempotent = true} = typeof options === 'string' ? {preferMailbox: options} : options
    const policy = this.#options.retry ?? NO_RETRY
    const started = Date.now()
    for (let attempt = 0; ; attempt++) {
      let client: ImapClient
      try {
        client = await this.#acquire(preferMailbox)
      } catch (error) {
        // No session, so nothing was sent: always safe to try again.
        await this.#pause(error, attempt, policy, started)
        continue
      }
      let failure: {error: unknown}
      try {
        const result = await fn(client)
        this.#release(client)
        if (attempt > 0) this.#options.onRecovered?.(attempt)
        return result
      } catch (error) {
        // A session that lost its connection is not handed out again, whatever else happens.
        if (!client.usable || isConnectionLoss(error)) client.close()
        this.#release(client)
        // A session closed for sending more than we read (limits.ts) fails with that reason, not
        // as a lost connection: a retry would only be sent the same again.
        const breach = limitBreach(client)
        failure = {error: breach && !(error instanceof MessageRejectedError) ? breach.error : error}
      }
      const {error} = failure
      const safe = idempotent ? isTransient(error) : error instanceof ConnectError && error.transient && !error.outcomeUnknown
      if (!safe) throw error
      await this.#pause(error, attempt, policy, started)
    }
  }

  /**
   * Sessions lent from now on are new ones: idle sessions are logged out now, busy ones when they
   * come back. After a server process died mid-write, a surviving server process can go on serving
   * its own stale view of a mailbox (Dovecot Maildir: a UID mapped to another message's file); a new
   * session reads the mailbox afresh.
   */
  renew(): void {
    this.#generation++
    for (const client of this.#idle.splice(0)) this.#retire(client)
  }

  #current(client: ImapClient): boolean {
    return this.#generationOf.get(client) === this.#generation
  }

  /** Closed at once (no LOGOUT round trip), so the session count never exceeds the cap. */
  #retire(client: ImapClient): void {
    this.#open--
    client.close()
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#closing.abort()
    const clients = this.#idle.splice(0)
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error('connection pool closed'))
    await Promise.allSettled(
      clients.map(async (client) => {
        if (client.usable) await client.logout()
        else client.close()
      }),
    )
  }

  /** Waits before retry attempt+1, or throws `error` (made final) when retries are used up or pointless. */
  async #pause(error: unknown, attempt: number, policy: RetryPolicy, started: number): Promise<void> {
    if (!isTransient(error) || this.#closed || this.#options.signal?.aborted) throw error
    if (attempt >= policy.retries) throw gaveUp(error, attempt, started)
    const delayMs = backoffDelay(policy, attempt + 1, error, this.#options.random)
    this.#options.onRetry?.({attempt: attempt + 1, retries: policy.retries, delayMs, error})
    await sleep(delayMs, this.#options.signal)
    if (this.#closed || this.#options.signal?.aborted) throw error
  }

  async #create(): Promise<ImapClient> {
    this.#open++
    this.#connecting++
    const generation = this.#generation
    try {
      const client = await this.#connect(this.#closing.signal)
      this.#generationOf.set(client, generation)
      return client
    } catch (error) {
      this.#open--
      // A task may be waiting for the slot this session would have filled: let it try for itself
      // (it meets the same error and pauses, or finds the server back).
      this.#serveFirst()
      throw error
    } finally {
      this.#connecting--
    }
  }

  /**
   * An idle session (one with `preferMailbox` selected first), a new one while under the cap, or a
   * place in the queue. While others wait, a newcomer (not `queued`) takes an idle session only if it
   * has the newcomer's folder selected (#release holds sessions back one turn for that); otherwise it
   * queues behind them.
   */
  async #acquire(preferMailbox?: string, queued?: boolean): Promise<ImapClient>
  async #acquire(preferMailbox: string | undefined, queued: boolean, placeOnly: boolean): Promise<ImapClient | undefined>
  async #acquire(preferMailbox?: string, queued = false, placeOnly = false): Promise<ImapClient | undefined> {
    if (this.#closed) throw new Error('connection pool closed')
    const fair = !queued && this.#waiters.length > 0
    while (this.#idle.length > 0) {
      let index = preferMailbox ? this.#idle.findIndex((c) => c.mailbox && c.mailbox.path === preferMailbox) : -1
      if (index === -1 && fair) break
      if (fair) for (const waiter of this.#waiters) waiter.passedOver++
      index = Math.max(0, index)
      const [client] = this.#idle.splice(index, 1)
      if (!this.#current(client)) {
        this.#retire(client)
        continue
      }
      if (client.usable) return client
      this.#open--
      client.close()
      // Idle sessions are closed by the silence limit (and by servers' autologout): replaced quietly.
      if (Date.now() - (this.#idleSince.get(client) ?? Date.now()) < SILENCE_LIMIT_MS) this.#options.onDropped?.()
    }
    if (this.#open < this.#size) {
      if (placeOnly) {
        this.#open++
        return undefined
      }
      try {
        return await this.#create()
      } catch (error) {
        if (this.#shrinkOnPushback(error)) return this.#wait(preferMailbox)
        throw error
      }
    }
    return this.#wait(preferMailbox, placeOnly)
  }

  /**
   * "Too many connections" while other sessions work: make do with those (imapsync's lesson with
   * Office 365 and Gmail, which cap sessions per user). Sessions still logging in do not count: they
   * may meet the same refusal. false: not pushback, or no session to go on with.
   */
  #shrinkOnPushback(error: unknown): boolean {
    const established = this.#open - this.#connecting
    if (established === 0 || !isSessionCap(error)) return false
    if (established < this.#size) {
      this.#size = established
      this.#options.onShrink?.(this.#size, error)
    }
    return true
  }

  #wait(preferMailbox?: string, placeOnly = false): Promise<ImapClient | undefined> {
    // Tasks go before borrowers (borrowPlace): the session works through what waits for it before
    // it makes way, instead of the place changing hands between every two tasks.
    const at = placeOnly ? this.#waiters.length : this.#waiters.findIndex((waiter) => waiter.placeOnly)
    const waiting = new Promise<ImapClient | undefined>((resolve, reject) =>
      this.#waiters.splice(at === -1 ? this.#waiters.length : at, 0, {preferMailbox, placeOnly, passedOver: 0, resolve, reject}),
    )
    if (this.#idle.length > 0) this.#serveSoon()
    this.#options.onWaiting?.()
    return waiting
  }

  /**
   * Who gets a session coming back at once: the first waiter that wants the folder it has selected
   * (a SELECT round trip saved), or the first waiter when it has no preference or was passed over
   * often enough. undefined: the session waits one turn of the event loop (#serveSoon), so that the
   * task that just used it can ask for the same folder again (prepare's SELECT, then its listing).
   * Handing sessions out in arrival order made nearly every batched read switch folders.
   */
  #nextWaiter(client: ImapClient): Waiter | undefined {
    const head = this.#waiters[0]
    if (!head) return undefined
    const selected = client.mailbox ? client.mailbox.path : undefined
    if (head.preferMailbox === undefined || head.preferMailbox === selected || head.passedOver >= MAX_PASSED_OVER) return this.#waiters.shift()
    const index = selected === undefined ? -1 : this.#waiters.findIndex((waiter) => waiter.preferMailbox === selected)
    if (index === -1) return undefined
    for (let i = 0; i < index; i++) this.#waiters[i].passedOver++
    return this.#waiters.splice(index, 1)[0]
  }

  /** Hands idle sessions to the waiters, in their order, after this turn of the event loop. */
  #serveSoon(): void {
    if (this.#serving) return
    this.#serving = true
    setImmediate(() => {
      this.#serving = false
      while (this.#waiters.length > 0 && this.#idle.length > 0) this.#serveFirst()
    })
  }

  /** The first waiter tries for itself: an idle session, a new one, or its place in the queue again. */
  #serveFirst(): void {
    const waiter = this.#waiters.shift()
    if (waiter) this.#acquire(waiter.preferMailbox, true, waiter.placeOnly).then(waiter.resolve, waiter.reject)
  }

  #release(client: ImapClient): void {
    if (this.#closed) {
      if (client.usable) client.logout().catch(() => client.close())
      else client.close()
      this.#open--
      return
    }
    if (!client.usable || !this.#current(client)) {
      if (client.usable) this.#retire(client)
      else {
        this.#open--
        client.close()
        this.#options.onDropped?.()
      }
      this.#serveFirst()
      return
    }
    const waiter = this.#nextWaiter(client)
    if (waiter) return waiter.resolve(client)
    this.#idleSince.set(client, Date.now())
    this.#idle.push(client)
    if (this.#waiters.length > 0) this.#serveSoon()
  }
}

/** A waiter may see this many later ones served before it, for a session that has their folder selected. */
const MAX_PASSED_OVER = 4
