/**
 * Runs a batch: each account through the same code path as `mailferry sync` (the `runAccount` the
 * caller hands in: src/app/batch.ts), in-process, at most `parallel` at once, within the per-host
 * connection budget. batch.json records each outcome as it happens, so a re-run skips what completed ok.
 */
import {join} from 'node:path'

import type {SyncFlagValues} from '../config/load.js'
import {defaultStateFileName} from '../config/paths.js'
import {ExitCode, exitMeaning, failureReport, verdict, type Verdict} from '../errors.js'
import {systemClock, type Clock} from '../sync/clock.js'
import type {RunResult} from '../sync/events.js'
import {accountDemand, fitConcurrency, HostBudget, unfitReason} from './budget.js'
import {describeEndpoint} from '../config/schema.js'
import type {BatchJob} from './config.js'
import {schedule, type Queued} from './schedule.js'
import {batchStatePath, outcomeOf, readBatchState, writeBatchState, type AccountOutcome} from './state.js'

/** Runs one account as `mailferry sync --config` would, given the flags that command would get. */
export type AccountRunner = (job: BatchJob, flags: SyncFlagValues) => Promise<RunResult>

export interface BatchOptions {
  stateDir: string
  runAccount: AccountRunner
  /** Accounts at once (default 2). */
  parallel: number
  /** Sessions per host across all accounts; undefined = no cap. */
  maxConnectionsPerHost?: number
  /** Run accounts that completed ok before, too. */
  resync?: boolean
  signal?: AbortSignal
  /** One plain line per event (account start / finish, total). */
  progress?: (line: string) => void
  /** Test switch: SIGKILL the process once this many accounts have finished in this run. */
  killAfterAccounts?: number
  /** The time budget waits reckon with (default: the system's). */
  clock?: Clock
}

export interface AccountReport {
  id: string
  origin: string
  source: string
  dest: string
  outcome: AccountOutcome | 'skipped'
  exitCode: number
  exitMeaning: string
  concurrency: number
  copied: number
  alreadyPresent: number
  failed: number
  bytes: number
  durationMs: number
  statePath: string
  error?: string
  /** Stopped at a budget (exit 75): when its window has room again. The batch waits for it. */
  resumeAt?: string
  warnings: string[]
}

export interface BatchReport extends Verdict {
  stateDir: string
  batchState: string
  parallel: number
  maxConnectionsPerHost: number | null
  /** Highest number of sessions the batch held at once on each host ("host:port"). */
  peakConnectionsPerHost: Record<string, number>
  accounts: AccountReport[]
  totals: {
    accounts: number
    ok: number
    partial: number
    failed: number
    skipped: number
    copied: number
    bytes: number
    durationMs: number
  }
}

/** The state DB of one job: `<stateDir>/<source>--<dest>.sqlite`. */
export function jobStatePath(stateDir: string, job: BatchJob): string {
  return join(stateDir, defaultStateFileName(job.source, job.dest))
}

/** The flags `mailferry sync --config` would be given for this job (the rest is in job.settings). */
export function jobFlags(statePath: string, concurrency: number): SyncFlagValues {
  return {settings: {state: statePath, concurrency}}
}

/** A job as the scheduler queues it: its state database, the concurrency it may use under the cap, the sessions that holds per host. */
export interface QueuedAccount {
  job: BatchJob
  statePath: string
  concurrency: number
}

export function queuedAccount(job: BatchJob, stateDir: string, cap: number | undefined): Queued<QueuedAccount> {
  const concurrency = fitConcurrency(job.concurrency, job.source, job.dest, cap)
  return {item: {job, statePath: jobStatePath(stateDir, job), concurrency}, demand: accountDemand(job.source, job.dest, concurrency)}
}

/** A report row before the account ran: nothing copied; `over` says what happened. */
function accountRow(job: BatchJob, statePath: string, over: Partial<AccountReport> & Pick<AccountReport, 'outcome' | 'exitCode'>): AccountReport {
  return {
    id: job.id,
    origin: job.origin,
    source: describeEndpoint(job.source),
    dest: describeEndpoint(job.dest),
    exitMeaning: exitMeaning(over.exitCode),
    concurrency: 0,
    copied: 0,
    alreadyPresent: 0,
    failed: 0,
    bytes: 0,
    durationMs: 0,
    statePath,
    warnings: [],
    ...over,
  }
}

/** One account, exactly as `sync` runs it. Never throws: failures become the report row. */
export async function runAccount(job: BatchJob, concurrency: number, statePath: string, options: BatchOptions): Promise<AccountReport> {
  const started = Date.now()
  let row: AccountReport
  try {
    const result = await options.runAccount(job, jobFlags(statePath, concurrency))
    const {copied, alreadyPresent, failed, bytes} = result.totals
    row = accountRow(job, statePath, {
      outcome: outcomeOf(result.exitCode),
      exitCode: result.exitCode,
      concurrency,
      copied,
      alreadyPresent,
      failed,
      bytes,
      warnings: result.warnings,
      ...(result.error ? {error: result.error} : {}),
      ...(result.exitCode === ExitCode.budget && result.budget?.resumeAt ? {resumeAt: result.budget.resumeAt} : {}),
    })
  } catch (error) {
    const failure = failureReport(error)
    row = accountRow(job, statePath, {outcome: outcomeOf(failure.exitCode), exitCode: failure.exitCode, concurrency, error: failure.error})
  }
  row.durationMs = Date.now() - started
  return row
}

export async function runBatch(jobs: BatchJob[], given: BatchOptions): Promise<BatchReport> {
  const options = given
  const started = Date.now()
  const progress = options.progress ?? (() => {})
  const statePath = batchStatePath(options.stateDir)
  const state = readBatchState(statePath)
  const budget = new HostBudget(options.maxConnectionsPerHost)
  const rows = new Map<string, AccountReport>()
  let finishedThisRun = 0

  const queue: Array<Queued<QueuedAccount>> = []
  for (const job of jobs) {
    const previous = state.accounts[job.id]
    if (previous?.outcome === 'ok' && !options.resync) {
      rows.set(job.id, accountRow(job, jobStatePath(options.stateDir, job), {
        outcome: 'skipped',
        exitCode: ExitCode.ok,
        exitMeaning: `completed ok at ${previous.finishedAt}; skipped (--resync runs it again)`,
      }))
      progress(`skip   ${job.id} (completed ok at ${previous.finishedAt})`)
      continue
    }
    queue.push(queuedAccount(job, options.stateDir, options.maxConnectionsPerHost))
  }
  const total = queue.length
  let startedCount = 0
  // What accounts stopped at a budget copied before they stopped, added to the row of their last run.
  const carried = new Map<string, {copied: number; bytes: number}>()

  const run = async (p: QueuedAccount): Promise<number | undefined> => {
    if (carried.has(p.job.id)) progress(`resume ${p.job.id} (its budget has room again)`)
    else progress(`start  [${++startedCount}/${total}] ${p.job.id} (concurrency ${p.concurrency})`)
    const row = await runAccount(p.job, p.concurrency, p.statePath, options)
    const before = carried.get(p.job.id)
    if (before) {
      row.copied += before.copied
      row.bytes += before.bytes
    }
    rows.set(p.job.id, row)
    if (row.resumeAt && !options.signal?.aborted) {
      progress(`defer  ${p.job.id}: ${row.copied} copied, ${row.error}; the other accounts go on`)
      carried.set(p.job.id, {copied: row.copied, bytes: row.bytes})
      return Date.parse(row.resumeAt)
    }
    if (row.exitCode !== ExitCode.interrupted) {
      state.accounts[p.job.id] = {
        outcome: row.outcome as AccountOutcome,
        exitCode: row.exitCode,
        finishedAt: new Date().toISOString(),
        statePath: p.statePath,
        copied: row.copied,
        bytes: row.bytes,
        ...(row.error ? {error: row.error} : {}),
      }
      writeBatchState(statePath, state)
    }
    progress(
      `finish ${p.job.id}: ${row.outcome} (exit ${row.exitCode}), ${row.copied} copied, ${row.bytes} bytes, ${(row.durationMs / 1000).toFixed(1)} s${row.error ? `: ${row.error}` : ''}`,
    )
    finishedThisRun++
    if (options.killAfterAccounts !== undefined && finishedThisRun >= options.killAfterAccounts) process.kill(process.pid, 'SIGKILL')
    return undefined
  }
  const notStarted = await schedule(queue, {parallel: options.parallel, budget, signal: options.signal, clock: options.clock ?? systemClock}, {
    run,
    unfit: (p) => rows.set(p.job.id, accountRow(p.job, p.statePath, {outcome: 'failed', exitCode: ExitCode.config, error: unfitReason(options.maxConnectionsPerHost)})),
  })

  // Accounts never started (interrupted): reported as failed with exit 130, not recorded.
  for (const p of notStarted) {
    rows.set(p.job.id, accountRow(p.job, p.statePath, {outcome: 'failed', exitCode: ExitCode.interrupted, error: 'not started (interrupted)'}))
  }

  const accounts = jobs.map((job) => rows.get(job.id)!)
  const count = (o: AccountReport['outcome']) => accounts.filter((a) => a.outcome === o).length
  const totals = {
    accounts: accounts.length,
    ok: count('ok'),
    partial: count('partial'),
    failed: count('failed'),
    skipped: count('skipped'),
    copied: accounts.reduce((n, a) => n + a.copied, 0),
    bytes: accounts.reduce((n, a) => n + a.bytes, 0),
    durationMs: Date.now() - started,
  }
  const exitCode = options.signal?.aborted ? ExitCode.interrupted : totals.partial + totals.failed > 0 ? ExitCode.partial : ExitCode.ok
  progress(
    `total  ${totals.accounts} accounts: ${totals.ok} ok, ${totals.partial} partial, ${totals.failed} failed, ${totals.skipped} skipped; ${totals.copied} messages, ${totals.bytes} bytes, ${(totals.durationMs / 1000).toFixed(1)} s`,
  )
  return {
    ...verdict(exitCode, 'batch'),
    stateDir: options.stateDir,
    batchState: statePath,
    parallel: options.parallel,
    maxConnectionsPerHost: options.maxConnectionsPerHost ?? null,
    peakConnectionsPerHost: budget.peaks(),
    accounts,
    totals,
  }
}
