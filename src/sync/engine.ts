/**
 * Syncs folder pairs through the Store contract and the state repository. Emits events; never prints.
 *
 * Phase order for each folder pair (write-once, like mbsync's sync.c header):
 *   1. open:      STATUS/SELECT both folders; a changed UIDVALIDITY on either side drops the pair's rows
 *                 (state.setValidities) and everything is re-matched by content in phase 3.
 *   2. load:      UID + FLAGS of every source message (cheap); state rows of the pair.
 *                 Candidates = source UIDs without a 'copied' row (new, 'failed', or 'pending' from a killed run).
 *   3. recognise: only when there are candidates: destination messages no row claims are matched against
 *                 them (match.ts); a 'pending' APPEND that landed before a kill is found here, not re-sent.
 *   4. copy:      per message, in the shared queue: fetch BODY.PEEK[] -> write a 'pending' row -> APPEND
 *                 -> mark 'copied' with the APPENDUID. Refused: 'failed' + reason, the run goes on.
 *   5. flags:     for 'copied' rows, source flags changed since the last run are added/removed on the copy.
 * A no-change run therefore costs two SELECTs, one UID FETCH FLAGS and one state read per folder.
 */
import {createHash} from 'node:crypto'
import type PQueue from 'p-queue'

import {MailferryError, MessageRejectedError, describeError} from '../errors.js'
import type {FolderPair} from '../plan/plan.js'
import type {MessageRow, PairRow, StateRepository} from '../state/repository.js'
import type {FolderStatus, MessageFlags, MessageMeta, Store} from '../stores/store.js'
import type {FolderResult, MessageFailure, SyncListener} from './events.js'
import {filterFlags, flagDelta, normalizeFlags, sameFlags} from './flags.js'
import {recognise} from './recognise.js'

/** Test switches to stop the process at an exact point (hidden CLI flags; see test/integration). */
export interface EngineHooks {
  /** Called with the run-wide ordinal (1, 2, ...) after the 'pending' row is committed, before APPEND. */
  beforeAppend?: (ordinal: number) => void
  /** Called after the server confirmed the APPEND, before the row is marked 'copied'. */
  afterAppend?: (ordinal: number) => void
}

export interface EngineContext {
  source: Store
  dest: Store
  state: StateRepository
  emit: SyncListener
  queue: PQueue
  signal: AbortSignal
  hooks: EngineHooks
  /** Bounds queued copy tasks so a huge folder is never all in memory. */
  maxQueued: number
  /** Set by the first store-level failure: every folder stops. */
  fatal: {error?: MailferryError}
  appendOrdinal: {value: number}
  failures: MessageFailure[]
  warnings: string[]
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

function emptyResult(pair: FolderPair): FolderResult {
  return {
    source: pair.source,
    dest: pair.dest,
    created: pair.create,
    sourceMessages: 0,
    copied: 0,
    alreadyPresent: 0,
    recognised: 0,
    failed: 0,
    flagsUpdated: 0,
    bytes: 0,
    durationMs: 0,
    droppedKeywords: {},
  }
}

/**
 * Prepare one folder pair and queue its copies. Resolves when the folder's copies are queued;
 * the returned `done` promise resolves with the folder's result when they have all finished.
 */
export async function syncFolder(ctx: EngineContext, pair: FolderPair): Promise<{done: Promise<FolderResult>}> {
  const started = Date.now()
  const result = emptyResult(pair)
  ctx.emit('folder:start', {source: pair.source, dest: pair.dest})
  const finish = () => {
    result.durationMs = Date.now() - started
    const dropped = Object.entries(result.droppedKeywords)
    if (dropped.length > 0) {
      warn(ctx, `${pair.dest}: the destination cannot store ${dropped.map(([k, n]) => `${k} (${n} messages)`).join(', ')}`)
    }
    ctx.emit('folder:done', result)
    return result
  }

  let prepared: Prepared
  try {
    prepared = await prepareFolder(ctx, pair, result)
  } catch (error) {
    return {done: Promise.resolve(failFolder(ctx, result, error, finish))}
  }

  const tasks: Promise<void>[] = []
  for (const meta of prepared.toCopy) {
    if (ctx.signal.aborted || ctx.fatal.error) break
    // Backpressure: never queue a whole mailbox at once.
    if (ctx.queue.size >= ctx.maxQueued) await ctx.queue.onSizeLessThan(ctx.maxQueued)
    tasks.push(ctx.queue.add(() => copyOne(ctx, prepared, meta, result)) as Promise<void>)
  }
  const done = Promise.allSettled(tasks).then(async () => {
    try {
      if (!ctx.fatal.error && !ctx.signal.aborted) await syncFlags(ctx, prepared, result)
    } catch (error) {
      return failFolder(ctx, result, error, finish)
    }
    ctx.state.touchPair(prepared.pairRow)
    return finish()
  })
  return {done}
}

interface Prepared {
  pair: FolderPair
  pairRow: PairRow
  destStatus: FolderStatus
  rows: Map<number, MessageRow>
  sourceFlags: MessageFlags[]
  toCopy: MessageMeta[]
}

async function prepareFolder(ctx: EngineContext, pair: FolderPair, result: FolderResult): Promise<Prepared> {
  const [sourceStatus, destStatus] = await Promise.all([ctx.source.status(pair.source), ctx.dest.status(pair.dest)])
  const pairRow = ctx.state.pair(pair.source, pair.dest)
  const before = {source: pairRow.sourceUidValidity, dest: pairRow.destUidValidity}
  if (ctx.state.setValidities(pairRow, sourceStatus.uidValidity, destStatus.uidValidity)) {
    warn(
      ctx,
      `${pair.source}: UIDVALIDITY changed (source ${before.source} -> ${sourceStatus.uidValidity}, ` +
        `destination ${before.dest} -> ${destStatus.uidValidity}); messages are re-matched by content, none is copied twice`,
    )
  }
  const rows = ctx.state.messages(pairRow)
  const sourceFlags = await ctx.source.listFlags(pair.source)
  result.sourceMessages = sourceFlags.length

  const candidateUids: number[] = []
  const unresolvedUids: number[] = []
  for (const {uid} of sourceFlags) {
    const row = rows.get(uid)
    if (!row || row.status !== 'copied') candidateUids.push(uid)
    else if (row.destUid === null) unresolvedUids.push(uid)
  }

  let toCopy: MessageMeta[] = []
  if (candidateUids.length > 0 || unresolvedUids.length > 0) {
    toCopy = await resolveCandidates(ctx, {pair, pairRow, destStatus, rows, sourceFlags, toCopy}, candidateUids, unresolvedUids, result)
  }
  result.alreadyPresent = sourceFlags.length - toCopy.length
  ctx.emit('folder:planned', {
    source: pair.source,
    toCopy: toCopy.length,
    bytesToCopy: toCopy.reduce((sum, m) => sum + m.size, 0),
    alreadyPresent: result.alreadyPresent,
  })
  return {pair, pairRow, destStatus, rows, sourceFlags, toCopy}
}

/**
 * Phase 3. First gives UIDs to rows copied without one (no UIDPLUS), so that their copies are
 * claimed before new candidates are matched; then recognises candidates already on the destination.
 * Returns what is left to copy.
 */
async function resolveCandidates(
  ctx: EngineContext,
  prepared: Prepared,
  candidateUids: number[],
  unresolvedUids: number[],
  result: FolderResult,
): Promise<MessageMeta[]> {
  const {pair, pairRow, rows} = prepared
  const sourceMeta = await ctx.source.listMeta(pair.source, [...candidateUids, ...unresolvedUids])
  const claimed = new Set<number>()
  for (const row of rows.values()) if (row.status === 'copied' && row.destUid !== null) claimed.add(row.destUid)
  const destUids = (await ctx.dest.listFlags(pair.dest)).map((m) => m.uid).filter((uid) => !claimed.has(uid))
  let unclaimed = destUids.length > 0 ? await ctx.dest.listMeta(pair.dest, destUids) : []

  const base = {source: ctx.source, dest: ctx.dest, sourcePath: pair.source, destPath: pair.dest}
  const unresolved = new Set(unresolvedUids)
  if (unresolved.size > 0) {
    const found = await recognise({...base, candidates: sourceMeta.filter((m) => unresolved.has(m.uid)), unclaimed})
    ctx.state.putMessages(
      pairRow,
      [...found].map(([sourceUid, destUid]) => ({...rows.get(sourceUid)!, destUid})),
    )
    const taken = new Set(found.values())
    unclaimed = unclaimed.filter((m) => !taken.has(m.uid))
  }

  const candidates = sourceMeta.filter((m) => !unresolved.has(m.uid))
  const found = await recognise({...base, candidates, unclaimed})
  if (found.size > 0) {
    const destByUid = new Map(unclaimed.map((m) => [m.uid, m]))
    await recordRecognised(ctx, prepared, candidates.filter((m) => found.has(m.uid)), found, destByUid, result)
  }
  return candidates.filter((m) => !found.has(m.uid))
}

/**
 * Messages found on the destination become 'copied' rows (origin 'recognised'). Their flags are
 * brought to the source's, as a fresh copy would have them.
 */
async function recordRecognised(
  ctx: EngineContext,
  prepared: Prepared,
  messages: MessageMeta[],
  found: Map<number, number>,
  destByUid: Map<number, MessageMeta>,
  result: FolderResult,
): Promise<void> {
  const {pair, pairRow, destStatus} = prepared
  for (const meta of messages) {
    const destUid = found.get(meta.uid)!
    const sourceFlags = normalizeFlags(meta.flags)
    const target = filterFlags(sourceFlags, destStatus.permanentFlags).kept
    const current = normalizeFlags(destByUid.get(destUid)?.flags ?? [])
    const change = flagDelta(current, target)
    if (change.add.length > 0 || change.remove.length > 0) {
      await ctx.dest.setFlags(pair.dest, destUid, change.add, change.remove)
      result.flagsUpdated++
    }
    ctx.state.putMessages(pairRow, [
      {
        sourceUid: meta.uid,
        destUid,
        status: 'copied',
        origin: 'recognised',
        messageId: meta.messageId ?? null,
        size: meta.size,
        internalDate: meta.internalDate.toISOString(),
        headerHash: null,
        fingerprint: null,
        flags: sourceFlags,
      },
    ])
    result.recognised++
  }
}

/** Phase 4 for one message. Runs inside the queue. */
async function copyOne(ctx: EngineContext, prepared: Prepared, meta: MessageMeta, result: FolderResult): Promise<void> {
  if (ctx.signal.aborted || ctx.fatal.error) return
  const {pair, pairRow, destStatus} = prepared
  try {
    const message = await ctx.source.fetchMessage(pair.source, meta.uid)
    // Expunged under our feet since the listing: not an error (mbsync sync.c).
    if (!message) return
    const sourceFlags = normalizeFlags(message.flags)
    const {kept, dropped} = filterFlags(sourceFlags, destStatus.permanentFlags)
    for (const flag of dropped) result.droppedKeywords[flag] = (result.droppedKeywords[flag] ?? 0) + 1

    // The intent is committed before the APPEND: after a kill, this row sends the next run to look
    // on the destination (phase 3) instead of appending a second copy.
    ctx.state.putMessages(pairRow, [
      {
        sourceUid: meta.uid,
        destUid: null,
        status: 'pending',
        origin: null,
        messageId: meta.messageId ?? null,
        size: meta.size,
        internalDate: message.internalDate.toISOString(),
        headerHash: null,
        fingerprint: sha256(message.raw),
        flags: sourceFlags,
      },
    ])
    const ordinal = ++ctx.appendOrdinal.value
    ctx.hooks.beforeAppend?.(ordinal)
    let appended
    try {
      appended = await ctx.dest.appendMessage(pair.dest, message.raw, kept, message.internalDate)
    } catch (error) {
      if (!(error instanceof MessageRejectedError)) throw error
      const reason = describeError(error)
      ctx.state.markFailed(pairRow, meta.uid, reason)
      result.failed++
      const failure = {folder: pair.source, uid: meta.uid, messageId: meta.messageId, reason}
      ctx.failures.push(failure)
      ctx.emit('message:failed', failure)
      return
    }
    ctx.hooks.afterAppend?.(ordinal)
    const sameValidity = appended.uidValidity === undefined || appended.uidValidity === destStatus.uidValidity
    ctx.state.markCopied(pairRow, meta.uid, appended.uid !== undefined && sameValidity ? appended.uid : null)
    result.copied++
    result.bytes += message.raw.length
    ctx.emit('message:copied', {source: pair.source, uid: meta.uid, bytes: message.raw.length})
  } catch (error) {
    // A store-level failure (connection lost...): this message's outcome is settled by the next run.
    ctx.fatal.error ??= asMailferryError(error)
  }
}

/** Phase 5: bring source flag changes since the last run onto the destination copies. */
async function syncFlags(ctx: EngineContext, prepared: Prepared, result: FolderResult): Promise<void> {
  const {pair, pairRow, rows, sourceFlags, destStatus} = prepared
  const updated: Array<{sourceUid: number; flags: string[]}> = []
  for (const {uid, flags} of sourceFlags) {
    const row = rows.get(uid)
    if (!row || row.status !== 'copied' || row.destUid === null) continue
    const now = normalizeFlags(flags)
    if (sameFlags(now, row.flags)) continue
    const change = flagDelta(row.flags, now)
    const add = filterFlags(change.add, destStatus.permanentFlags).kept
    const remove = filterFlags(change.remove, destStatus.permanentFlags).kept
    if (add.length > 0 || remove.length > 0) {
      await ctx.dest.setFlags(pair.dest, row.destUid, add, remove)
      result.flagsUpdated++
    }
    updated.push({sourceUid: uid, flags: now})
  }
  ctx.state.setFlags(pairRow, updated)
}

function failFolder(ctx: EngineContext, result: FolderResult, error: unknown, finish: () => FolderResult): FolderResult {
  const mailferryError = asMailferryError(error)
  if (mailferryError.scope === 'folder') {
    result.error = mailferryError.message
  } else {
    ctx.fatal.error ??= mailferryError
  }
  return finish()
}

function asMailferryError(error: unknown): MailferryError {
  if (error instanceof MailferryError) return error
  return new MailferryError(describeError(error), {scope: 'run', cause: error})
}

function warn(ctx: EngineContext, message: string): void {
  ctx.warnings.push(message)
  ctx.emit('warning', {message})
}
