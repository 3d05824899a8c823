/**
 * Daily and hourly budgets of a provider (--max-bytes-per-day, --max-messages-per-hour), per side:
 * on the source they count what is downloaded, on the destination what is uploaded. Each is a rolling
 * window (the last 24 hours, the last hour) over what the state database recorded (state/spend.ts),
 * so a resumed run starts with what earlier runs spent.
 *
 * A copy reserves its message's listed size (and one message) on every limited side before it
 * starts; what it really moved is recorded as it goes (ticket.spend). The first copy that does not
 * fit stops the run: no copy starts after it, those in flight finish, and the stop says when the
 * window will have freed enough (BudgetReachedError, exit 75).
 */
import {BudgetReachedError} from '../errors.js'
import {SPEND_BUCKET_MS, type SpendBucket, type SpendLedger, type SpendSide} from '../state/spend.js'
import {utcTime, type Clock} from './clock.js'

export const DAY_MS = 86_400_000
export const HOUR_MS = 3_600_000

export interface SideBudget {
  bytesPerDay?: number
  messagesPerHour?: number
}

export type BudgetLimits = Partial<Record<SpendSide, SideBudget>>

type Dimension = 'bytes' | 'messages'

const DIMENSIONS = {
  bytes: {window: DAY_MS, limit: 'bytesPerDay', flag: '--max-bytes-per-day', unit: 'bytes', span: '24 h'},
  messages: {window: HOUR_MS, limit: 'messagesPerHour', flag: '--max-messages-per-hour', unit: 'messages', span: 'hour'},
} as const

const DONE = {source: 'downloaded from the source', dest: 'uploaded to the destination'} as const

export interface BudgetUse {
  limit: number
  /** Spent in the rolling window when the run ended (this run and earlier ones). */
  spent: number
}

/** The budgets part of a run's report. */
export interface BudgetReport {
  source?: {bytesPerDay?: BudgetUse; messagesPerHour?: BudgetUse}
  dest?: {bytesPerDay?: BudgetUse; messagesPerHour?: BudgetUse}
  /** Set when the run stopped at a budget: when the window has room again (ISO 8601). */
  resumeAt?: string
  /** Still to copy (failed messages included: they are retried), in the folders the run listed. */
  left: {messages: number; bytes: number}
  /** Folders the run stopped before listing: what they hold is not in `left` (nor in the ETA). */
  foldersNotListed?: number
  /** Days to copy what is left at the budgets' pace (the tightest one decides). */
  etaDays: number
}

/** What reserve() answers: go ahead, stop the run, or this message can never fit. */
export type Grant = {ticket: QuotaTicket} | {stop: BudgetReachedError} | {tooLarge: string}

/** One copy's reservation. */
export interface QuotaTicket {
  /** `bytes` were moved on `side` (downloaded from the source, sent to the destination). */
  spend(side: SpendSide, bytes: number): void
  /** Gives back what was reserved and not spent (the copy ended early). Idempotent. */
  release(): void
}

export class Quota {
  readonly #limits: BudgetLimits
  readonly #ledger: SpendLedger
  readonly #clock: Clock
  readonly #sides: SpendSide[]
  /** What the ledger holds for the windows, oldest first, kept in step with what this run adds. */
  readonly #buckets: SpendBucket[]
  readonly #reserved: Record<SpendSide, {bytes: number; messages: number}> = {source: {bytes: 0, messages: 0}, dest: {bytes: 0, messages: 0}}
  #stop?: BudgetReachedError

  constructor(limits: BudgetLimits, ledger: SpendLedger, clock: Clock) {
    this.#limits = limits
    this.#ledger = ledger
    this.#clock = clock
    this.#sides = (['source', 'dest'] as const).filter((side) => limits[side]?.bytesPerDay !== undefined || limits[side]?.messagesPerHour !== undefined)
    const oldest = clock.now() - DAY_MS - SPEND_BUCKET_MS
    ledger.prune(oldest)
    this.#buckets = ledger.since(oldest)
  }

  /** Some side has a budget. */
  get active(): boolean {
    return this.#sides.length > 0
  }

  /** The run stopped at a budget (set by the first copy that did not fit). */
  get stopped(): BudgetReachedError | undefined {
    return this.#stop
  }

  /** Asks to copy one message of `bytes` (its listed size). */
  reserve(bytes: number): Grant {
    for (const side of this.#sides) {
      const limit = this.#limits[side]!.bytesPerDay
      if (limit !== undefined && bytes > limit) {
        return {tooLarge: `larger (${bytes} bytes) than ${DIMENSIONS.bytes.flag} ${limit}: it can never be ${DONE[side]} within the budget`}
      }
    }
    if (this.#stop) return {stop: this.#stop}
    const now = this.#clock.now()
    const want = {bytes, messages: 1}
    let resumeAt = 0
    let reason = ''
    for (const side of this.#sides) {
      for (const dimension of ['bytes', 'messages'] as const) {
        const limit = this.#limits[side]![DIMENSIONS[dimension].limit]
        if (limit === undefined) continue
        // Copies in flight count as spent: they are about to be.
        const held = this.#spent(side, dimension, now) + this.#reserved[side][dimension]
        if (held + want[dimension] <= limit) continue
        const at = this.#freeAt(side, dimension, held + want[dimension] - limit, now)
        if (at > resumeAt) {
          resumeAt = at
          const d = DIMENSIONS[dimension]
          reason = `${held} of ${d.flag} ${limit} ${d.unit} ${DONE[side]} in the last ${d.span}`
        }
      }
    }
    if (resumeAt > 0) {
      this.#stop = new BudgetReachedError(`budget reached: ${reason}; resume after ${utcTime(resumeAt, now)}`, new Date(resumeAt), {
        hint: 'nothing is lost: re-run the same command then (watch and batch wait and resume by themselves)',
      })
      return {stop: this.#stop}
    }
    for (const side of this.#sides) {
      this.#reserved[side].bytes += bytes
      this.#reserved[side].messages += 1
    }
    return {ticket: this.#ticket(bytes)}
  }

  /** Spent and limit per limited side; where the run stopped; what is left and how many days it takes. */
  report(left: {messages: number; bytes: number}, foldersNotListed = 0): BudgetReport {
    const now = this.#clock.now()
    const out: BudgetReport = {left, etaDays: 0, ...(foldersNotListed > 0 ? {foldersNotListed} : {})}
    let days = 0
    for (const side of this.#sides) {
      const limits = this.#limits[side]!
      const uses: NonNullable<BudgetReport['source']> = {}
      if (limits.bytesPerDay !== undefined) {
        uses.bytesPerDay = {limit: limits.bytesPerDay, spent: this.#spent(side, 'bytes', now)}
        days = Math.max(days, left.bytes / limits.bytesPerDay)
      }
      if (limits.messagesPerHour !== undefined) {
        uses.messagesPerHour = {limit: limits.messagesPerHour, spent: this.#spent(side, 'messages', now)}
        days = Math.max(days, left.messages / (limits.messagesPerHour * 24))
      }
      out[side] = uses
    }
    out.etaDays = Math.ceil(days * 10) / 10
    if (this.#stop) out.resumeAt = this.#stop.resumeAt.toISOString()
    return out
  }

  #ticket(reserved: number): QuotaTicket {
    const open = new Set(this.#sides)
    const close = (side: SpendSide) => {
      if (!open.delete(side)) return false
      this.#reserved[side].bytes -= reserved
      this.#reserved[side].messages -= 1
      return true
    }
    return {
      spend: (side, bytes) => {
        if (close(side)) this.#add(side, bytes)
      },
      release: () => {
        for (const side of [...open]) close(side)
      },
    }
  }

  #add(side: SpendSide, bytes: number): void {
    const at = this.#ledger.add(side, this.#clock.now(), bytes, 1)
    let bucket: SpendBucket | undefined
    for (let i = this.#buckets.length - 1; i >= 0 && !bucket; i--) if (this.#buckets[i].side === side && this.#buckets[i].at === at) bucket = this.#buckets[i]
    if (bucket) {
      bucket.bytes += bytes
      bucket.messages += 1
    } else {
      this.#buckets.push({side, at, bytes, messages: 1})
    }
  }

  /** Minutes that overlap the window count whole: the budget errs on the safe side, by under a minute. */
  #inWindow(side: SpendSide, dimension: Dimension, now: number): SpendBucket[] {
    const from = now - DIMENSIONS[dimension].window
    return this.#buckets.filter((b) => b.side === side && b.at + SPEND_BUCKET_MS > from)
  }

  #spent(side: SpendSide, dimension: Dimension, now: number): number {
    return this.#inWindow(side, dimension, now).reduce((sum, b) => sum + b[dimension], 0)
  }

  /** When enough of the window's oldest spending has left it to free `excess`. */
  #freeAt(side: SpendSide, dimension: Dimension, excess: number, now: number): number {
    const window = DIMENSIONS[dimension].window
    let freed = 0
    for (const bucket of this.#inWindow(side, dimension, now).sort((a, b) => a.at - b.at)) {
      freed += bucket[dimension]
      if (freed >= excess) return bucket.at + SPEND_BUCKET_MS + window
    }
    // Copies in flight hold the rest: they are spent about now.
    return now + SPEND_BUCKET_MS + window
  }
}
