/**
 * Per-host connection budget shared by every account of a batch (pure).
 *
 * An account needs `concurrency` sessions on its source host and as many on its destination host
 * (both on one host when they share it). It starts only when all of them fit in every involved host's
 * budget, and gives them back when it ends; so the sessions open at any moment never exceed the cap.
 * The budget also records the peak reserved per host, which the batch report shows.
 */

export type HostDemand = Map<string, number>

/** "host:port", lower-cased host. */
export function hostKey(endpoint: {host: string; port: number}): string {
  return `${endpoint.host.toLowerCase()}:${endpoint.port}`
}

/** Sessions one account holds per host with `concurrency` sessions per side. */
export function accountDemand(source: {host: string; port: number}, dest: {host: string; port: number}, concurrency: number): HostDemand {
  const demand: HostDemand = new Map()
  for (const endpoint of [source, dest]) {
    const key = hostKey(endpoint)
    demand.set(key, (demand.get(key) ?? 0) + concurrency)
  }
  return demand
}

/**
 * The concurrency an account may use so that it fits an otherwise idle host at all:
 * min(wanted, floor(cap / sides on that host)), at least 1. Undefined cap = no limit.
 */
export function fitConcurrency(wanted: number, source: {host: string; port: number}, dest: {host: string; port: number}, cap: number | undefined): number {
  if (cap === undefined) return wanted
  const sidesOnOneHost = hostKey(source) === hostKey(dest) ? 2 : 1
  return Math.max(1, Math.min(wanted, Math.floor(cap / sidesOnOneHost)))
}

/** Why an account is not run: it cannot fit an idle host (a cap of 1 with both sides on one host). */
export function unfitReason(cap: number | undefined): string {
  return `needs 2 sessions on one host, more than --max-connections-per-host ${cap ?? 0}`
}

export class HostBudget {
  readonly #cap: number | undefined
  readonly #inUse = new Map<string, number>()
  readonly #peak = new Map<string, number>()

  constructor(cap: number | undefined) {
    this.#cap = cap
  }

  /** Whether `demand` fits now. */
  fits(demand: HostDemand): boolean {
    if (this.#cap === undefined) return true
    for (const [host, n] of demand) if ((this.#inUse.get(host) ?? 0) + n > this.#cap) return false
    return true
  }

  /** Reserves `demand` if it fits; false otherwise (nothing reserved). */
  tryAcquire(demand: HostDemand): boolean {
    if (!this.fits(demand)) return false
    for (const [host, n] of demand) {
      const now = (this.#inUse.get(host) ?? 0) + n
      this.#inUse.set(host, now)
      this.#peak.set(host, Math.max(this.#peak.get(host) ?? 0, now))
    }
    return true
  }

  release(demand: HostDemand): void {
    for (const [host, n] of demand) {
      const left = (this.#inUse.get(host) ?? 0) - n
      if (left < 0) throw new Error(`host budget: released more than reserved for ${host}`)
      this.#inUse.set(host, left)
    }
  }

  inUse(host: string): number {
    return this.#inUse.get(host) ?? 0
  }

  /** Highest number of sessions reserved at once, per host. */
  peaks(): Record<string, number> {
    return Object.fromEntries(this.#peak)
  }
}
