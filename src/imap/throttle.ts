/**
 * A rate limit shared by every connection of a store: --max-bytes-per-second and
 * --max-messages-per-second (imapsync's --maxbytespersecond / --maxmessagespersecond).
 *
 * A virtual clock: each take(n) books the next n/rate seconds and waits until its slot begins.
 * Up to one second of unused allowance may be spent at once (a burst), so a limit of 1 MB/s
 * still sends a 3 MB message: it just waits three seconds before the next one.
 */
import {sleep} from '../sleep.js'

export interface RateLimiterOptions {
  /** Units (bytes or messages) per second; 0 or undefined = no limit. */
  perSecond?: number
  /** For tests. */
  now?: () => number
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
}

export class RateLimiter {
  readonly perSecond: number
  readonly #now: () => number
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  /** When the booked allowance runs out (ms, on the #now clock). */
  #next = Number.NEGATIVE_INFINITY

  constructor(options: RateLimiterOptions = {}) {
    this.perSecond = options.perSecond && options.perSecond > 0 ? options.perSecond : 0
    this.#now = options.now ?? Date.now
    this.#sleep = options.sleep ?? sleep
  }

  get limited(): boolean {
    return this.perSecond > 0
  }

  /** Waits until `units` more may go (resolves at once without a limit). */
  async take(units: number, signal?: AbortSignal): Promise<void> {
    if (!this.limited || units <= 0) return
    const now = this.#now()
    // Allowance left unused in the past is capped at one second's worth.
    const start = Math.max(this.#next, now - 1000)
    this.#next = start + (units / this.perSecond) * 1000
    const wait = start - now
    // Cut short by SIGINT/SIGTERM: a slot can be seconds away, and a stop must not wait for it.
    if (wait > 0 && !signal?.aborted) await this.#sleep(wait, signal)
  }
}

/** The limits of one store; each is shared by all its connections. */
export interface StoreLimits {
  bytes: RateLimiter
  messages: RateLimiter
}

export function storeLimits(maxBytesPerSecond?: number, maxMessagesPerSecond?: number): StoreLimits {
  return {bytes: new RateLimiter({perSecond: maxBytesPerSecond}), messages: new RateLimiter({perSecond: maxMessagesPerSecond})}
}
