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
 *                   source UID is gone (tombstones of --move excepted). A 'moving' row left by a killed
 *                   --move becomes 'copied' again (its source is there) or 'moved' (it is not).
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
 *                   copy is proven on the destination now are deleted from the source (deletions.ts).
 *     8. snapshot:  the STATUS from step 1 is recorded, for the next run's step 1.
 */
import {createHash} from 'node:crypto'

import {CommandRefusedError, ConnectError, MessageRejectedError, describeError} from '../errors.js'
import type {FolderPair} from '../plan/plan.js'
import type {FolderSnapshot, MessageRow, PairRow} from '../state/repository.js'
import type {FolderStatus, MessageFlags, MessageMeta} from '../stores/store.js'
import type {FolderResult} from './events.js'
import {filterFlags, flagDelta, groupFlagChanges, normalizeFlags, sameFlags, type MessageFlagChange} from './flags.js'
import {checkClaims} from './claims.js'
import {
  asMailferryError,
  emptyResult,
  recordFailure,
  recordFolderError,
  recordRefusal,
  warn,
  type EngineContext,
  type Prepared,
} from './context.js'
import {deleteExtraneous, moveSources} from './deletions.js'
import {headerHash} from './headers.js'
import {recognise} from './recognise.js'
import {isSelected, isSelecting} from './select.js'

export type {EngineContext, EngineHooks, Prepared, SyncPolicy} from './context.js'

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

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
    prepared.listingComplete = true
    result.changesOnly = true
    result.sourceMessages = prepared.sourcePeek!.messages
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
    prepared.toCopy = await resolveCandidates(ctx, prepared, candidateUids, unresolvedUids, {afterCutOff})
  }
  result.alreadyPresent = result.sourceMessages - prepared.toCopy.length - result.notSelected
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
  ctx.state.setMoveStep(prepared.pairRow!, gone, 'moved')
  // Still there: cut off between its UID STORE +FLAGS \Deleted and UID EXPUNGE, so that flag is
  // ours, not the user's. Only a --move run (source writable) settles them: it proves and expunges
  // them, or takes the flag off; until then they stay 'moving' and their flags are not synced.
  if (ctx.policy.move) {
    ctx.state.setMoveStep(prepared.pairRow!, back, 'copied')
    prepared.interruptedMove = new Set(back)
  } else if (back.length > 0) {
    warn(ctx, `${prepared.pair.source}: ${back.length} messages still carry the \\Deleted flag of an interrupted --move; run with --move again to finish it`)
  }
  prepared.rows = ctx.state.messages(prepared.pairRow!)
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
  const vanished = [...rows.values()].filter((row) => vanishedUids.has(row.sourceUid) && row.status !== 'moved')
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
    // Tombstones of --move keep their copy claimed: it is nobody's candidate.
    for (const row of rows.values()) if (row.status !== 'pending' && row.status !== 'failed' && row.destUid !== null) claimed.add(row.destUid)
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
      flags,
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
      if (from === to) {
        // Expunged and added again in the same folder: the copy is already where it belongs.
        from.vanished = from.vanished.filter((r) => r !== row)
        ctx.state.deleteMessages(from.pairRow!, [row.sourceUid])
        moved.add(meta.uid)
        await recordPresent(ctx, to, meta, row.destUid!, row.flags, row.origin ?? 'appended', hash)
        continue
      }
      let result
      try {
        result = await ctx.dest.moveMessage!(from.pair.dest, row.destUid!, to.pair.dest)
      } catch (error) {
        if (!(error instanceof CommandRefusedError)) throw error
        // Not moved: the row stays where it was and the message is copied like a new one.
        warn(ctx, `${to.pair.dest}: could not move a message here from ${from.pair.dest} (${error.message}); it is copied instead`)
        continue
      }
      // The row goes only once the MOVE succeeded: a kill before this leaves the row, and the next
      // run recognises the moved copy by content.
      from.vanished = from.vanished.filter((r) => r !== row)
      ctx.state.deleteMessages(from.pairRow!, [row.sourceUid])
      moved.add(meta.uid)
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
      await moveSources(ctx, prepared, async (metas) => {
        await Promise.allSettled(metas.map((meta) => ctx.queue.add(() => copyOne(ctx, prepared, meta))))
      })
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

async function syncFlags(ctx: EngineContext, prepared: Prepared): Promise<void> {
  const {pair, rows, sourceFlags, destStatus, result} = prepared
  const destFlags = ctx.policy.mirror ? new Map((await ctx.dest.listFlags(pair.dest)).map((m) => [m.uid, m.flags])) : undefined
  const updated: Array<{sourceUid: number; flags: string[]}> = []
  const changes: MessageFlagChange[] = []
  for (const {uid, flags} of sourceFlags) {
    const row = rows.get(uid)
    if (!row || row.status !== 'copied' || row.destUid === null) continue
    let now = normalizeFlags(flags)
    if (prepared.interruptedMove?.has(uid) && !row.flags.includes('\\Deleted')) now = now.filter((flag) => flag !== '\\Deleted')
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
  // Flags are recorded as synced only for the groups the server accepted; refused ones are retried next run.
  const sourceOf = new Map([...rows.values()].filter((row) => row.destUid !== null).map((row) => [row.destUid!, row.sourceUid]))
  const refused = new Set<number>()
  for (const group of groupFlagChanges(changes)) {
    try {
      await ctx.dest.setFlags(pair.dest, group.uids, group.add, group.remove)
    } catch (error) {
      if (!(error instanceof CommandRefusedError)) throw error
      const sourceUids = group.uids.map((uid) => sourceOf.get(uid)!)
      for (const uid of sourceUids) refused.add(uid)
      recordRefusal(ctx, prepared, sourceUids, `flags not updated: ${error.message}`)
    }
  }
  result.flagsUpdated += changes.filter((change) => !refused.has(sourceOf.get(change.uid)!)).length
  ctx.state.setFlags(prepared.pairRow!, updated.filter((update) => !refused.has(update.sourceUid)))
}


