/**
 * The base of every mailferry command: the one place where an error that stops a command becomes its
 * failure report (printed on one line with its hint, returned for --json) and its exit code.
 * Lives outside src/commands because oclif treats every module there as a command.
 */
import {Command} from '@oclif/core'

import type {RunSpec} from '../app/open.js'
import {resolveRunConfig} from '../config/load.js'
import type {FailureReport} from '../errors.js'
import {parseFailure, printFailure} from './failure.js'
import {toFlagValues} from './flags.js'
import {toMappingFlagValues} from './mapping-flags.js'

export abstract class MailferryCommand extends Command {
  /** The run's specification from the parsed flags, the --config file and the environment; warnings printed. */
  protected resolveSpec(flags: Record<string, unknown>): RunSpec {
    const spec = resolveRunConfig({...toFlagValues(flags), mapping: toMappingFlagValues(flags)}, process.env, {defaultStateDir: this.config.dataDir})
    for (const warning of spec.warnings) this.warn(warning)
    return spec
  }

  /**
   * A bad flag fails like any other bad input (exit 2, one line and a hint, the report with --json);
   * every other error reaching oclif is oclif's to print.
   */
  override async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    const usage = parseFailure(error, this.id)
    if (!usage) return super.catch(error)
    const failure = printFailure(usage)
    process.exitCode = failure.exitCode
    if (this.jsonEnabled()) this.logJson(failure)
    else this.exit(failure.exitCode)
    return failure
  }

  /**
   * Runs `work`; its result's exit code becomes the process's. A thrown error is printed and
   * returned as a FailureReport (`onFailure` sees it first, e.g. to log it).
   */
  protected async report<T>(debug: boolean, work: () => Promise<T>, onFailure?: (failure: FailureReport) => void): Promise<T | FailureReport> {
    try {
      const result = await work()
      const exitCode = (result as {exitCode?: unknown} | undefined)?.exitCode
      if (typeof exitCode === 'number') process.exitCode = exitCode
      return result
    } catch (error) {
      const failure = printFailure(error, debug)
      onFailure?.(failure)
      // With --json the report is the return value (oclif prints it); the exit code still tells.
      if (!this.jsonEnabled()) this.exit(failure.exitCode)
      process.exitCode = failure.exitCode
      return failure
    }
  }
}
