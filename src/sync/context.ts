/**
 * What one sync run's engine steps share: the context (stores, state, queue, policy), one folder
 * pair's working data between its steps, and how failures are recorded. Split from engine.ts so that
 * the steps in other files (deletions.ts) see the same types without importing the engine.
 */
import type PQueue from 'p-queue'

import {ExitCode, MailferryError, describeError} from '../errors.js'
import type {FolderPair} from '../plan/plan.js'
import type {StateRepository} from '../state/repository.js'
import type {FolderSnapshot, MessageRow, PairRow} from '../state/rows.js'
import type {FolderStatus, MessageFlags, MessageMeta, Store} from '../stores/store.js'
import type {ByteBudget} from './budget.js'
import type {RepairKind} from '../check/repair-kinds.js'
import type {RunControl} from './control.js'
import {NO_COUNTS, type FolderResult, type MessageFailure, type MessageRepaired, type SyncListener} from './events.js'
import type {Quota} from './quota.js'
import {normalizeFlags} from './flags.js'
import type {MessageSelection} from './select.js'

/** Test switches to stop the process at an exact point (hidden CLI flags; see test/integration). */
export interface EngineHooks {
  /** Called with the run-wide ordinal (1, 2, ...) after the 'pending' row is recorded (committed at the latest before the APPEND is written). */
  beforeAppend?: (ordinal: number) => void
  /** Called after the server confirmed the APPEND, before the row is marked 'copied'. */
  afterAppend?: (ordinal: number) => void
  /** --move, per folder (1, 2, ...): after the rows are committed 'moving', before the source's UID EXPUNGE. */
  beforeExpunge?: (ordinal: number) => void
  /** --move: after the source's UID EXPUNGE, before the rows become 'moved'. */
  afterExpunge?: (ordinal: number) => void
  /** --delete-extraneous, per folder: before the destination's copies of gone messages are deleted. */
  beforeDelete?: (ordinal: number) => void
  /** --delete-extraneous: after the destination's UID EXPUNGE, before the rows are removed. */
  afterDelete?: (ordinal: number) => void
}

/** What the user asked for beyond copying. */
export interface SyncPolicy {
  /** Make destination flags equal to the source's, even where only the destination changed them. */
  mirror: boolean
  /** Delete destination copies whose source message is gone (proven on both servers when it acts). */
  deleteExtraneous: boolean
  /** Delete source messages once their copy is proven on the destination (deletions.ts). */
  move: boolean
  /** How often an APPEND with an unknown outcome is looked for and retried within the run (0: next run). */
  recheckRounds: number
  /** --max-errors (imapsync --errorsmax): stop the run once this many messages failed. */
  maxErrors?: number
  /** --max-age, --min-age, --max-size: which new messages are copied at all (select.ts). */
  selection?: MessageSelection
  /** --repair: what may be repaired in a message the destination refused (sync/repair.ts). */
  repair?: readonly RepairKind[]
}

export interface EngineContext {
  source: Store
  dest: Store
  state: StateRepository
  emit: SyncListener
  queue: PQueue
  /** The user's abort and the first fatal error: every step asks control.stopped before new work. */
  control: RunControl
  hooks: EngineHooks
  policy: SyncPolicy
  /** Bounds queued copy tasks so a huge folder is never all in memory. */
  maxQueued: number
  /** Bounds the message bytes held in memory by copies in flight. */
  budget: ByteBudget
  /** --max-bytes-per-day, --max-messages-per-hour: a copy starts only within them (quota.ts). */
  quota?: Quota
  failures: MessageFailure[]
  repaired: MessageRepaired[]
  warnings: string[]
}

/** One folder pair between prepare and the end of its copies. */
export interface Prepared {
  pair: FolderPair
  result: FolderResult
  started: number
  /** Nothing changed since the last complete sync: no listing was done. */
  skipped: boolean
  sourcePeek?: FolderSnapshot
  pairRow: PairRow
  destStatus?: FolderStatus
  /** The pair's rows by source UID; after a CHANGEDSINCE listing, only those of the messages it named. */
  rows: Map<number, MessageRow>
  sourceFlags: MessageFlags[]
  toCopy: MessageMeta[]
  /** New messages that may have been moved from another folder: copied once moves are settled (moves.ts). */
  held: MessageMeta[]
  /** Rows whose source message is gone (expunged or moved away); never tombstones ('moved'). */
  vanished: MessageRow[]
  /**
   * The listing holds every source message: a full listing counted as many as EXISTS, or a
   * CHANGEDSINCE listing whose count adds up. Destination deletions need it.
   */
  listingComplete: boolean
  /** Messages whose APPEND lost its connection: maybe stored, maybe not. Re-checked before retrying. */
  uncertain: MessageMeta[]
  /** Source UIDs a killed --move flagged \Deleted but did not expunge (their flag is not synced). */
  interruptedMove?: Set<number>
}

/** A folder's result before any step ran: every count zero. */
export function emptyResult(pair: Pick<FolderPair, 'source' | 'dest' | 'create'>): FolderResult {
  return {
    source: pair.source,
    dest: pair.dest,
    created: pair.create,
    unchanged: false,
    changesOnly: false,
    ...NO_COUNTS,
    durationMs: 0,
    droppedKeywords: {},
  }
}


/** A message the destination refuses: a 'failed' row with the reason, counted and reported; the run goes on. */
export function recordFailure(ctx: EngineContext, prepared: Prepared, meta: MessageMeta, reason: string): void {
  ctx.state.putMessages(prepared.pairRow, [
    {
      sourceUid: meta.uid,
      destUid: null,
      status: 'failed',
      origin: null,
      messageId: meta.messageId ?? null,
      size: meta.size,
      internalDate: meta.internalDate.toISOString(),
      headerHash: null,
      fingerprint: null,
      flags: normalizeFlags(meta.flags),
      error: reason,
    },
  ])
  countFailure(ctx, prepared, {folder: prepared.pair.source, uid: meta.uid, messageId: meta.messageId, reason})
  stopAfterMaxErrors(ctx)
}

/** Counts and lists one failed message (the report, the progress events). */
function countFailure(ctx: EngineContext, prepared: Prepared, failure: MessageFailure): void {
  prepared.result.failed++
  ctx.failures.push(failure)
  ctx.emit('message:failed', failure)
}

function stopAfterMaxErrors(ctx: EngineContext): void {
  const max = ctx.policy.maxErrors
  if (max !== undefined && ctx.failures.length >= max) {
    // A run whose messages keep being refused (quota full...) stops instead of ploughing on.
    ctx.control.fail(new MailferryError(`stopped after ${max} failed ${max === 1 ? 'message' : 'messages'} (--max-errors ${max})`, {
      scope: 'run',
      exitCode: ExitCode.partial,
      hint: 'see why they failed in the report; a re-run retries them (raise --max-errors to go on regardless)',
    }))
  }
}

/**
 * A command the server refused for messages already copied (a flag STORE, an expunge, a MOVE):
 * counted and listed like a refused message, but the message's row is left as it is.
 */
export function recordRefusal(ctx: EngineContext, prepared: Prepared, sourceUids: number[], reason: string): void {
  for (const uid of sourceUids) {
    countFailure(ctx, prepared, {folder: prepared.pair.source, uid, messageId: prepared.rows.get(uid)?.messageId ?? undefined, reason})
  }
  stopAfterMaxErrors(ctx)
}

export function recordFolderError(ctx: EngineContext, result: FolderResult, error: unknown): void {
  const mailferryError = asMailferryError(error)
  if (mailferryError.scope === 'folder') result.error = mailferryError.message
  else ctx.control.fail(mailferryError)
}

export function asMailferryError(error: unknown): MailferryError {
  if (error instanceof MailferryError) return error
  return new MailferryError(describeError(error), {scope: 'run', cause: error})
}

export function warn(ctx: EngineContext, message: string): void {
  ctx.warnings.push(message)
  ctx.emit('warning', {message})
}
