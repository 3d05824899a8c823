/**
 * What the commands call: one function per intent, each taking the run's specification and returning
 * its complete result (exit code and meaning, warnings, peak memory). Opening is openRun's (open.ts);
 * rendering is the command's.
 */
import {describeStore} from '../config/schema.js'
import {failureReport} from '../errors.js'
import type {Logger} from '../log.js'
import type {RunResult, SyncListener} from '../sync/events.js'
import type {CheckResult} from '../sync/check.js'
import type {PlanPreview} from '../sync/preview.js'
import type {VerifyOptions, VerifyResult} from '../verify/run.js'
import {fanOut, logEvents, logRunEnd, openRunLog} from './logging.js'
import {peakRssBytes} from './memory.js'
import {describePreset, engineOptions, openRun, type Intent, type OpenRun, type RunSpec} from './open.js'

export interface RunHooks {
  signal?: AbortSignal
  /** Engine events (progress bars, lines); the log gets them too. */
  emit?: SyncListener
}

/** The spec's warnings first, then the run's own; the peak memory of the process. */
function complete<T extends {warnings: string[]; peakRssBytes?: number}>(result: T, spec: RunSpec): T {
  result.warnings.unshift(...spec.warnings)
  result.peakRssBytes = peakRssBytes()
  return result
}

/**
 * Opens the run's log (--log-file, --debug-imap), then the run; logs how it started and, when it
 * fails, how it stopped; closes both.
 */
export async function withRun<T>(spec: RunSpec, intent: Intent, hooks: RunHooks, work: (run: OpenRun) => Promise<T>): Promise<T> {
  const {settings} = spec.config
  const log = openRunLog(settings.logFile, settings.debugImap)
  let run: OpenRun | undefined
  try {
    log.info(`run started: mailferry ${intent} ${describeStore(spec.config.source)} -> ${describeStore(spec.config.dest)}, state ${spec.config.statePath}`)
    for (const warning of spec.warnings) log.warn(warning)
    for (const side of ['source', 'dest'] as const) {
      const preset = describePreset(spec, side)
      if (preset) log.info(preset)
    }
    run = await openRun(spec, intent, {log, signal: hooks.signal})
    return await work(run)
  } catch (error) {
    logStop(log, error)
    throw error
  } finally {
    await run?.close()
    log.close()
  }
}

function logStop(log: Logger, error: unknown): void {
  const f = failureReport(error)
  log.error(`run stopped: exit ${f.exitCode} (${f.exitMeaning}): ${f.error}${f.hint ? ` (hint: ${f.hint})` : ''}`)
}

/*
 * Each intent's engine is imported when it runs: a process runs one command, and loading the others'
 * (the sync engine and p-queue, verify) would only lengthen its start.
 */

/** One pass of the engine on an open run (a sync, or one of watch's passes), logged. */
export async function syncPass(run: OpenRun, hooks: RunHooks): Promise<RunResult> {
  const {runSync} = await import('../sync/run.js')
  const emit = hooks.emit ? fanOut(hooks.emit, logEvents(run.log)) : logEvents(run.log)
  const result = await runSync(run.context(emit), engineOptions(run.spec, hooks.signal))
  logRunEnd(run.log, result)
  return result
}

/** mailferry sync (and backup, restore, each batch account). */
export function sync(spec: RunSpec, hooks: RunHooks): Promise<RunResult> {
  return withRun(spec, 'sync', hooks, async (run) => complete(await syncPass(run, hooks), spec))
}

/** mailferry plan and sync --dry-run: both sides and the state only read. */
export function plan(spec: RunSpec, hooks: RunHooks, dryRun: boolean): Promise<PlanPreview> {
  return withRun(spec, dryRun ? 'dry-run' : 'plan', hooks, async (run) => {
    const {previewPlan} = await import('../sync/preview.js')
    const {config} = spec
    const preview = await previewPlan(
      {source: run.source, dest: run.dest, sourceName: run.sourceName, destName: run.destName, statePath: config.statePath, state: run.reader},
      {mapping: config.mapping, concurrency: config.settings.concurrency, dryRun},
    )
    return complete(preview, spec)
  })
}

/** The state's record of repaired copies, when the state database belongs to these accounts. */
function repairedCopies(run: OpenRun) {
  const reader = run.reader
  if (!reader || (reader.accounts && (reader.accounts.source !== run.sourceName || reader.accounts.dest !== run.destName))) return undefined
  return (source: string, dest: string) => reader.repaired(source, dest)
}

/** mailferry verify: both sides only read; the state database, when there is one, only for repaired copies. */
export function verify(spec: RunSpec, hooks: RunHooks & Pick<VerifyOptions, 'onFolder'>): Promise<VerifyResult> {
  return withRun(spec, 'verify', hooks, async (run) => {
    const {runVerify} = await import('../verify/run.js')
    const {config} = spec
    const result = await runVerify(
      {source: run.source, dest: run.dest, sourceName: run.sourceName, destName: run.destName, repaired: repairedCopies(run)},
      {deep: config.settings.deep, concurrency: config.settings.concurrency, mapping: config.mapping, signal: hooks.signal, onFolder: hooks.onFolder},
    )
    return complete(result, spec)
  })
}

/** mailferry check: what a sync would run into; both sides and the state only read. */
export function check(spec: RunSpec, hooks: RunHooks): Promise<CheckResult> {
  return withRun(spec, 'check', hooks, async (run) => {
    const {runCheck} = await import('../sync/check.js')
    const s = spec.config.settings
    const result = await runCheck(
      {source: run.source, dest: run.dest, sourceName: run.sourceName, destName: run.destName, state: run.reader},
      {
        mapping: spec.config.mapping,
        selection: {maxAgeDays: s.maxAge, minAgeDays: s.minAge, maxSize: s.maxSize},
        deep: s.deep,
        concurrency: s.concurrency,
        signal: hooks.signal,
        limits: 'host' in spec.config.dest ? {maxMessageSize: spec.config.dest.maxMessageSize, maxLineLength: spec.config.dest.maxLineLength} : undefined,
      },
    )
    return complete(result, spec)
  })
}
