/**
 * Batched source reads behind Store.fetchMessage: calls for the same folder that wait while the
 * sessions are busy are read with one `UID FETCH <set> (UID FLAGS INTERNALDATE BODY.PEEK[])`
 * (BODY.PEEK never sets \Seen, RFC 9051 6.4.5). Each message is handed to its caller as soon as it
 * has arrived, while the rest of the answer still streams in. The engine's byte budget is taken
 * before fetchMessage is called, so a batch never holds more than the budget allows; a large message
 * (known from the listing) is read alone, so that small ones behind it do not wait for it.
 * Each command's literal limit comes from its messages' listed sizes (limits.ts): a batch whose
 * answer breaks it is read again one message at a time, so only the oversized message fails.
 */
import {MessageRejectedError} from '../errors.js'
import {fetchRows} from './fetch-rows.js'
import {bodyLiteralLimit, oversizedBody, withLiteralLimit} from './limits.js'
import type {ImapClient} from './session.js'
import {compactUids} from './uidset.js'

export interface RawMessage {
  uid: number
  raw: Buffer
  flags: string[]
  internalDate: Date
}

interface Request {
  uid: number
  /** RFC822.SIZE from the listing: the body may not be much larger (limits.ts). */
  listedSize?: number
  settled: boolean
  resolve: (message: RawMessage | null) => void
  reject: (error: unknown) => void
}

export interface FetchBatcherOptions {
  /** Batches read at once (the session pool's size). */
  workers: number
  /** Runs fn on a session with the folder selected (retried on a fresh session after a lost connection). */
  inFolder: <T>(path: string, fn: (client: ImapClient) => Promise<T>) => Promise<T>
  /** The message's size when the listing said, so that a large one is read alone. */
  sizeOf?: (path: string, uid: number) => number | undefined
  /** Messages per UID FETCH at most. */
  maxMessages?: number
  /** A message above this is read alone. */
  largeBytes?: number
  /**
   * Reads a batch of small messages faster when it can (read-pipeline.ts), or answers undefined when
   * it would rather not: what it hands on is settled, whatever it did not read (it threw, or the
   * answer lacked a UID) is read on a session.
   */
  pipelined?: (path: string, uids: number[], onRow: (row: {uid: number; body: Buffer; flags?: string[]; internalDate?: Date}) => void) => Promise<void> | undefined
}

const DEFAULT_MAX_MESSAGES = 100
const DEFAULT_LARGE_BYTES = 1024 * 1024

export class FetchBatcher {
  readonly #options: FetchBatcherOptions
  readonly #queues = new Map<string, Request[]>()
  #active = 0

  constructor(options: FetchBatcherOptions) {
    this.#options = options
  }

  /** The message, or null when it is gone (expunged since the listing). */
  fetch(path: string, uid: number, listedSize?: number): Promise<RawMessage | null> {
    return new Promise((resolve, reject) => {
      let queue = this.#queues.get(path)
      if (!queue) this.#queues.set(path, (queue = []))
      queue.push({uid, listedSize, settled: false, resolve, reject})
      if (this.#active < Math.max(1, this.#options.workers)) {
        this.#active++
        // One turn of the event loop first, so the calls of one burst share a command.
        setImmediate(() => void this.#work())
      }
    })
  }

  async #work(): Promise<void> {
    let last: string | undefined
    try {
      for (;;) {
        const next = this.#takeBatch(last)
        if (!next) return
        last = next.path
        await this.#read(next.path, next.batch)
      }
    } finally {
      this.#active--
    }
  }

  /**
   * The next batch: of the folder this worker read last when it has more waiting (its session still
   * has it selected; a switch costs a SELECT round trip), else of the folder waiting longest.
   */
  #takeBatch(last?: string): {path: string; batch: Request[]} | undefined {
    const continued = last === undefined ? undefined : this.#queues.get(last)
    const order = continued && continued.length > 0 ? [[last!, continued] as const, ...this.#queues] : this.#queues
    for (const [path, queue] of order) {
      // The folder goes behind the others, so one big folder does not starve the rest.
      this.#queues.delete(path)
      if (queue.length === 0) continue
      let batch: Request[] = []
      if (this.#isLarge(path, queue[0])) batch = queue.splice(0, 1)
      else this.#gather(path, queue, batch)
      if (queue.length > 0) this.#queues.set(path, queue)
      return {path, batch}
    }
    return undefined
  }

  /** Requests that came for this folder while a batch waited for a session join it, unless it is a large one's. */
  #topUp(path: string, batch: Request[], byUid: Map<number, Request>): void {
    const queue = this.#queues.get(path)
    if (!queue || batch.some((request) => this.#isLarge(path, request))) return
    for (const request of this.#gather(path, queue, batch)) byUid.set(request.uid, request)
    if (queue.length === 0) this.#queues.delete(path)
  }

  /** Moves the folder's waiting requests that are not large into batch, up to the batch size; returns those moved. */
  #gather(path: string, queue: Request[], batch: Request[]): Request[] {
    const max = this.#options.maxMessages ?? DEFAULT_MAX_MESSAGES
    const moved: Request[] = []
    for (let i = 0; i < queue.length && batch.length < max; ) {
      if (this.#isLarge(path, queue[i])) i++
      else {
        const [request] = queue.splice(i, 1)
        batch.push(request)
        moved.push(request)
      }
    }
    return moved
  }

  #isLarge(path: string, request: Request): boolean {
    return (request.listedSize ?? this.#options.sizeOf?.(path, request.uid) ?? 0) > (this.#options.largeBytes ?? DEFAULT_LARGE_BYTES)
  }

  async #read(path: string, batch: Request[], alone = false): Promise<void> {
    const byUid = new Map(batch.map((request) => [request.uid, request]))
    const pipelined = alone
      ? undefined
      : this.#options.pipelined?.(path, batch.map((request) => request.uid), (row) => {
          const request = byUid.get(row.uid)
          if (!request || request.settled) return
          // Not the size listed for it: left to a session, which reads it as every other read (and
          // refuses it above its limit). A row taken for the wrong message cannot slip through here.
          const listed = request.listedSize ?? this.#options.sizeOf?.(path, row.uid)
          if (listed === undefined ? row.body.length > bodyLiteralLimit(undefined) : row.body.length !== listed) return
          settle(request, row, row.body)
        })
    if (pipelined) {
      await pipelined.catch(() => undefined)
      if (batch.every((request) => request.settled)) return
    }
    try {
      await this.#options.inFolder(path, async (client) => {
        // Requests for this folder that came while this batch waited for a session ride along.
        if (!alone) this.#topUp(path, batch, byUid)
        // After a lost connection the task runs again on a new session: only what is still missing.
        const wanted = batch.filter((request) => !request.settled)
        if (wanted.length === 0) return
        const limit = Math.max(...wanted.map((request) => bodyLiteralLimit(request.listedSize)))
        const query = {flags: true, internalDate: true, body: true}
        const read = () =>
          fetchRows(client, compactUids(wanted.map((request) => request.uid)), query, (row) => {
            const request = byUid.get(row.uid)
            // A row without the body (a server's stray FETCH) is not the message: it stays unsettled.
            if (!request || request.settled || !row.body) return
            settle(request, row, row.body)
          })
        await withLiteralLimit(client, limit, read).catch((error) => {
          const oversized = oversizedBody(client, wanted.length === 1 ? wanted[0].listedSize : undefined)
          throw oversized ? (wanted.length === 1 ? oversized : new SplitBatch()) : error
        })
      })
    } catch (error) {
      if (error instanceof SplitBatch) {
        for (const request of batch) if (!request.settled) await this.#read(path, [request], true)
        return
      }
      for (const request of batch) if (!request.settled) (request.settled = true), request.reject(error)
      return
    }
    // Not in the answer: expunged since the listing (not an error, as in mbsync).
    for (const request of batch) if (!request.settled) (request.settled = true), request.resolve(null)
  }
}

/** Hands the message of a FETCH row (with its body) to the caller waiting for it. */
function settle(request: Request, row: {uid: number; flags?: string[]; internalDate?: Date}, body: Buffer): void {
  request.settled = true
  request.resolve({uid: row.uid, raw: body, flags: row.flags ?? [], internalDate: row.internalDate ?? new Date(0)})
}

/**
 * A body broke its command's literal limit: the batch is read again message by message. A
 * MessageRejectedError, so the pool passes it on rather than fail the store (pool.ts).
 */
class SplitBatch extends MessageRejectedError {
  constructor() {
    super('a body broke the literal limit of a batched fetch')
  }
}
