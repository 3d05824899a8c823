/**
 * mailferry batch: every account is a sync, resolved from its job's settings as `sync --config` would
 * resolve a file, and run by the same function as `mailferry sync` (run.ts).
 */
import {readFileSync} from 'node:fs'
import {dirname, resolve} from 'node:path'

import {parseBatchCsv, parseBatchYaml, type BatchJob, type CsvOptions} from '../batch/config.js'
import {runBatch, type BatchOptions, type BatchReport} from '../batch/run.js'
import {resolveRunConfig, type SyncFlagValues} from '../config/load.js'
import {checkSettingFlags, type SettingFlagValues} from '../config/settings.js'
import {inputSecretEnvNames} from '../config/auth.js'
import {ConfigError, describeError} from '../errors.js'
import {clockFromEnv} from '../sync/clock.js'
import {sync} from './run.js'

/**
 * `settings`: the batch command's setting flags (--repair), for every account as `sync` would take
 * them (over the file's keys); checked once here, so a mistake stops the batch before any account.
 */
export function batch(jobs: BatchJob[], options: Omit<BatchOptions, 'runAccount'> & {env?: NodeJS.ProcessEnv; settings?: SettingFlagValues}): Promise<BatchReport> {
  checkSettingFlags(options.settings ?? {})
  // One account's passwordCommand must not see another account's password either.
  const secretEnvNames = jobs.flatMap((job) => [...inputSecretEnvNames(job.settings.source), ...inputSecretEnvNames(job.settings.dest)])
  const runAccount = (job: BatchJob, flags: SyncFlagValues) => {
    const spec = resolveRunConfig({...flags, settings: {...options.settings, ...flags.settings}}, options.env ?? process.env, {
      defaultStateDir: options.stateDir,
      file: {input: job.settings, baseDir: options.stateDir},
      secretEnvNames,
    })
    return sync(spec, {signal: options.signal})
  }
  return runBatch(jobs, {...options, runAccount, clock: options.clock ?? clockFromEnv(options.env ?? process.env)})
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
