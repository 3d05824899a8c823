/**
 * backup and restore are `sync` with one side fixed to a Maildir: they take sync's flags for the
 * other side (and every run option), check their own, rewrite `--to`/`--from` into `--dest`/`--source`
 * and run `sync` with the result. Progress, report, --json and exit codes are sync's.
 *
 * Lives outside src/commands because oclif treats every module there as a command.
 */
import type {Command} from '@oclif/core'

import {ConfigError} from '../errors.js'
import {isMaildirUrl} from '../config/url.js'
import {printFailure} from './failure.js'

/** `flags` without those `drop` names. */
export function omitFlags<T extends Record<string, unknown>>(flags: T, drop: (name: string) => boolean): Partial<T> {
  return Object.fromEntries(Object.entries(flags).filter(([name]) => !drop(name))) as Partial<T>
}

/**
 * The value of --to/--from as a maildir: URL. A plain path is a Maildir too; an IMAP URL is a
 * mistake (that is what sync is for).
 */
export function maildirArgument(flag: string, value: string): string {
  if (isMaildirUrl(value)) return value
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value.trim())) {
    throw new ConfigError(`--${flag}: expected a directory (maildir:/path or a plain path), got a URL`, {
      hint: 'to copy between two servers use mailferry sync --source URL --dest URL',
    })
  }
  return `maildir:${value}`
}

/**
 * argv with `--<from> VALUE` / `--<from>=VALUE` replaced by `--<to> map(VALUE)`; everything else as given
 * (oclif has parsed and checked it already).
 */
export function renameFlag(argv: string[], from: string, to: string, map: (value: string) => string): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') {
      out.push(...argv.slice(i))
      break
    }
    if (arg === `--${from}` && i + 1 < argv.length) {
      out.push(`--${to}`, map(argv[++i]))
    } else if (arg.startsWith(`--${from}=`)) {
      out.push(`--${to}=${map(arg.slice(from.length + 3))}`)
    } else {
      out.push(arg)
    }
  }
  return out
}

/** A mistake in --to/--from, reported as sync reports configuration errors (exit 2). */
export function usageError(command: Command, error: unknown): never {
  if (!(error instanceof ConfigError)) throw error
  return command.exit(printFailure(error).exitCode)
}
