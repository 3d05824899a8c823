/**
 * `mailferry batch --check`: every account of a batch checked as `mailferry check` checks one (the
 * `checkAccount` the caller hands in: src/app/batch.ts), in-process, at most `parallel` at once within
 * the per-host session budget. Read-only like check: an account's state database is read when it
 * exists (what is copied is not counted again), and nothing is written, batch.json included.
 */
import type {SyncFlagValues} from '../config/load.js'
import {ExitCode, exitMeaning, failureReport, verdict, type Verdict} from '../errors.js'
import {formatBytes} from '../report/format.js'
import type {CheckResult} from '../sync/check.js'
import {systemClock, type Clock} from '../sync/clock.js'
import {describeEndpoint} from '../config/schema.js'
import {HostBudget, unfitReason} from './budget.js'
import type {BatchJob} from './config.js'
import {jobFlags, queuedAccount} from './run.js'
import {schedule} from './schedule.js'

/** Checks one account as `mailferry check --config` would, given the flags that command would get. */
export type AccountChecker = (job: BatchJob, flags: SyncFlagValues) => Promise<CheckResult>

export interface BatchCheckOptions {
  stateDir: string
  checkAccount: AccountChecker
  /** Accounts at once. */
  parallel: number
  /** Sessions per host across all accounts; undefined = no cap. */
  maxConnectionsPerHost?: number
  signal?: AbortSignal
  /** One plain line per account checked. */
  progress?: (line: string) => void
  clock?: Clock
}

/** clear: nothing would stop its sync; blocked: something would (`inTheWay`); failed: not checked (`error`). */
export type CheckOutcome = 'clear' | 'blocked' | 'failed'

export interface AccountCheck {
  id: string
  origin: string
  source: string
  dest: string
  outcome: CheckOutcome
  exitCode: number
  exitMeaning: string
  concurrency: number
  toCopy: number
  toCopySize: number
  alreadyThere: number
  likelyRefused: number
  /** What would stop or spoil this account's sync, a phrase each; empty when clear. */
  inTheWay: string[]
  statePath: string
  durationMs: number
  error?: string
  warnings: string[]
}

export interface BatchCheckReport extends Verdict {
  stateDir: string
  parallel: number
  maxConnectionsPerHost: number | null
  peakConnectionsPerHost: Record<string, number>
  accounts: AccountCheck[]
  totals: {
    accounts: number
    clear: number
    blocked: number
    failed: number
    toCopy: number
    toCopySize: number
    alreadyThere: number
    likelyRefused: number
    durationMs: number
  }
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`

/** What in a check's result would stop or spoil the sync: each of the things check exits 1 for. */
export function inTheWay(result: CheckResult): string[] {
  const t = result.totals
  const out: string[] = []
  if (result.conflicts.length > 0) out.push(plural(result.conflicts.length, 'folder mapping conflict', 'folder mapping conflicts'))
  for (const q of result.quota) {
    if (q.storage?.fits === false) out.push(`quota ${q.root || '""'}: ${formatBytes(q.storage.toCopy)} to copy, ${formatBytes(Math.max(0, q.storage.limit - q.storage.usage))} free`)
    if (q.messages?.fits === false) out.push(`quota ${q.root || '""'}: ${q.messages.toCopy} messages to copy, room for ${Math.max(0, q.messages.limit - q.messages.usage)}`)
  }
  if (t.overLimit > 0) out.push(`${plural(t.overLimit, 'message', 'messages')} over the size limit`)
  if (t.refusedNames > 0) out.push(`${plural(t.refusedNames, 'folder name', 'folder names')} refused`)
  if (t.droppedFlags > 0) out.push(`${plural(t.droppedFlags, 'keyword', 'keywords')} the destination cannot store`)
  if (t.likelyRefused > 0) out.push(`${plural(t.likelyRefused, 'message', 'messages')} likely refused`)
  if (t.altered > 0) out.push(`${plural(t.altered, 'message', 'messages')} stored altered`)
  const unchecked = result.folders.filter((f) => f.error).length
  if (unchecked > 0) out.push(`${plural(unchecked, 'folder', 'folders')} could not be checked`)
  return out
}

function row(job: BatchJob, statePath: string, concurrency: number, over: Partial<AccountCheck> & Pick<AccountCheck, 'outcome' | 'exitCode'>): AccountCheck {
  return {
    id: job.id,
    origin: job.origin,
    source: describeEndpoint(job.source),
    dest: describeEndpoint(job.dest),
    exitMeaning: exitMeaning(over.exitCode, 'check'),
    concurrency,
    toCopy: 0,
    toCopySize: 0,
    alreadyThere: 0,
    likelyRefused: 0,
    inTheWay: [],
    statePath,
    durationMs: 0,
    warnings: [],
    ...over,
  }
}

/** One account, exactly as `check` checks it. Never throws: a failure becomes the row. */
async function checkOne(job: BatchJob, concurrency: number, statePath: string, options: BatchCheckOptions): Promise<AccountCheck> {
  const started = Date.now()
  let checked: AccountCheck
  try {
    const result = await options.checkAccount(job, jobFlags(statePath, concurrency))
    const {toCopy, toCopySize, alreadyThere, likelyRefused} = result.totals
    const outcome: CheckOutcome = result.exitCode === ExitCode.ok ? 'clear' : result.exitCode === ExitCode.partial ? 'blocked' : 'failed'
    checked = row(job, statePath, concurrency, {outcome, exitCode: result.exitCode, toCopy, toCopySize, alreadyThere, likelyRefused, inTheWay: inTheWay(result), warnings: result.warnings})
  } catch (error) {
    const failure = failureReport(error)
    checked = row(job, statePath, concurrency, {outcome: 'failed', exitCode: failure.exitCode, exitMeaning: failure.exitMeaning, error: failure.error})
  }
  checked.durationMs = Date.now() - started
  return checked
}

export async function checkBatch(jobs: BatchJob[], options: BatchCheckOptions): Promise<BatchCheckReport> {
  const started = Date.now()
  const progress = options.progress ?? (() => {})
  const budget = new HostBudget(options.maxConnectionsPerHost)
  const rows = new Map<string, AccountCheck>()
  const queue = jobs.map((job) => queuedAccount(job, options.stateDir, options.maxConnectionsPerHost))
  let done = 0
  const notStarted = await schedule(queue, {parallel: options.parallel, budget, signal: options.signal, clock: options.clock ?? systemClock}, {
    run: async ({job, concurrency, statePath}) => {
      const checked = await checkOne(job, concurrency, statePath, options)
      rows.set(job.id, checked)
      const what = checked.error ?? (checked.inTheWay.join('; ') || 'nothing in the way')
      const counted = checked.outcome === 'failed' ? '' : `, ${checked.toCopy} to copy`
      progress(`check  [${++done}/${jobs.length}] ${job.id}: ${checked.outcome}${counted}: ${what}`)
      return undefined
    },
    unfit: ({job, concurrency, statePath}) =>
      rows.set(job.id, row(job, statePath, concurrency, {
        outcome: 'failed',
        exitCode: ExitCode.config,
        error: unfitReason(options.maxConnectionsPerHost),
      })),
  })
  for (const {job, concurrency, statePath} of notStarted) {
    rows.set(job.id, row(job, statePath, concurrency, {outcome: 'failed', exitCode: ExitCode.interrupted, error: 'not checked (interrupted)'}))
  }

  const accounts = jobs.map((job) => rows.get(job.id)!)
  const count = (o: CheckOutcome) => accounts.filter((a) => a.outcome === o).length
  const sum = (pick: (a: AccountCheck) => number) => accounts.reduce((n, a) => n + pick(a), 0)
  const totals = {
    accounts: accounts.length,
    clear: count('clear'),
    blocked: count('blocked'),
    failed: count('failed'),
    toCopy: sum((a) => a.toCopy),
    toCopySize: sum((a) => a.toCopySize),
    alreadyThere: sum((a) => a.alreadyThere),
    likelyRefused: sum((a) => a.likelyRefused),
    durationMs: Date.now() - started,
  }
  const exitCode = options.signal?.aborted ? ExitCode.interrupted : totals.blocked + totals.failed > 0 ? ExitCode.partial : ExitCode.ok
  progress(`total  ${totals.accounts} accounts: ${totals.clear} clear, ${totals.blocked} with something in the way, ${totals.failed} not checked; ${totals.toCopy} messages to copy`)
  return {
    ...verdict(exitCode, 'batch-check'),
    stateDir: options.stateDir,
    parallel: options.parallel,
    maxConnectionsPerHost: options.maxConnectionsPerHost ?? null,
    peakConnectionsPerHost: budget.peaks(),
    accounts,
    totals,
  }
}
