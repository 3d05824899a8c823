/**
 * One run's stop signal: the user's abort (Ctrl-C, SIGTERM, watch stopping) and the first fatal
 * error (a store that cannot go on, --max-errors reached). Every step asks `stopped` before it
 * starts new work; the first error given to `fail` is the one the run reports.
 */
import {MailferryError, describeError} from '../errors.js'

export class RunControl {
  readonly signal: AbortSignal
  #fatal?: MailferryError
  #appends = 0
  #moves = 0
  #deletes = 0

  constructor(signal: AbortSignal = new AbortController().signal) {
    this.signal = signal
  }

  /** The user aborted, or a fatal error stopped the run: start nothing new. */
  get stopped(): boolean {
    return this.signal.aborted || this.#fatal !== undefined
  }

  get aborted(): boolean {
    return this.signal.aborted
  }

  /** The first fatal error, if any. */
  get fatal(): MailferryError | undefined {
    return this.#fatal
  }

  /** Records a fatal error; only the first one counts (later ones are its consequences). */
  fail(error: unknown): void {
    this.#fatal ??= error instanceof MailferryError ? error : new MailferryError(describeError(error), {scope: 'run', cause: error})
  }

  /** Run-wide ordinal (1, 2, ...) of the next APPEND, for the --debug-kill-at hooks. */
  nextAppend(): number {
    return ++this.#appends
  }

  /** Run-wide ordinal of the next --move expunge step. */
  nextMove(): number {
    return ++this.#moves
  }

  /** Run-wide ordinal of the next --delete-extraneous step. */
  nextDelete(): number {
    return ++this.#deletes
  }
}
