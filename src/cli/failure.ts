/**
 * How every command reports an error that stops it: one line that says what and where (not wrapped,
 * unlike oclif's error box), a hint line when there is one, the stack only with --debug.
 * Lives outside src/commands because oclif treats every module there as a command.
 */
import {ExitCode, MailferryError, describeError} from '../errors.js'

export interface Failure {
  message: string
  hint?: string
  /** The exit code for the kind of failure (src/errors.ts). */
  exitCode: number
}

export function printFailure(error: unknown, debug = false): Failure {
  const known = error instanceof MailferryError ? error : undefined
  const failure = {message: known?.message ?? describeError(error), hint: known?.hint, exitCode: known?.exitCode ?? ExitCode.partial}
  if (debug && error instanceof Error) process.stderr.write(`${error.stack}\n`)
  process.stderr.write(`Error: ${failure.message}\n${failure.hint ? `Hint: ${failure.hint}\n` : ''}`)
  return failure
}
