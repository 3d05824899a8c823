/**
 * When each account of a batch runs: at most `parallel` at once, each only when its sessions fit the
 * per-host budget (budget.ts), in the order given otherwise. Used by `batch` (run.ts) and
 * `batch --check` (check.ts); what an account's run does and records is theirs.
 */
import type {Clock} from '../sync/clock.js'
import type {HostBudget, HostDemand} from './budget.js'

export interface Queued<T> {
  item: T
  /** Sessions it holds per host while it runs. */
  demand: HostDemand
}

export interface ScheduleOptions {
  parallel: number
  budget: HostBudget
  /** Once aborted nothing more starts; the promise settles when the running ones are done. */
  signal?: AbortSignal
  /** What waits for a deferred account's time reckon with. */
  clock: Clock
}

export interface ScheduleHooks<T> {
  /**
   * Runs one item (never rejects). Resolves with a time (ms since the epoch) when the item is to run
   * again from then (an account stopped at a budget), the others going on meanwhile; else undefined.
   */
  run(item: T): Promise<number | undefined>
  /** The item cannot fit even alone (a cap of 1 with both sides on one host): not run. */
  unfit(item: T): void
}

/** Runs the queue; resolves with the items that never started (the run was aborted). */
export function schedule<T>(queue: Array<Queued<T>>, options: ScheduleOptions, hooks: ScheduleHooks<T>): Promise<T[]> {
  const waiting = [...queue]
  const {budget, signal} = options
  return new Promise((resolveAll) => {
    let running = 0
    // Items waiting for their time to run again: the run is not over while there are any.
    let deferred = 0
    const pump = () => {
      while (running < options.parallel && !signal?.aborted) {
        const index = waiting.findIndex((q) => budget.fits(q.demand))
        if (index === -1) {
          if (running === 0 && waiting.length > 0) {
            hooks.unfit(waiting.shift()!.item)
            continue
          }
          break
        }
        const next = waiting.splice(index, 1)[0]
        budget.tryAcquire(next.demand)
        running++
        void hooks.run(next.item).then((again) => {
          budget.release(next.demand)
          running--
          if (again !== undefined && !signal?.aborted) {
            deferred++
            void options.clock.sleepUntil(again, signal).then(() => {
              deferred--
              if (!signal?.aborted) waiting.unshift(next)
              pump()
            })
          }
          pump()
        })
      }
      if (running === 0 && deferred === 0 && (waiting.length === 0 || signal?.aborted)) resolveAll(waiting.map((q) => q.item))
    }
    pump()
  })
}
