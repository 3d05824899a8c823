/**
 * A budget of bytes held in memory at once by message copies. A copy takes its message's size before
 * fetching the body and gives it back after the APPEND, so memory stays bounded however many copies
 * run side by side. A message bigger than the whole budget waits until it can run alone.
 */
export class ByteBudget {
  readonly #limit: number
  #used = 0
  #running = 0
  readonly #waiting: Array<{bytes: number; grant: () => void}> = []

  constructor(limit: number) {
    this.#limit = limit
  }

  /** Resolves with a release function once `bytes` fit. Grants in arrival order. */
  async acquire(bytes: number): Promise<() => void> {
    if (this.#waiting.length === 0 && this.#fits(bytes)) return this.#take(bytes)
    return new Promise((resolve) => this.#waiting.push({bytes, grant: () => resolve(this.#take(bytes))}))
  }

  #fits(bytes: number): boolean {
    return this.#running === 0 || this.#used + bytes <= this.#limit
  }

  #take(bytes: number): () => void {
    this.#used += bytes
    this.#running++
    let released = false
    return () => {
      if (released) return
      released = true
      this.#used -= bytes
      this.#running--
      while (this.#waiting.length > 0 && this.#fits(this.#waiting[0].bytes)) this.#waiting.shift()!.grant()
    }
  }
}
