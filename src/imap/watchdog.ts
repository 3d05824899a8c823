/**
 * The safety net behind a wake-up that the raw connections rely on (a command ending wakes waiting
 * APPENDs; a task starting to wait for a session wakes the connection in its place). Should one be
 * missed, the watchdog finds the state it should have ended, says so in a warning that calls it a
 * mailferry bug, and does what the wake-up would have done: a missed wake-up costs WATCHDOG_MS
 * instead of a run that never ends (two such misses once hung runs).
 */
import type {Logger} from '../log.js'

/** Longer than pipeline-commands.test.ts waits, so that its tests still see a missed wake-up. */
export const WATCHDOG_MS = 10_000

export class Watchdog {
  readonly #logger: Logger | undefined
  readonly #warning: string
  #timer?: NodeJS.Timeout

  /** `warning`: what was seen and done, as "APPENDs waited beside a free connection; sent now". */
  constructor(logger: Logger | undefined, warning: string) {
    this.#logger = logger
    this.#warning = warning
  }

  /**
   * Unless already armed: `check` runs WATCHDOG_MS from now, does what a missed wake-up left undone,
   * and returns true when one was missed (the warning is then logged). It does not keep node running.
   */
  arm(check: () => boolean): void {
    if (this.#timer) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (check()) this.#logger?.warn(`${this.#warning} (a mailferry bug: please report it)`)
    }, WATCHDOG_MS)
    this.#timer.unref()
  }

  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
