/**
 * How every command reports an error that stops it: one line that says what and where (not wrapped,
 * unlike oclif's error box), a hint line when there is one, the stack only with --debug.
 * Lives outside src/commands because oclif treats every module there as a command.
 */
import {stripVTControlCharacters} from 'node:util'

import {Errors} from '@oclif/core'

import {ConfigError, failureReport, type FailureReport} from '../errors.js'

export function printFailure(error: unknown, debug = false): FailureReport {
  const failure = failureReport(error)
  if (debug && error instanceof Error) process.stderr.write(`${error.stack}\n`)
  process.stderr.write(`Error: ${failure.error}\n${failure.hint ? `Hint: ${failure.hint}\n` : ''}`)
  return failure
}

/**
 * oclif's own parse errors (an unknown flag, a value outside a flag's options, a flag's failed
 * check) as a ConfigError: one line and a hint, not oclif's box followed by the whole help.
 * Anything else: undefined.
 */
export function parseFailure(error: unknown, command: string | undefined): ConfigError | undefined {
  // oclif's parser errors are its CLIErrors that carry the parse (CLIParseError and subclasses); a
  // flag's own parse function failing is any error, its message prefixed "Parsing --name".
  if (!(error instanceof Error)) return undefined
  const flagParse = /^Parsing (--[\w-]+) \n\t/.exec(error.message)
  if (!flagParse && !(error instanceof Errors.CLIError && 'parse' in error)) return undefined
  const message = flagParse ? `${flagParse[1]}: ${error.message.slice(flagParse[0].length)}` : error.message
  const lines = stripVTControlCharacters(message)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && line !== 'See more help with --help' && !/^The following errors? occurred:$/.test(line))
  // An unknown flag is named without its "=value": the value may be a password (--source-pass=...).
  const text = lines
    .join('; ')
    .replace(/^Nonexistent (flags?): ([^;]*)/, (_, noun: string, names: string) => `unknown ${noun}: ${names.split(', ').map((name) => name.split('=')[0]).join(', ')}`)
  return new ConfigError(text, {hint: `mailferry ${command ? `${command} ` : ''}--help lists its flags`})
}

