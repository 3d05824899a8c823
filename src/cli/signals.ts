/**
 * SIGINT/SIGTERM for the commands that run: the first aborts the run's signal (work in flight
 * finishes and the state is saved), a second exits at once.
 * Lives outside src/commands because oclif treats every module there as a command.
 */
import {ExitCode} from '../errors.js'

/** Returns a function that removes the handlers. */
export function abortOnSignals(abort: AbortController): () => void {
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(ExitCode.interrupted)
    abort.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return () => {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
