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
import {ConnectError, MailferryError, MessageRejectedError, describeError} from '../errors.js'
import {sleep} from '../sleep.js'
import {isPushback, isTransient, suggestedDelayMs} from './errors.js'
import {SILENCE_LIMIT_MS, limitBreach} from './limits.js'
import type {ImapClient} from './session.js'

export interface RetryPolicy {
  /** How many times a failed task is tried again (0 = never). */
  retries: number
  /** The first pause; each further one doubles, up to maxDelayMs. */
  initialDelayMs: number
  maxDelayMs: number
}

export const NO_RETRY: RetryPolicy = {retries: 0, initialDelayMs: 500, maxDelayMs: 30_000}

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
  connect: () => Promise<ImapClient>
  retry?: RetryPolicy
  /** Called before each pause (for the log). */
  onRetry?: (notice: RetryNotice) => void
  /** Called when a task succeeds after one or more retries. */
  onRecovered?: (retries: number) => void
  /** Called for each session found closed (BYE, dropped connection) and replaced. */
  onDropped?: () => void
  /** Called once when the server refuses more sessions and the pool makes do with fewer. */
  onShrink?: (size: number, error: unknown) => void
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
  resolve: (client: ImapClient) => void
  reject: (error: unknown) => void
}

/** The pause before retry `attempt` (1-based): doubling from initialDelayMs, ±20 % jitter, capped. */
export function backoffDelay(policy: RetryPolicy, attempt: number, error?: unknown, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 1))
  const jittered = Math.round(base * (0.8 + 0.4 * random()))
  const asked = suggestedDelayMs(error)
  // A throttling server's own suggestion wins, within reason (Office 365 sometimes asks for minutes).
  return asked === undefined ? jittered : Math.max(jittered, Math.min(asked, Math.max(policy.maxDelayMs, 60_000)))
}

export class ConnectionPool {
  #size: number
  readonly #connect: () => Promise<ImapClient>
  readonly #idle: ImapClient[] = []
  readonly #waiters: Waiter[] = []
  readonly #options: PoolOptions
  #open = 0
  /** Of #open, the sessions still connecting and logging in. */
  #connecting = 0
  #closed = false
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

  /** Open the first session now, so bad credentials fail before any work starts. */
  async warmUp(): Promise<ImapClient> {
    const client = await this.#create()
    this.#release(client)
    return client
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
    if (attempt >= policy.retries) throw giveUp(error, attempt, started)
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
      const client = await this.#connect()
      this.#generationOf.set(client, generation)
      return client
    } catch (error) {
      this.#open--
      // A task may be waiting for the slot this session would have filled: let it try for itself
      // (it meets the same error and pauses, or finds the server back).
      const waiter = this.#waiters.shift()
      if (waiter) this.#acquire(waiter.preferMailbox).then(waiter.resolve, waiter.reject)
      throw error
    } finally {
      this.#connecting--
    }
  }

  async #acquire(preferMailbox?: string): Promise<ImapClient> {
    if (this.#closed) throw new Error('connection pool closed')
    while (this.#idle.length > 0) {
      const index = Math.max(0, preferMailbox ? this.#idle.findIndex((c) => c.mailbox && c.mailbox.path === preferMailbox) : 0)
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
      try {
        return await this.#create()
      } catch (error) {
        // "Too many connections" while others work: make do with those (imapsync's lesson with
        // Office 365 and Gmail, which cap sessions per user), and wait for one of them.
        // Sessions still logging in do not count: they may meet the same refusal.
        const established = this.#open - this.#connecting
        if (established > 0 && pushedBack(error)) {
          if (established < this.#size) {
            this.#size = established
            this.#options.onShrink?.(this.#size, error)
          }
          return new Promise<ImapClient>((resolve, reject) => this.#waiters.push({preferMailbox, resolve, reject}))
        }
        throw error
      }
    }
    return new Promise<ImapClient>((resolve, reject) => this.#waiters.push({preferMailbox, resolve, reject}))
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
      const waiter = this.#waiters.shift()
      if (waiter) this.#acquire(waiter.preferMailbox).then(waiter.resolve, waiter.reject)
      return
    }
    const waiter = this.#waiters.shift()
    if (waiter) waiter.resolve(client)
    else {
      this.#idleSince.set(client, Date.now())
      this.#idle.push(client)
    }
  }
}

/** The error concerns the connection itself (not a NO to one command), so the session is done. */
function isConnectionLoss(error: unknown): boolean {
  if (error instanceof ConnectError) return error.transient && !isPushback(error.cause)
  return isTransient(error) && !isPushback(error)
}

function pushedBack(error: unknown): boolean {
  return isPushback(error) || (error instanceof ConnectError && error.transient && isPushback(error.cause))
}

/** The last error, saying how long it was tried; keeps the class (and so the exit code). */
function giveUp(error: unknown, retries: number, started: number): unknown {
  if (retries === 0) return error
  const seconds = Math.round((Date.now() - started) / 100) / 10
  const suffix = ` (still failing after ${retries} ${retries === 1 ? 'retry' : 'retries'} over ${seconds} s)`
  if (error instanceof ConnectError) {
    return new ConnectError(error.message + suffix, {cause: error.cause ?? error, hint: error.hint, transient: false})
  }
  if (error instanceof MailferryError) return error
  return new ConnectError(describeError(error) + suffix, {cause: error, transient: false})
}
