/**
 * Syncs folder pairs through the Store contract and the state repository. Emits events; never prints.
 *
 * Phase order (write-once, like mbsync's sync.c header). run.ts calls prepare for every pair, then
 * detectMoves across all of them, then startCopies for each:
 *   prepare (per pair)
 *     1. peek:      STATUS of the source (UIDVALIDITY, UIDNEXT, MESSAGES, HIGHESTMODSEQ). Unchanged since the
 *                   last complete sync, nothing unsettled, destination UIDVALIDITY the same: the folder is done.
 *     2. open:      SELECT both; a changed UIDVALIDITY on either side drops the pair's rows and everything is
 *                   re-matched by content in step 4.
 *     3. load:      UID + FLAGS of every source message; the pair's rows. Candidates = source UIDs without a
 *                   'copied' row (new, 'failed', or 'pending' from a killed run). Vanished = rows whose
 *                   source UID is gone.
 *     4. recognise: destination messages no row claims are matched against the candidates (match.ts); a
 *                   'pending' APPEND that landed before a kill is found here, not sent again.
 *   detectMoves (all pairs): a candidate whose size, Message-ID, internal date and header hash equal a
 *                   vanished row's (moved on the source) is moved on the destination (MOVE), not re-sent.
 *   startCopies (per pair)
 *     5. copy:      per message, in the shared queue: fetch BODY.PEEK[] -> write a 'pending' row -> APPEND
 *                   -> mark 'copied' with the APPENDUID. Refused: 'failed' + reason, the run goes on.
 *     6. flags:     source flag changes since the last run are added/removed on the copy (--mirror: the
 *                   copy is made equal to the source, overriding changes made on the destination).
 *     7. deletions: --delete-extraneous: copies whose source is gone are deleted; --move: sources whose
 *                   copy is confirmed are deleted from the source.
 *     8. snapshot:  the STATUS from step 1 is recorded, for the next run's step 1.
 */
import {createHash} from 'node:crypto'
import type PQueue from 'p-queue'

import {ConnectError, ExitCode, MailferryError, MessageRejectedError, describeError} from '../errors.js'
import type {FolderPair} from '../plan/plan.js'
import type {FolderSnapshot, MessageRow, PairRow, StateRepository} from '../state/repository.js'
import type {FolderStatus, MessageFlags, MessageMeta, Store} from '../stores/store.js'
import type {FolderResult, MessageFailure, SyncListener} from './events.js'
import {filterFlags, flagDelta, groupFlagChanges, normalizeFlags, sameFlags, type MessageFlagChange} from './flags.js'
import type {ByteBudget} from './budget.js'
import {checkClaims} from './claims.js'
import {headerHash} from './headers.js'
import {recognise} from './recognise.js'
import {isSelected, isSelecting, type MessageSelection} from './select.js'

/** Test switches to stop the process at an exact point (hidden CLI flags; see test/integration). */
export interface EngineHooks {
  /** Called with the run-wide ordinal (1, 2, ...) after the 'pending' row is committed, before APPEND. */
  beforeAppend?: (ordinal: number) => void
  /** Called after the server confirmed the APPEND, before the row is marked 'copied'. */
  afterAppend?: (ordinal: number) => void
}

/** What the user asked for beyond copying. */
export interface SyncPolicy {
  /** Make destination flags equal to the source's, even where only the destination changed them. */
  mirror: boolean
  /** Delete destination copies whose source message is gone (only pairs the state proves). */
  deleteExtraneous: boolean
  /** Delete source messages once their copy is confirmed on the destination. */
  move: boolean
  /** How often an APPEND with an unknown outcome is looked for and retried within the run (0: next run). */
  recheckRounds: number
  /** --max-errors (imapsync --errorsmax): stop the run once this many messages failed. */
  maxErrors?: number
  /** --max-age, --min-age, --max-size: which new messages are copied at all (select.ts). */
  selection?: MessageSelection
}

export interface EngineContext {
  source: Store
  dest: Store
  state: StateRepository
  emit: SyncListener
  queue: PQueue
  signal: AbortSignal
  hooks: EngineHooks
  policy: SyncPolicy
  /** Bounds queued copy tasks so a huge folder is never all in memory. */
  maxQueued: number
  /** Bounds the message bytes held in memory by copies in flight. */
  budget: ByteBudget
  /** Set by the first store-level failure: every folder stops. */
  fatal: {error?: MailferryError}
  appendOrdinal: {value: number}
  failures: MessageFailure[]
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
  pairRow?: PairRow
  destStatus?: FolderStatus
  rows: Map<number, MessageRow>
  sourceFlags: MessageFlags[]
  toCopy: MessageMeta[]
  /** Rows whose source message is gone (expunged or moved away). */
  vanished: MessageRow[]
  /** Messages whose APPEND lost its connection: maybe stored, maybe not. Re-checked before retrying. */
  uncertain: MessageMeta[]
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

function emptyResult(pair: FolderPair): FolderResult {
  return {
    source: pair.source,
    dest: pair.dest,
    created: pair.create,
    unchanged: false,
    changesOnly: false,
    sourceMessages: 0,
    copied: 0,
    alreadyPresent: 0,
    recognised: 0,
    failed: 0,
    flagsUpdated: 0,
    moved: 0,
    deleted: 0,
    bytes: 0,
    durationMs: 0,
    droppedKeywords: {},
    notSelected: 0,
  }
}

/** Steps 1-4 for one pair. Never throws: a folder error is recorded in the result. */
export async function prepareFolder(ctx: EngineContext, pair: FolderPair): Promise<Prepared> {
  const prepared: Prepared = {
    pair,
    result: emptyResult(pair),
    started: Date.now(),
    skipped: false,
    rows: new Map(),
    sourceFlags: [],
    toCopy: [],
    vanished: [],
    uncertain: [],
  }
  ctx.emit('folder:start', {source: pair.source, dest: pair.dest})
  try {
    await load(ctx, prepared)
  } catch (error) {
    recordFolderError(ctx, prepared.result, error)
  }
  return prepared
}

async function load(ctx: EngineContext, prepared: Prepared): Promise<void> {
  const {pair, result} = prepared
  const pairRow = ctx.state.pair(pair.source, pair.dest)
  prepared.pairRow = pairRow
  if (pair.create && !pairRow.destCreated) ctx.state.markCreated(pairRow)

  if (ctx.source.peek && !ctx.policy.mirror && !ctx.policy.move) {
    const [sourcePeek, destPeek] = await Promise.all([
      ctx.source.peek(pair.source),
      ctx.dest.peek ? ctx.dest.peek(pair.dest) : ctx.dest.status(pair.dest),
    ])
    prepared.sourcePeek = sourcePeek
    if (
      ctx.state.unchangedSince(pairRow, sourcePeek) &&
      pairRow.destUidValidity === destPeek.uidValidity &&
      ctx.state.unsettledCount(pairRow) === 0 &&
      // Rows of messages expunged on an earlier run still wait for --delete-extraneous.
      (!ctx.policy.deleteExtraneous || ctx.state.rowCount(pairRow) === sourcePeek.messages)
    ) {
      prepared.skipped = true
      result.unchanged = true
      result.sourceMessages = sourcePeek.messages
      result.alreadyPresent = sourcePeek.messages
      return
    }
  }

  const [sourceStatus, destStatus] = await Promise.all([ctx.source.status(pair.source), ctx.dest.status(pair.dest)])
  prepared.destStatus = destStatus
  const changesSince = changedSinceBase(ctx, pairRow, prepared.sourcePeek, destStatus)
  const before = {source: pairRow.sourceUidValidity, dest: pairRow.destUidValidity}
  if (ctx.state.setValidities(pairRow, sourceStatus.uidValidity, destStatus.uidValidity)) {
    warn(
      ctx,
      `${pair.source}: UIDVALIDITY changed (source ${before.source} -> ${sourceStatus.uidValidity}, ` +
        `destination ${before.dest} -> ${destStatus.uidValidity}); messages are re-matched by content, none is copied twice`,
    )
  }
  prepared.rows = ctx.state.messages(pairRow)
  const listed = changesSince === undefined ? undefined : await listChanges(ctx, prepared, changesSince)
  const changes = listed?.changes
  if (listed) {
    // CHANGEDSINCE: only messages that changed or arrived; the expunged ones came as VANISHED.
    prepared.sourceFlags = listed.changes
    prepared.vanished = listed.vanished
    result.changesOnly = true
    result.sourceMessages = prepared.sourcePeek!.messages
  } else {
    prepared.sourceFlags = await ctx.source.listFlags(pair.source)
    result.sourceMessages = prepared.sourceFlags.length
  }

  const present = new Set<number>()
  const candidateUids: number[] = []
  const unresolvedUids: number[] = []
  for (const {uid} of prepared.sourceFlags) {
    present.add(uid)
    const row = prepared.rows.get(uid)
    if (!row || row.status !== 'copied') candidateUids.push(uid)
    else if (row.destUid === null) unresolvedUids.push(uid)
  }
  if (!changes) prepared.vanished = [...prepared.rows.values()].filter((row) => !present.has(row.sourceUid))
  if (candidateUids.length > 0 || unresolvedUids.length > 0) {
    // 'pending' rows: the last run was cut off mid-APPEND, perhaps by the server dying (claims.ts).
    const afterCutOff = [...prepared.rows.values()].some((row) => row.status === 'pending')
    prepared.toCopy = await resolveCandidates(ctx, prepared, candidateUids, unresolvedUids, {afterCutOff})
  }
  result.alreadyPresent = result.sourceMessages - prepared.toCopy.length - result.notSelected
}

/**
 * The HIGHESTMODSEQ to list changes from (RFC 7162 CHANGEDSINCE), when the last complete sync of this
 * folder is the base: same UIDVALIDITY on both sides, nothing unsettled, no deletions waiting.
 */
function changedSinceBase(
  ctx: EngineContext,
  pairRow: PairRow,
  peek: FolderSnapshot | undefined,
  destStatus: FolderStatus,
): bigint | undefined {
  if (!peek || peek.highestModseq === undefined || pairRow.sourceModseq === null) return undefined
  if (pairRow.sourceUidValidity !== peek.uidValidity || pairRow.destUidValidity !== destStatus.uidValidity) return undefined
  if (pairRow.sourceMessages === null || pairRow.sourceUidNext === null) return undefined
  if (ctx.state.unsettledCount(pairRow) !== 0) return undefined
  if (ctx.policy.deleteExtraneous && ctx.state.rowCount(pairRow) !== pairRow.sourceMessages) return undefined
  return BigInt(pairRow.sourceModseq)
}

/**
 * Messages changed or added since the base, and (QRESYNC) the known messages expunged since then.
 * Valid only if the count adds up: the messages now must be those of the last sync, minus the
 * vanished ones, plus the new UIDs. Otherwise (an expunge the store could not report, or mail that
 * arrived between STATUS and FETCH) undefined, and the folder is listed in full.
 */
async function listChanges(
  ctx: EngineContext,
  prepared: Prepared,
  since: bigint,
): Promise<{changes: MessageFlags[]; vanished: MessageRow[]} | undefined> {
  const {pairRow, sourcePeek, rows} = prepared
  const vanishedUids = new Set<number>()
  const changes = await ctx.source.listFlags(prepared.pair.source, {changedSince: since, onVanished: (uid) => vanishedUids.add(uid)})
  const added = changes.filter((m) => m.uid >= pairRow!.sourceUidNext!).length
  // VANISHED (EARLIER) may name UIDs we never had (RFC 7162 3.2.6): only our rows count.
  const vanished = [...rows.values()].filter((row) => vanishedUids.has(row.sourceUid))
  return sourcePeek!.messages === pairRow!.sourceMessages! + added - vanished.length ? {changes, vanished} : undefined
}

/**
 * Step 4. First gives UIDs to rows copied without one (no UIDPLUS), so that their copies are
 * claimed before new candidates are matched; then recognises candidates already on the destination.
 * Returns what is left to copy. With afterCutOff (after APPENDs were cut off: the server may have
 * renumbered, see claims.ts) every claim is checked against the destination first and the rows
 * whose UID now names another message, or nothing, are matched again by content.
 */
async function resolveCandidates(
  ctx: EngineContext,
  prepared: Prepared,
  candidateUids: number[],
  unresolvedUids: number[],
  options: {afterCutOff?: boolean} = {},
): Promise<MessageMeta[]> {
  const {pair, pairRow, rows} = prepared
  const destUids = (await ctx.dest.listFlags(pair.dest)).map((m) => m.uid)
  let unclaimed: MessageMeta[]
  // Rows whose claim is in doubt: re-matched by content below. 'wrong' ones not found lose their UID.
  let doubtful: {wrong: Set<number>; gone: number[]} = {wrong: new Set(), gone: []}
  if (options.afterCutOff) {
    const destMeta = destUids.length > 0 ? await ctx.dest.listMeta(pair.dest, destUids) : []
    const check = checkClaims(rows.values(), destMeta)
    doubtful = {wrong: new Set(check.wrong), gone: check.gone}
    unclaimed = destMeta.filter((m) => !check.held.has(m.uid))
  } else {
    const claimed = new Set<number>()
    for (const row of rows.values()) if (row.status === 'copied' && row.destUid !== null) claimed.add(row.destUid)
    const open = destUids.filter((uid) => !claimed.has(uid))
    unclaimed = open.length > 0 ? await ctx.dest.listMeta(pair.dest, open) : []
  }
  const unresolved = new Set([...unresolvedUids, ...doubtful.wrong, ...doubtful.gone])
  const sourceMeta = await ctx.source.listMeta(pair.source, [...candidateUids, ...unresolved])

  const base = {source: ctx.source, dest: ctx.dest, sourcePath: pair.source, destPath: pair.dest}
  if (unresolved.size > 0) {
    const found = await recognise({...base, candidates: sourceMeta.filter((m) => unresolved.has(m.uid)), unclaimed})
    const wrongLeft = [...doubtful.wrong].filter((uid) => !found.has(uid))
    ctx.state.putMessages(pairRow!, [
      ...[...found].map(([sourceUid, destUid]) => ({...rows.get(sourceUid)!, destUid})),
      // Its UID names another message: better no UID (flag changes are skipped) than the wrong one.
      ...wrongLeft.map((sourceUid) => ({...rows.get(sourceUid)!, destUid: null})),
    ])
    const corrected = [...doubtful.wrong, ...doubtful.gone].filter((uid) => found.has(uid) && found.get(uid) !== rows.get(uid)!.destUid)
    if (corrected.length > 0 || wrongLeft.length > 0) {
      warn(
        ctx,
        `${pair.dest}: the destination renumbered ${corrected.length + wrongLeft.length} messages after a lost connection ` +
          `(UIDVALIDITY unchanged); ${corrected.length} found again by content` +
          (wrongLeft.length > 0 ? `, ${wrongLeft.length} not found (their flags are no longer synced)` : ''),
      )
    }
    const taken = new Set(found.values())
    unclaimed = unclaimed.filter((m) => !taken.has(m.uid))
  }

  const now = new Date()
  const selection = ctx.policy.selection
  const inScope = sourceMeta.filter((m) => !unresolved.has(m.uid))
  const candidates = isSelecting(selection) ? inScope.filter((m) => isSelected(selection, m, now)) : inScope
  prepared.result.notSelected += inScope.length - candidates.length
  const trusted: number[] = []
  const onSelfContradiction = options.afterCutOff ? (_: number, destUid: number) => trusted.push(destUid) : undefined
  const found = await recognise({...base, candidates, unclaimed, onSelfContradiction})
  if (trusted.length > 0) {
    warn(
      ctx,
      `${pair.dest}: the destination contradicts itself about UID ${trusted.join(', ')} (its listing and its header ` +
        `name different messages, a damaged index after the lost connection); taken as the interrupted APPEND's copy ` +
        `because the listing matches it exactly. Run \`mailferry verify --deep\` once the server has settled`,
    )
  }
  if (found.size > 0) {
    const destByUid = new Map(unclaimed.map((m) => [m.uid, m]))
    for (const meta of candidates) {
      const destUid = found.get(meta.uid)
      if (destUid === undefined) continue
      await recordPresent(ctx, prepared, meta, destUid, destByUid.get(destUid)?.flags ?? [], 'recognised')
      prepared.result.recognised++
    }
  }
  return candidates.filter((m) => !found.has(m.uid))
}

/**
 * A source message whose copy is already on the destination (recognised there, or moved there)
 * becomes a 'copied' row; the copy's flags are brought to the source's, as a fresh copy would have them.
 */
async function recordPresent(
  ctx: EngineContext,
  prepared: Prepared,
  meta: MessageMeta,
  destUid: number,
  destFlags: string[],
  origin: 'recognised' | 'appended',
  hash: string | null = null,
): Promise<void> {
  const {pair, pairRow, destStatus, result} = prepared
  const sourceFlags = normalizeFlags(meta.flags)
  const target = filterFlags(sourceFlags, destStatus?.permanentFlags).kept
  const change = flagDelta(normalizeFlags(destFlags), target)
  if (change.add.length > 0 || change.remove.length > 0) {
    await ctx.dest.setFlags(pair.dest, [destUid], change.add, change.remove)
    result.flagsUpdated++
  }
  ctx.state.putMessages(pairRow!, [
    {
      sourceUid: meta.uid,
      destUid,
      status: 'copied',
      origin,
      messageId: meta.messageId ?? null,
      size: meta.size,
      internalDate: meta.internalDate.toISOString(),
      headerHash: hash,
      fingerprint: null,
      flags: sourceFlags,
    },
  ])
}

/**
 * Between prepare and copy, over all pairs: a message moved on the source shows up as a vanished row
 * in one folder and a candidate in another. Where size, Message-ID, internal date and the SHA-256 of
 * the header block all agree, and exactly one vanished row fits, the destination copy is moved too:
 * no download, no upload. Anything less certain is left to the normal copy (and deletion) path.
 */
export async function detectMoves(ctx: EngineContext, prepared: Prepared[]): Promise<void> {
  const active = prepared.filter((p) => !p.skipped && !p.result.error && p.pairRow)
  if (!ctx.dest.moveMessage) return
  const key = (size: number, messageId: string | null | undefined, date: string | null) => `${size}\u0000${messageId ?? ''}\u0000${date ?? ''}`
  const vanishedByKey = new Map<string, Array<{from: Prepared; row: MessageRow}>>()
  for (const from of active) {
    for (const row of from.vanished) {
      if (row.status !== 'copied' || row.destUid === null || row.headerHash === null) continue
      const k = key(row.size, row.messageId, row.internalDate)
      vanishedByKey.set(k, [...(vanishedByKey.get(k) ?? []), {from, row}])
    }
  }
  if (vanishedByKey.size === 0) return

  for (const to of active) {
    const matches = to.toCopy
      .map((meta) => ({meta, options: vanishedByKey.get(key(meta.size, meta.messageId, meta.internalDate.toISOString()))}))
      .filter((m) => m.options && m.options.length > 0)
    if (matches.length === 0) continue
    const headers = await ctx.source.fetchHeaders(to.pair.source, matches.map((m) => m.meta.uid))
    const moved = new Set<number>()
    for (const {meta, options} of matches) {
      const block = headers.get(meta.uid)
      if (!block) continue
      const hash = sha256(block)
      const fits = options!.filter((o) => o.row.headerHash === hash && o.from.vanished.includes(o.row))
      if (fits.length !== 1) continue
      const {from, row} = fits[0]
      from.vanished = from.vanished.filter((r) => r !== row)
      ctx.state.deleteMessages(from.pairRow!, [row.sourceUid])
      moved.add(meta.uid)
      if (from === to) {
        // Expunged and added again in the same folder: the copy is already where it belongs.
        await recordPresent(ctx, to, meta, row.destUid!, row.flags, row.origin ?? 'appended', hash)
        continue
      }
      const result = await ctx.dest.moveMessage!(from.pair.dest, row.destUid!, to.pair.dest)
      if (result.uid === undefined) {
        // The copy moved but its new UID is unknown: the next run recognises it by content.
        warn(ctx, `${to.pair.dest}: moved a message from ${from.pair.dest} without learning its new UID`)
        continue
      }
      await recordPresent(ctx, to, meta, result.uid, row.flags, row.origin ?? 'appended', hash)
      to.result.moved++
    }
    to.toCopy = to.toCopy.filter((meta) => !moved.has(meta.uid))
    to.result.alreadyPresent = to.result.sourceMessages - to.toCopy.length
  }
}

/**
 * Steps 5-8 for one pair: queue its copies (waiting while the queue is full), and return a promise
 * that resolves with the folder's result when they, the flag updates and the deletions are done.
 */
export async function startCopies(ctx: EngineContext, prepared: Prepared): Promise<{done: Promise<FolderResult>}> {
  const {pair, result} = prepared
  const finish = () => {
    result.durationMs = Date.now() - prepared.started
    const dropped = Object.entries(result.droppedKeywords)
    if (dropped.length > 0) {
      warn(ctx, `${pair.dest}: the destination cannot store ${dropped.map(([k, n]) => `${k} (${n} messages)`).join(', ')}`)
    }
    ctx.emit('folder:done', result)
    return result
  }
  if (result.error || prepared.skipped) return {done: Promise.resolve(finish())}

  ctx.emit('folder:planned', {
    source: pair.source,
    toCopy: prepared.toCopy.length,
    bytesToCopy: prepared.toCopy.reduce((sum, m) => sum + m.size, 0),
    alreadyPresent: result.alreadyPresent,
  })
  const tasks: Promise<void>[] = []
  for (const meta of prepared.toCopy) {
    if (ctx.signal.aborted || ctx.fatal.error) break
    // Backpressure: never queue a whole mailbox at once.
    if (ctx.queue.size >= ctx.maxQueued) await ctx.queue.onSizeLessThan(ctx.maxQueued)
    tasks.push(ctx.queue.add(() => copyOne(ctx, prepared, meta)) as Promise<void>)
  }
  const done = Promise.allSettled(tasks).then(async () => {
    try {
      await recheckUncertain(ctx, prepared)
      if (ctx.fatal.error || ctx.signal.aborted) return finish()
      await syncFlags(ctx, prepared)
      await deleteExtraneous(ctx, prepared)
      await moveSources(ctx, prepared)
      // A snapshot lets the next run skip the folder: only when nothing was left behind (a message
      // too young for --min-age today is old enough next month).
      const complete = result.failed === 0 && result.notSelected === 0 && !ctx.policy.move
      ctx.state.setSnapshot(prepared.pairRow!, complete ? prepared.sourcePeek ?? null : null)
      ctx.state.touchPair(prepared.pairRow!)
    } catch (error) {
      recordFolderError(ctx, result, error)
    }
    return finish()
  })
  return {done}
}

/** Step 5 for one message. Runs inside the queue. */
async function copyOne(ctx: EngineContext, prepared: Prepared, meta: MessageMeta): Promise<void> {
  if (ctx.signal.aborted || ctx.fatal.error) return
  // Skipped up front: no point downloading what the destination says it will refuse (RFC 7889).
  const limit = ctx.dest.capabilities().appendLimit
  if (limit !== undefined && meta.size > limit) {
    recordFailure(ctx, prepared, meta, `larger than the destination's APPENDLIMIT (${limit} bytes)`)
    return
  }
  const release = await ctx.budget.acquire(meta.size)
  try {
    await copyWithinBudget(ctx, prepared, meta)
  } finally {
    release()
  }
}

async function copyWithinBudget(ctx: EngineContext, prepared: Prepared, meta: MessageMeta): Promise<void> {
  if (ctx.signal.aborted || ctx.fatal.error) return
  const {pair, destStatus, result} = prepared
  const pairRow = prepared.pairRow!
  try {
    let message
    try {
      // The listed size bounds what is read: a body far larger than listed fails this message only.
      message = await ctx.source.fetchMessage(pair.source, meta.uid, {listedSize: meta.size})
    } catch (error) {
      if (!(error instanceof MessageRejectedError)) throw error
      recordFailure(ctx, prepared, meta, `source: ${describeError(error)}`)
      return
    }
    // Expunged under our feet since the listing: not an error (mbsync sync.c).
    if (!message) return
    const sourceFlags = normalizeFlags(message.flags)
    const {kept, dropped} = filterFlags(sourceFlags, destStatus?.permanentFlags)
    for (const flag of dropped) result.droppedKeywords[flag] = (result.droppedKeywords[flag] ?? 0) + 1

    // The intent is committed before the APPEND: after a kill, this row sends the next run to look
    // on the destination (step 4) instead of appending a second copy.
    ctx.state.putMessages(pairRow, [
      {
        sourceUid: meta.uid,
        destUid: null,
        status: 'pending',
        origin: null,
        messageId: meta.messageId ?? null,
        size: meta.size,
        internalDate: message.internalDate.toISOString(),
        headerHash: headerHash(message.raw),
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
      recordFailure(ctx, prepared, meta, describeError(error))
      return
    }
    ctx.hooks.afterAppend?.(ordinal)
    const sameValidity = appended.uidValidity === undefined || appended.uidValidity === destStatus?.uidValidity
    ctx.state.markCopied(pairRow, meta.uid, appended.uid !== undefined && sameValidity ? appended.uid : null)
    result.copied++
    result.bytes += message.raw.length
    ctx.emit('message:copied', {source: pair.source, uid: meta.uid, bytes: message.raw.length})
  } catch (error) {
    if (error instanceof ConnectError && error.outcomeUnknown && ctx.policy.recheckRounds > 0) {
      // The row stays 'pending'; the folder looks for the message on the destination before sending it again.
      prepared.uncertain.push(meta)
      return
    }
    // A store-level failure (connection lost...): this message's outcome is settled by the next run.
    ctx.fatal.error ??= asMailferryError(error)
  }
}

/**
 * Which of these uncertain messages are really not on the destination. Looks three times, over 4 s:
 * a message stored by a server process that died mid-APPEND can take a moment to become visible to
 * other sessions (its index update may be what was interrupted), and sending it again then would
 * duplicate it. Each look reads through new sessions (renewSessions): a server process that lived
 * through the failure can serve a stale view (seen with Dovecot Maildir: a UID whose listing
 * describes one message and whose body is another's).
 */
async function lookAgain(ctx: EngineContext, prepared: Prepared, uids: number[]): Promise<MessageMeta[]> {
  let missing: MessageMeta[] = []
  for (const delayMs of [0, 1000, 3000]) {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs))
    ctx.dest.renewSessions?.()
    await ctx.dest.status(prepared.pair.dest)
    prepared.rows = ctx.state.messages(prepared.pairRow!)
    const stillUnknown = missing.length > 0 ? missing.map((meta) => meta.uid) : uids
    missing = await resolveCandidates(ctx, prepared, stillUnknown, [], {afterCutOff: true})
    if (missing.length === 0) break
  }
  return missing
}

/**
 * APPENDs whose outcome is unknown (the connection dropped before the answer) are never simply sent
 * again: the destination is searched for them first, exactly as the next run would (step 4), and only
 * those not found are copied, for a bounded number of rounds.
 */
async function recheckUncertain(ctx: EngineContext, prepared: Prepared): Promise<void> {
  for (let round = 0; round < ctx.policy.recheckRounds && prepared.uncertain.length > 0; round++) {
    if (ctx.fatal.error || ctx.signal.aborted) return
    const uids = prepared.uncertain.map((meta) => meta.uid)
    prepared.uncertain = []
    const missing = await lookAgain(ctx, prepared, uids)
    await Promise.allSettled(missing.map((meta) => ctx.queue.add(() => copyOne(ctx, prepared, meta))))
  }
  if (prepared.uncertain.length > 0) {
    ctx.fatal.error ??= new ConnectError(
      `${prepared.pair.dest}: the connection kept failing during APPEND; ${prepared.uncertain.length} messages left for the next run`,
      {hint: 're-run the same command to resume; nothing is copied twice'},
    )
  }
}

/** A message the destination refuses: a 'failed' row with the reason, counted and reported; the run goes on. */
function recordFailure(ctx: EngineContext, prepared: Prepared, meta: MessageMeta, reason: string): void {
  ctx.state.putMessages(prepared.pairRow!, [
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
  prepared.result.failed++
  const failure = {folder: prepared.pair.source, uid: meta.uid, messageId: meta.messageId, reason}
  ctx.failures.push(failure)
  ctx.emit('message:failed', failure)
  const max = ctx.policy.maxErrors
  if (max !== undefined && ctx.failures.length >= max) {
    // A run whose messages keep being refused (quota full...) stops instead of ploughing on.
    ctx.fatal.error ??= new MailferryError(`stopped after ${max} failed ${max === 1 ? 'message' : 'messages'} (--max-errors ${max})`, {
      scope: 'run',
      exitCode: ExitCode.partial,
      hint: 'see why they failed in the report; a re-run retries them (raise --max-errors to go on regardless)',
    })
  }
}

/** Step 6: bring source flag changes onto the destination copies. */
async function syncFlags(ctx: EngineContext, prepared: Prepared): Promise<void> {
  const {pair, rows, sourceFlags, destStatus, result} = prepared
  const destFlags = ctx.policy.mirror ? new Map((await ctx.dest.listFlags(pair.dest)).map((m) => [m.uid, m.flags])) : undefined
  const updated: Array<{sourceUid: number; flags: string[]}> = []
  const changes: MessageFlagChange[] = []
  for (const {uid, flags} of sourceFlags) {
    const row = rows.get(uid)
    if (!row || row.status !== 'copied' || row.destUid === null) continue
    const now = normalizeFlags(flags)
    // Default: only what changed on the source since the last run (destination-only changes stay).
    // --mirror: whatever differs from the source, wherever it was changed.
    const from = destFlags ? normalizeFlags(destFlags.get(row.destUid) ?? []) : row.flags
    if (sameFlags(now, from)) {
      if (!sameFlags(now, row.flags)) updated.push({sourceUid: uid, flags: now})
      continue
    }
    const change = flagDelta(from, now)
    const add = filterFlags(change.add, destStatus?.permanentFlags).kept
    const remove = filterFlags(change.remove, destStatus?.permanentFlags).kept
    if (add.length > 0 || remove.length > 0) changes.push({uid: row.destUid, add, remove})
    updated.push({sourceUid: uid, flags: now})
  }
  // Messages with the same change share one UID STORE (e.g. 500 newly read messages: one command).
  for (const group of groupFlagChanges(changes)) await ctx.dest.setFlags(pair.dest, group.uids, group.add, group.remove)
  result.flagsUpdated += changes.length
  ctx.state.setFlags(prepared.pairRow!, updated)
}

/** Step 7a: --delete-extraneous removes copies whose source message is gone (pairs the state proves). */
async function deleteExtraneous(ctx: EngineContext, prepared: Prepared): Promise<void> {
  if (!ctx.policy.deleteExtraneous || prepared.vanished.length === 0) return
  const destUids = prepared.vanished.filter((r) => r.status === 'copied' && r.destUid !== null).map((r) => r.destUid!)
  await ctx.dest.deleteMessages(prepared.pair.dest, destUids)
  ctx.state.deleteMessages(prepared.pairRow!, prepared.vanished.map((r) => r.sourceUid))
  prepared.result.deleted += destUids.length
}

/** Step 7b: --move deletes source messages whose copy is confirmed, and forgets their rows. */
async function moveSources(ctx: EngineContext, prepared: Prepared): Promise<void> {
  if (!ctx.policy.move) return
  const confirmed = [...ctx.state.messages(prepared.pairRow!).values()]
    .filter((row) => row.status === 'copied')
    .map((row) => row.sourceUid)
  if (confirmed.length === 0) return
  await ctx.source.deleteMessages(prepared.pair.source, confirmed)
  // The rows go too: otherwise the next run would see their sources as vanished.
  ctx.state.deleteMessages(prepared.pairRow!, confirmed)
}

function recordFolderError(ctx: EngineContext, result: FolderResult, error: unknown): void {
  const mailferryError = asMailferryError(error)
  if (mailferryError.scope === 'folder') result.error = mailferryError.message
  else ctx.fatal.error ??= mailferryError
}

function asMailferryError(error: unknown): MailferryError {
  if (error instanceof MailferryError) return error
  return new MailferryError(describeError(error), {scope: 'run', cause: error})
}

function warn(ctx: EngineContext, message: string): void {
  ctx.warnings.push(message)
  ctx.emit('warning', {message})
}
