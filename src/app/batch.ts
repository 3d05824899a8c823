/**
 * mailferry batch: every account is a sync, resolved from its job's settings as `sync --config` would
 * resolve a file, and run by the same function as `mailferry sync` (run.ts).
 */
import type {BatchJob} from '../batch/config.js'
import {runBatch, type BatchOptions, type BatchReport} from '../batch/run.js'
import {resolveRunConfig, type SyncFlagValues} from '../config/load.js'
import {sync} from './run.js'

export function batch(jobs: BatchJob[], options: Omit<BatchOptions, 'runAccount'> & {env?: NodeJS.ProcessEnv}): Promise<BatchReport> {
  const runAccount = (job: BatchJob, flags: SyncFlagValues) => {
    const spec = resolveRunConfig(flags, options.env ?? process.env, {
      defaultStateDir: options.stateDir,
      file: {input: job.settings, baseDir: options.stateDir},
    })
    return sync(spec, {signal: options.signal})
  }
  return runBatch(jobs, {...options, runAccount})
}
