/**
 * How every command reports an error that stops it: one line that says what and where (not wrapped,
 * unlike oclif's error box), a hint line when there is one, the stack only with --debug.
 * Lives outside src/commands because oclif treats every module there as a command.
 */
import {failureReport, type FailureReport} from '../errors.js'

export function printFailure(error: unknown, debug = false): FailureReport {
  const failure = failureReport(error)
  if (debug && error instanceof Error) process.stderr.write(`${error.stack}\n`)
  process.stderr.write(`Error: ${failure.error}\n${failure.hint ? `Hint: ${failure.hint}\n` : ''}`)
  return failure
}
