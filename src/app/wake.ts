/** The promise's value, or undefined as soon as the signal aborts (the promise is left to settle). */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined)
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined)
    signal.addEventListener('abort', onAbort, {once: true})
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

/**
 * A wake-up signal for loops that sleep between passes: fire() ends the current (or the next) wait
 * early. A fire() while no one waits is remembered, so a change seen during a pass is not lost.
 */
export class Wake {
  #pending = false
  #resolve?: () => void

  fire(): void {
    this.#pending = true
    this.#resolve?.()
  }

  /** Resolves on fire(), after ms, or when the signal aborts; says which. */
  wait(ms: number, signal: AbortSignal): Promise<'fired' | 'timeout' | 'aborted'> {
    if (signal.aborted) return Promise.resolve('aborted')
    if (this.#pending) {
      this.#pending = false
      return Promise.resolve('fired')
    }
    return new Promise((resolve) => {
      const done = (why: 'fired' | 'timeout' | 'aborted') => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        this.#resolve = undefined
        this.#pending = false
        resolve(why)
      }
      const onAbort = () => done('aborted')
      const timer = setTimeout(() => done('timeout'), ms)
      signal.addEventListener('abort', onAbort, {once: true})
      this.#resolve = () => done('fired')
    })
  }
}
