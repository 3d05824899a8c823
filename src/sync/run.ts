/**
 * One sync run: plan the folders, create what is missing, sync every pair through one shared queue,
 * and return a RunResult. Stores and state are opened by the caller (the command).
 */
import PQueue from 'p-queue'

import {sumCounts} from '../counts.js'
import {ConfigError, ExitCode, describeError, verdict} from '../errors.js'
import {DEFAULT_MAPPING, type FolderMappingConfig} from '../config/mapping.js'
import {listAndPlan} from '../plan/list.js'
import type {Plan} from '../plan/plan.js'
import type {StateRepository} from '../state/repository.js'
import {ownCopies} from './deletions.js'
import {startFolderCreation, subscribeFolders} from './folders.js'
import type {Store} from '../stores/store.js'
import {RunControl} from './control.js'
import {syncFolders, type EngineContext, type EngineHooks, type SyncPolicy} from './engine.js'
import {ByteBudget} from './budget.js'
import {NO_COUNTS, type FolderResult, type RunResult, type SyncEvents, type SyncListener} from './events.js'
import type {Quota} from './quota.js'

/**
 * 16 MiB of message bodies in flight; a message above the budget runs alone. imapflow holds a fetched
 * body about twice (received pieces and the joined buffer). Peak RSS is mostly not these bodies but
 * buffers already let go that V8 has not collected yet (docs/design.md, Memory).
 */
const DEFAULT_MEMORY_BUDGET = 16 * 1024 * 1024

/**
 * Copies in flight per connection: the stores batch concurrent calls (one UID FETCH for many
 * messages, MULTIAPPEND or pipelined APPENDs), so small messages need many copies in flight to fill
 * a round trip; the byte budget still bounds memory. 64, not 16: a first sync of 40,003 messages took
 * half the time (fewer, larger commands), 1,310 real messages over a 32 ms link a quarter less; peak
 * RSS about 20 MB more (docs/design.md, Memory).
 */
const COPIES_PER_CONNECTION = 64
/**
 * Below this many connections a side, copies in flight are as for this many: with one or two, the
 * pipelined connections carry them all, and over a link 64 a connection leave the round trips
 * unfilled (1,829 real messages through a 32 ms delay line at one connection a side: 5.9 s in-run
 * with 64 copies in flight, 2.9-3.1 s with 256; same byte budget).
 */
const MIN_CONNECTIONS_FOR_COPIES = 4

export interface RunOptions {
  /** Messages copied at once (and connections per side). */
  concurrency: number
  signal?: AbortSignal
  hooks?: EngineHooks
  policy?: Partial<SyncPolicy>
  /** Message bytes held in memory by copies in flight at most (a bigger message runs alone). */
  memoryBudgetBytes?: number
  /** Copies in flight at most (default: from `concurrency`, COPIES_PER_CONNECTION). */
  copiesInFlight?: number
  /** --delete-extraneous-folders: delete destination folders this tool created whose source folder is gone. */
  deleteExtraneousFolders?: boolean
  /** Folder mapping rules (default DEFAULT_MAPPING). */
  mapping?: FolderMappingConfig
  /** --folders-only: create the folders and subscriptions, copy no message. */
  foldersOnly?: boolean
}

export interface RunContext {
  source: Store
  dest: Store
  state: StateRepository
  emit: SyncListener
  /** Safe account descriptions for the report (no secrets). */
  sourceName: string
  destName: string
  statePath: string
  /** The run's budgets, when it has any. */
  quota?: Quota
}

/** List both sides and plan. Conflicts are errors before anything is written. */
export async function planRun(source: Store, dest: Store, mapping: FolderMappingConfig = DEFAULT_MAPPING): Promise<Plan> {
  const plan = await listAndPlan(source, dest, mapping)
  if (plan.conflicts.length > 0) throw mappingConflictError(plan)
  return plan
}

/** List both sides (namespaces from the stores) and plan with the mapping rules; conflicts stay in the plan. */
export function mappingConflictError(plan: Plan): ConfigError {
  return new ConfigError(`folder mapping conflict: ${plan.conflicts.join('; ')}`, {
    hint: 'nothing was written; change the mapping (--map, --rename, --exclude, --no-automap) or rename a folder on the source',
  })
}

export async function runSync(ctx: RunContext, options: RunOptions): Promise<RunResult> {
  const startedAt = new Date()
  const signal = options.signal ?? new AbortController().signal
  // What the folders listed so far will copy: the budgets' report says how much of it is left.
  const planned = {messages: 0, bytes: 0}
  const emit: SyncListener = (name, payload) => {
    if (name === 'folder:planned') {
      const folder = payload as SyncEvents['folder:planned']
      planned.messages += folder.toCopy
      planned.bytes += folder.bytesToCopy
    }
    ctx.emit(name, payload)
  }
  const engine: EngineContext = {
    source: ctx.source,
    dest: ctx.dest,
    state: ctx.state,
    emit,
    // While some copies wait for a source fetch, others APPEND, and both sides batch what waits.
    // Each store caps its own side at `concurrency` connections, and the byte budget caps memory.
    queue: new PQueue({concurrency: options.copiesInFlight ?? Math.max(options.concurrency, MIN_CONNECTIONS_FOR_COPIES) * COPIES_PER_CONNECTION}),
    budget: new ByteBudget(options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET),
    quota: ctx.quota,
    control: new RunControl(signal),
    hooks: options.hooks ?? {},
    policy: {mirror: false, deleteExtraneous: false, move: false, recheckRounds: 3, ...options.policy},
    maxQueued: options.concurrency * 4,
    failures: [],
    repaired: [],
    warnings: [],
  }
  // A mapping conflict is a configuration error: thrown before the run is recorded or anything is
  // written, so the command reports it on one line with its hint (exit 2). Other failures are the run's.
  const planning = await planRun(ctx.source, ctx.dest, options.mapping).then(
    (plan) => ({plan}),
    (error: unknown) => {
      if (error instanceof ConfigError) throw error
      return {error}
    },
  )
  refuseBlindDeletions(ctx, engine.policy, options)
  ctx.state.startRun()

  const folders: FolderResult[] = []
  let foldersCreated = 0
  let foldersSubscribed = 0
  let foldersDeleted: string[] = []
  let foldersNotListed = 0
  try {
    if ('error' in planning) throw planning.error
    const plan = planning.plan
    for (const warning of plan.warnings) {
      engine.warnings.push(warning)
      ctx.emit('warning', {message: warning})
    }
    // Folders are created depth by depth while those ready are prepared and copied: a pair waits only
    // for its own destination folder, and a refused CREATE fails that folder (exit 5), not the run.
    // Subscriptions follow the creation.
    const creation = startFolderCreation(ctx.dest, plan)
    const subscribing = creation.done.then(() => subscribeFolders(ctx.dest, plan, engine.warnings))
    subscribing.catch(() => undefined) // awaited below, after the copies
    // --folders-only copies no message, but the folders it pairs are still current (not gone).
    const pairs = options.foldersOnly ? [] : plan.pairs
    ctx.emit('run:planned', {folders: pairs.length})
    const synced = await syncFolders(engine, pairs, creation.ready)
    // A stop (a budget spent) ends the pipeline before every folder is listed.
    foldersNotListed = pairs.length - synced.length
    folders.push(...synced)
    await engine.queue.onIdle()
    foldersCreated = (await creation.done).created
    foldersSubscribed = await subscribing
    if (options.deleteExtraneousFolders && !engine.control.stopped) {
      foldersDeleted = await deleteGoneFolders(ctx, plan, engine.warnings)
    }
  } catch (error) {
    engine.control.fail(error)
  }

  const result = assemble(ctx, engine, folders, foldersCreated, startedAt, signal.aborted)
  result.foldersDeleted = foldersDeleted
  result.foldersSubscribed = foldersSubscribed
  if (ctx.quota) result.budget = ctx.quota.report(leftToCopy(planned, folders), foldersNotListed)
  const outcome = result.ok ? 'ok' : result.exitCode === ExitCode.budget ? 'budget' : result.error ? 'error' : 'partial'
  ctx.state.finishRun(outcome, {
    copied: result.totals.copied,
    present: result.totals.alreadyPresent,
    failed: result.totals.failed,
    bytes: result.totals.bytes,
  }, result.error)
  return result
}

/** What the listed folders still have to copy: failed messages too (the next run retries them). */
function leftToCopy(planned: {messages: number; bytes: number}, folders: FolderResult[]): {messages: number; bytes: number} {
  const sum = (pick: (f: FolderResult) => number) => folders.reduce((total, f) => total + pick(f), 0)
  // A message held back as a possible move and moved on the destination was planned, not copied.
  return {
    messages: Math.max(0, planned.messages - sum((f) => f.copied + f.moved)),
    bytes: Math.max(0, planned.bytes - sum((f) => f.bytes)),
  }
}

function assemble(
  ctx: RunContext,
  engine: EngineContext,
  folders: FolderResult[],
  foldersCreated: number,
  startedAt: Date,
  interrupted: boolean,
): RunResult {
  const finishedAt = new Date()
  const totals = sumCounts(NO_COUNTS, folders)
  const folderErrors = folders.filter((f) => f.error).map((f) => `${f.source}: ${f.error}`)
  const fatal = engine.control.fatal
  let exitCode: number = ExitCode.ok
  if (interrupted) exitCode = ExitCode.interrupted
  else if (fatal) exitCode = fatal.exitCode
  else if (folderErrors.length > 0) exitCode = ExitCode.folder
  else if (totals.failed > 0) exitCode = ExitCode.partial
  const error = interrupted ? 'interrupted; re-run the same command to resume' : fatal?.message ?? folderErrors.join('; ') ?? undefined
  return {
    ...verdict(exitCode),
    source: ctx.sourceName,
    dest: ctx.destName,
    statePath: ctx.statePath,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    foldersCreated,
    folders,
    totals,
    failures: engine.failures,
    repaired: engine.repaired,
    warnings: engine.warnings,
    stores: {source: ctx.source.stats(), dest: ctx.dest.stats()},
    error: error || undefined,
    hint: interrupted ? undefined : fatal?.hint,
  }
}

/**
 * Deleting copies with a plain EXPUNGE would also remove every message someone else flagged
 * \Deleted: without UID EXPUNGE (RFC 4315) the deleting options are refused before anything is written.
 */
function refuseBlindDeletions(ctx: RunContext, policy: SyncPolicy, options: RunOptions): void {
  const refuse = (option: string, store: Store) =>
    new ConfigError(`${option}: the ${store.label} server lacks UIDPLUS (RFC 4315), so mailferry cannot delete exactly the messages it means to`, {
      hint: `nothing was written; run without ${option}, or delete the messages with a mail client once \`mailferry verify\` says the copy is complete`,
    })
  if (policy.move && !ctx.source.capabilities().expungeByUid) throw refuse('--move', ctx.source)
  if (policy.deleteExtraneous && !ctx.dest.capabilities().expungeByUid) throw refuse('--delete-extraneous', ctx.dest)
  if (options.deleteExtraneousFolders && !ctx.dest.capabilities().expungeByUid) throw refuse('--delete-extraneous-folders', ctx.dest)
}

/**
 * Destination folders that mailferry created for a source folder that no longer exists (listed
 * again now): their messages that are provably our copies are deleted, then the folder if it is
 * empty. Anything else on it (the user's mail, copies whose source --move deleted) is kept, with a warning.
 */
async function deleteGoneFolders(ctx: RunContext, plan: Plan, warnings: string[]): Promise<string[]> {
  const current = new Set(plan.pairs.map((pair) => `${pair.source}\u0000${pair.dest}`))
  // A source folder left out by a mapping rule (--exclude, --include, ...) is not gone.
  const stillListed = new Set(plan.skipped.map((folder) => folder.source))
  const gone = ctx.state.pairs().filter(
    (pair) => !current.has(`${pair.sourcePath}\u0000${pair.destPath}`) && pair.destCreated && !stillListed.has(pair.sourcePath),
  )
  if (gone.length === 0) return []
  // Gone now, not only when the run was planned.
  const sourceNow = new Set((await ctx.source.listFolders()).map((folder) => folder.path))
  const deleted: string[] = []
  for (const pair of gone) {
    if (sourceNow.has(pair.sourcePath)) continue
    const rows = [...ctx.state.messages(pair).values()].filter((row) => row.status === 'copied' && row.destUid !== null)
    try {
      const held = await ownCopies(ctx.dest, pair.destPath, pair.destUidValidity, rows)
      if (held) await ctx.dest.deleteMessages(pair.destPath, [...held])
      const after = await ctx.dest.status(pair.destPath)
      if (after.messages > 0 || !ctx.dest.deleteFolder) {
        warnings.push(`${pair.destPath}: source folder ${pair.sourcePath} is gone, but the destination folder still holds ${after.messages} messages mailferry did not put there; kept`)
        continue
      }
      await ctx.dest.deleteFolder(pair.destPath)
      deleted.push(pair.destPath)
    } catch (error) {
      warnings.push(`${pair.destPath}: could not delete it: ${describeError(error)}`)
      continue
    }
    ctx.state.forgetPair(pair)
  }
  return deleted
}
