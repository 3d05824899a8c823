/**
 * mailferry batch: every account is a sync (or, with --check, a check), resolved from its job's
 * settings as `sync --config` would resolve a file, and run by the same function as `mailferry sync`
 * (or `mailferry check`: run.ts).
 */
import {readFileSync} from 'node:fs'
import {dirname, resolve} from 'node:path'

import {parseBatchCsv, parseBatchYaml, type BatchJob, type CsvOptions} from '../batch/config.js'
import {checkBatch, type BatchCheckOptions, type BatchCheckReport} from '../batch/check.js'
import {runBatch, type BatchOptions, type BatchReport} from '../batch/run.js'
import {resolveRunConfig, type SyncFlagValues} from '../config/load.js'
import {checkSettingFlags, type SettingFlagValues} from '../config/settings.js'
import {inputSecretEnvNames} from '../config/auth.js'
import {ConfigError, describeError} from '../errors.js'
import {clockFromEnv} from '../sync/clock.js'
import type {RunSpec} from './open.js'
import {check, sync} from './run.js'

type AccountOptions = {env?: NodeJS.ProcessEnv; settings?: SettingFlagValues; stateDir: string}

/**
 * How each account's run is specified, as `sync --config` would resolve its job's settings, with the
 * batch command's setting flags (`settings`: --repair) over the file's keys. The flags are checked
 * here, once, so a mistake stops the batch before any account.
 */
function accountSpecs(jobs: BatchJob[], options: AccountOptions): (job: BatchJob, flags: SyncFlagValues) => RunSpec {
  checkSettingFlags(options.settings ?? {})
  // One account's passwordCommand must not see another account's password either.
  const secretEnvNames = jobs.flatMap((job) => [...inputSecretEnvNames(job.settings.source), ...inputSecretEnvNames(job.settings.dest)])
  return (job, flags) =>
    resolveRunConfig({...flags, settings: {...options.settings, ...flags.settings}}, options.env ?? process.env, {
      defaultStateDir: options.stateDir,
      file: {input: job.settings, baseDir: options.stateDir},
      secretEnvNames,
    })
}

/** mailferry batch: each account synced by the same function as `mailferry sync`. */
export function batch(jobs: BatchJob[], options: Omit<BatchOptions, 'runAccount'> & AccountOptions): Promise<BatchReport> {
  const specOf = accountSpecs(jobs, options)
  const runAccount = (job: BatchJob, flags: SyncFlagValues) => sync(specOf(job, flags), {signal: options.signal})
  return runBatch(jobs, {...options, runAccount, clock: options.clock ?? clockFromEnv(options.env ?? process.env)})
}

/** mailferry batch --check: each account checked by the same function as `mailferry check`; nothing written. */
export function batchCheck(jobs: BatchJob[], options: Omit<BatchCheckOptions, 'checkAccount'> & AccountOptions): Promise<BatchCheckReport> {
  const specOf = accountSpecs(jobs, options)
  const checkAccount = (job: BatchJob, flags: SyncFlagValues) => check(specOf(job, flags), {signal: options.signal})
  return checkBatch(jobs, {...options, checkAccount})
}

/** A batch's accounts from a YAML file (`config`) or a CSV file (`accounts`), and its state directory. */
export function loadBatch(source: {config?: string; accounts?: string; stateDir?: string; csv?: Omit<CsvOptions, 'resolvePath'>}): {
  jobs: BatchJob[]
  stateDir: string
} {
  const path = resolve((source.config ?? source.accounts)!)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new ConfigError(`${path}: cannot read it: ${(error as NodeJS.ErrnoException).code ?? describeError(error)}`)
  }
  const baseDir = dirname(path)
  const stateDir = source.stateDir === undefined ? undefined : resolve(source.stateDir)
  if (source.config !== undefined) {
    const parsed = parseBatchYaml(text, path, baseDir)
    return {jobs: parsed.jobs, stateDir: stateDir ?? parsed.stateDir}
  }
  const jobs = parseBatchCsv(text, path, {...source.csv, resolvePath: (p) => resolve(baseDir, p)})
  return {jobs, stateDir: stateDir ?? baseDir}
}
