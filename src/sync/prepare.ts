/**
 * Steps 1-4 of one folder pair (the phase order is told in engine.ts): find out, from the servers
 * and the pair's rows, what is already on the destination and what is left to copy.
 */
import {checkClaims} from './claims.js'
import {CommandRefusedError} from '../errors.js'
import type {FolderPair} from '../plan/plan.js'
import type {FolderSnapshot, MessageRow, PairRow} from '../state/rows.js'
import type {FolderStatus, MessageFlags, MessageMeta} from '../stores/store.js'
import {emptyResult, recordFolderError, recordRefusal, warn, type EngineContext, type Prepared} from './context.js'
import {filterFlags, flagDelta, normalizeFlags} from './flags.js'
import {recognise} from './recognise.js'
import {isSelected, isSelecting} from './select.js'

/**
 * Steps 1-4 for one pair. A folder's failure is recorded in its result; only the state database
 * failing to give the pair its row throws (the run cannot go on without it).
 */
export async function prepareFolder(ctx: EngineContext, pair: FolderPair): Promise<Prepared> {
  const prepared: Prepared = {
    pair,
    pairRow: ctx.state.pair(pair.source, pair.dest),
    result: emptyResult(pair),
    started: Date.now(),
    skipped: false,
    rows: new Map(),
    sourceFlags: [],
    toCopy: [],
    held: [],
    vanished: [],
    listingComplete: false,
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
  const {pair, pairRow, result} = prepared
  if (pair.create && !pairRow.destCreated) ctx.state.markCreated(pairRow)

  // A pair with no snapshot yet (its first sync) cannot be skipped or listed by changes: its
  // snapshot is taken from the SELECT below instead of a STATUS round trip on each side.
  const peek = ctx.policy.mirror || ctx.policy.move ? undefined : ctx.source.peek?.bind(ctx.source)
  if (peek && pairRow.sourceUidNext !== null) {
    const [sourcePeek, destPeek] = await Promise.all([
      peek(pair.source),
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
  if (peek && !prepared.sourcePeek) prepared.sourcePeek = snapshotOf(ctx, sourceStatus)
  const changesSince = changedSinceBase(ctx, pairRow, prepared.sourcePeek, destStatus)
  const before = {source: pairRow.sourceUidValidity, dest: pairRow.destUidValidity}
  if (ctx.state.setValidities(pairRow, sourceStatus.uidValidity, destStatus.uidValidity)) {
    warn(
      ctx,
      `${pair.source}: UIDVALIDITY changed (source ${before.source} -> ${sourceStatus.uidValidity}, ` +
        `destination ${before.dest} -> ${destStatus.uidValidity}); messages are re-matched by content, none is copied twice`,
    )
  }
  const sinceBase = changesSince === undefined ? undefined : await listChanges(ctx, prepared, changesSince)
  // After a CHANGEDSINCE listing only the rows of the messages it names are read: a re-run of a
  // large folder with a few changes reads a few rows, not all of them.
  prepared.rows = sinceBase?.rows ?? ctx.state.messages(pairRow)
  const changes = sinceBase?.changes
  // With no rows yet, the listing itself carries each message's meta (below).
  let listed: Map<number, MessageMeta> | undefined
  if (sinceBase) {
    // CHANGEDSINCE: only messages that changed or arrived; the expunged ones came as VANISHED.
    prepared.sourceFlags = sinceBase.changes
    prepared.vanished = sinceBase.vanished
    prepared.listingComplete = true
    result.changesOnly = true
    result.sourceMessages = prepared.sourcePeek!.messages
  } else if (prepared.rows.size === 0) {
    // Nothing known of this pair: every message is a candidate, so the listing carries what step 4
    // needs (sizes, dates, Message-IDs) instead of a second FETCH for them.
    const metas = await ctx.source.listMeta(pair.source)
    prepared.sourceFlags = metas
    listed = new Map(metas.map((meta) => [meta.uid, meta]))
    prepared.listingComplete = metas.length === sourceStatus.messages
    result.sourceMessages = metas.length
  } else {
    prepared.sourceFlags = await ctx.source.listFlags(pair.source)
    // Mail that arrived or left between SELECT and the listing: deletions wait for a steady listing.
    prepared.listingComplete = prepared.sourceFlags.length === sourceStatus.messages
    result.sourceMessages = prepared.sourceFlags.length
  }

  const present = new Set<number>()
  for (const {uid} of prepared.sourceFlags) present.add(uid)
  if (!changes) settleMoving(ctx, prepared, present)
  const candidateUids: number[] = []
  const unresolvedUids: number[] = []
  for (const {uid} of prepared.sourceFlags) {
    const row = prepared.rows.get(uid)
    if (!row || row.status === 'pending' || row.status === 'failed') candidateUids.push(uid)
    else if (row.destUid === null) unresolvedUids.push(uid)
  }
  if (!changes) prepared.vanished = [...prepared.rows.values()].filter((row) => !present.has(row.sourceUid) && row.status !== 'moved')
  if (candidateUids.length > 0 || unresolvedUids.length > 0) {
    // 'pending' rows: the last run was cut off mid-APPEND, perhaps by the server dying (claims.ts).
    const afterCutOff = [...prepared.rows.values()].some((row) => row.status === 'pending')
    prepared.toCopy = await resolveCandidates(ctx, prepared, candidateUids, unresolvedUids, {afterCutOff, listed})
  }
  result.alreadyPresent = result.sourceMessages - prepared.toCopy.length - result.notSelected
}

/** The SELECT's view as the pair's snapshot (HIGHESTMODSEQ only where the store lists by it, as peek does). */
function snapshotOf(ctx: EngineContext, status: FolderStatus): FolderSnapshot {
  const {uidValidity, uidNext, messages, highestModseq} = status
  return {uidValidity, uidNext, messages, ...(ctx.source.capabilities().condstore && highestModseq !== undefined ? {highestModseq} : {})}
}

/**
 * A --move killed between its steps left 'moving' rows (unsettledCount forces the full listing that
 * this needs): a source message still there was not expunged, and its copy is proven again before
 * any deletion; one that is gone was expunged by us, and its row becomes a tombstone.
 */
function settleMoving(ctx: EngineContext, prepared: Prepared, present: Set<number>): void {
  const moving = [...prepared.rows.values()].filter((row) => row.status === 'moving')
  if (moving.length === 0) return
  const back = moving.filter((row) => present.has(row.sourceUid)).map((row) => row.sourceUid)
  const gone = moving.filter((row) => !present.has(row.sourceUid)).map((row) => row.sourceUid)
  ctx.state.setMoveStep(prepared.pairRow, gone, 'moved')
  // Still there: cut off between its UID STORE +FLAGS \Deleted and UID EXPUNGE, so that flag is
  // ours, not the user's. Only a --move run (source writable) settles them: it proves and expunges
  // them, or takes the flag off; until then they stay 'moving' and their flags are not synced.
  if (ctx.policy.move) {
    ctx.state.setMoveStep(prepared.pairRow, back, 'copied')
    prepared.interruptedMove = new Set(back)
  } else if (back.length > 0) {
    warn(ctx, `${prepared.pair.source}: ${back.length} messages still carry the \\Deleted flag of an interrupted --move; run with --move again to finish it`)
  }
  prepared.rows = ctx.state.messages(prepared.pairRow)
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
): Promise<{changes: MessageFlags[]; vanished: MessageRow[]; rows: Map<number, MessageRow>} | undefined> {
  const {pairRow, sourcePeek} = prepared
  const vanishedUids = new Set<number>()
  const changes = await ctx.source.listFlags(prepared.pair.source, {changedSince: since, onVanished: (uid) => vanishedUids.add(uid)})
  const added = changes.filter((m) => m.uid >= pairRow.sourceUidNext!).length
  // The rows of the messages named; nothing is unsettled here (changedSinceBase), so no other row is asked for.
  const rows = ctx.state.messagesOf(pairRow, [...changes.map((m) => m.uid), ...vanishedUids])
  // VANISHED (EARLIER) may name UIDs we never had (RFC 7162 3.2.6): only our rows count.
  const vanished = [...rows.values()].filter((row) => vanishedUids.has(row.sourceUid) && row.status !== 'moved')
  return sourcePeek!.messages === pairRow.sourceMessages! + added - vanished.length ? {changes, vanished, rows} : undefined
}

/**
 * Step 4. First gives UIDs to rows copied without one (no UIDPLUS), so that their copies are
 * claimed before new candidates are matched; then recognises candidates already on the destination.
 * Returns what is left to copy. With afterCutOff (after APPENDs were cut off: the server may have
 * renumbered, see claims.ts) every claim is checked against the destination first and the rows
 * whose UID now names another message, or nothing, are matched again by content. `listed`: the
 * source's metas when the listing already carried them (a pair's first sync), read instead of a FETCH.
 */
export async function resolveCandidates(
  ctx: EngineContext,
  prepared: Prepared,
  candidateUids: number[],
  unresolvedUids: number[],
  options: {afterCutOff?: boolean; listed?: Map<number, MessageMeta>} = {},
): Promise<MessageMeta[]> {
  const {pair, pairRow, rows} = prepared
  // Empty when it was selected for this pass: nothing there to recognise, and a listing would cost a
  // round trip per folder of a first sync. Not after a cut-off: an interrupted APPEND may surface late.
  const destEmpty = prepared.destStatus?.messages === 0 && !options.afterCutOff
  const destUids = destEmpty ? [] : (await ctx.dest.listFlags(pair.dest)).map((m) => m.uid)
  let unclaimed: MessageMeta[]
  // Rows whose claim is in doubt: re-matched by content below. 'wrong' ones not found lose their UID.
  let doubtful: {wrong: Set<number>; gone: number[]} = {wrong: new Set(), gone: []}
  if (options.afterCutOff) {
    const destMeta = destUids.length > 0 ? await ctx.dest.listMeta(pair.dest, destUids) : []
    const check = checkClaims(rows.values(), destMeta)
    doubtful = {wrong: new Set(check.wrong), gone: check.gone}
    unclaimed = destMeta.filter((m) => !check.held.has(m.uid))
  } else {
    // Asked of the state, not of `rows` (which may hold only the changed messages' rows). Tombstones
    // of --move keep their copy claimed: it is nobody's candidate.
    const claimed = ctx.state.claimedDestUids(pairRow)
    const open = destUids.filter((uid) => !claimed.has(uid))
    unclaimed = open.length > 0 ? await ctx.dest.listMeta(pair.dest, open) : []
  }
  const unresolved = new Set([...unresolvedUids, ...doubtful.wrong, ...doubtful.gone])
  const wanted = [...candidateUids, ...unresolved]
  const {listed} = options
  const sourceMeta = listed && wanted.every((uid) => listed.has(uid)) ? wanted.map((uid) => listed.get(uid)!) : await ctx.source.listMeta(pair.source, wanted)

  const base = {source: ctx.source, dest: ctx.dest, sourcePath: pair.source, destPath: pair.dest}
  if (unresolved.size > 0) {
    const found = await recognise({...base, candidates: sourceMeta.filter((m) => unresolved.has(m.uid)), unclaimed})
    const wrongLeft = [...doubtful.wrong].filter((uid) => !found.has(uid))
    ctx.state.putMessages(pairRow, [
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
export async function recordPresent(
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
  // The row records the flags the copy really has: a refused STORE is tried again on the next run.
  let flags = sourceFlags
  if (change.add.length > 0 || change.remove.length > 0) {
    try {
      await ctx.dest.setFlags(pair.dest, [destUid], change.add, change.remove)
      result.flagsUpdated++
    } catch (error) {
      if (!(error instanceof CommandRefusedError)) throw error
      recordRefusal(ctx, prepared, [meta.uid], `flags not updated: ${error.message}`)
      flags = normalizeFlags(destFlags)
    }
  }
  ctx.state.putMessages(pairRow, [
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
      flags,
    },
  ])
}
