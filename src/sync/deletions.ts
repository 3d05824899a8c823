/**
 * Step 7: the destructive steps, each proving its precondition on the servers when it acts, never
 * from the state database alone (docs/design.md, "Deletions prove their precondition").
 *
 * - --delete-extraneous deletes a destination copy only when the source listing was complete, the
 *   source message is gone now (looked up again), and the destination UID still holds that copy.
 * - --move deletes a source message only when its copy is proven now (proof.ts). Copies found
 *   missing are copied again first; what still cannot be proven stays on the source, reported.
 *   Crash-safe order: rows 'moving' (committed) -> UID EXPUNGE on the source -> rows 'moved'
 *   (tombstones, never extraneous). A kill between the steps leaves every message with a copy.
 */
import {CommandRefusedError} from '../errors.js'
import type {MessageRow} from '../state/rows.js'
import type {MessageMeta, Store} from '../stores/store.js'
import {checkClaims} from './claims.js'
import {recordRefusal, warn, type EngineContext, type Prepared} from './context.js'
import {proveCopies} from './proof.js'

/** Step 7a: --delete-extraneous removes copies whose source message is gone. */
export async function deleteExtraneous(ctx: EngineContext, prepared: Prepared): Promise<void> {
  if (!ctx.policy.deleteExtraneous || prepared.vanished.length === 0) return
  const {pair, pairRow, result} = prepared
  if (!prepared.listingComplete) {
    warn(ctx, `${pair.source}: the folder changed while it was listed; deletions on the destination are left for the next run`)
    return
  }
  // Gone now, not only at listing time: a UID FETCH of exactly these UIDs returns none of them.
  const stillThere = new Set((await ctx.source.listMeta(pair.source, prepared.vanished.map((row) => row.sourceUid))).map((m) => m.uid))
  const gone = prepared.vanished.filter((row) => !stillThere.has(row.sourceUid))
  const withCopy = gone.filter((row) => row.status === 'copied' && row.destUid !== null)
  let ours: number[] = []
  if (withCopy.length > 0) {
    const held = await ownCopies(ctx.dest, pair.dest, pairRow.destUidValidity, withCopy)
    if (!held) {
      warn(ctx, `${pair.dest}: UIDVALIDITY changed since the copies were made; no message deleted on the destination`)
      return
    }
    ours = [...held]
    const notOurs = withCopy.length - ours.length
    if (notOurs > 0) warn(ctx, `${pair.dest}: ${notOurs} copies of deleted source messages are no longer where they were; not deleted`)
  }
  const ordinal = ctx.control.nextDelete()
  ctx.hooks.beforeDelete?.(ordinal)
  await ctx.dest.deleteMessages(pair.dest, ours)
  ctx.hooks.afterDelete?.(ordinal)
  ctx.state.deleteMessages(pairRow, gone.map((row) => row.sourceUid))
  result.deleted += ours.length
}

/**
 * The destination UIDs among these rows' that still hold their copy now (size and Message-ID, under
 * the recorded UIDVALIDITY): what a deletion may remove. Undefined when the UIDVALIDITY changed.
 */
export async function ownCopies(dest: Store, path: string, uidValidity: number | null, rows: MessageRow[]): Promise<Set<number> | undefined> {
  if ((await dest.status(path)).uidValidity !== uidValidity) return undefined
  if (rows.length === 0) return new Set()
  return checkClaims(rows, await dest.listMeta(path, rows.map((row) => row.destUid!))).held
}

/** Re-copies source messages (step 5 again) and resolves when their copies are settled. */
export type Recopy = (metas: MessageMeta[]) => Promise<void>

/** Step 7b: --move deletes source messages whose copy is proven on the destination now. */
export async function moveSources(ctx: EngineContext, prepared: Prepared, recopy: Recopy): Promise<void> {
  if (!ctx.policy.move) return
  const {pair, result} = prepared
  const {pairRow} = prepared
  const present = new Set(prepared.sourceFlags.map((m) => m.uid))
  const rowsToMove = (all = [...ctx.state.messages(pairRow).values()]) => all.filter((row) => row.status === 'copied' && present.has(row.sourceUid))
  const all = [...ctx.state.messages(pairRow).values()]
  const rows = rowsToMove(all)
  if (rows.length === 0) return
  const claimedElsewhere = new Set(all.filter((row) => row.destUid !== null && !present.has(row.sourceUid)).map((row) => row.destUid!))
  const withoutUid = new Set(rows.filter((row) => row.destUid === null).map((row) => row.sourceUid))
  const input = {
    source: ctx.source,
    dest: ctx.dest,
    sourcePath: pair.source,
    destPath: pair.dest,
    destUidValidity: pairRow.destUidValidity,
    claimedElsewhere,
    repaired: (uid: number) => ctx.state.repair(pairRow, uid),
  }
  const first = await proveCopies(input, rows)
  let proven = first.proven
  let unproven = first.unproven
  if (unproven.length > 0 && !ctx.control.stopped) {
    // The state says copied, the destination disagrees: copy those again, then prove them again.
    const uids = unproven.map(({row}) => row.sourceUid)
    warn(ctx, `${pair.dest}: ${uids.length} copies were missing or different on the destination (${unproven[0].reason}); copied again before their source is deleted`)
    ctx.state.deleteMessages(pairRow, uids)
    await recopy(await ctx.source.listMeta(pair.source, uids))
    const recopied = new Set(uids)
    const again = rowsToMove().filter((row) => recopied.has(row.sourceUid))
    for (const row of again) if (row.destUid === null) withoutUid.add(row.sourceUid)
    const second = await proveCopies(input, again)
    proven = [...proven, ...second.proven]
    const settled = new Set(again.map((row) => row.sourceUid))
    unproven = [
      ...second.unproven,
      ...unproven.filter(({row}) => !settled.has(row.sourceUid)).map(({row}) => ({row, reason: 'copying it again did not succeed'})),
    ]
  }
  // Kept on the source: a \Deleted left there by an interrupted --move would make clients hide it.
  const undelete = unproven.map(({row}) => row.sourceUid).filter((uid) => prepared.interruptedMove?.has(uid))
  if (undelete.length > 0) await ctx.source.setFlags(pair.source, undelete, [], ['\\Deleted'])
  // Copies again that failed were already counted as failures by the copy step.
  const counted = new Set(ctx.failures.filter((f) => f.folder === pair.source).map((f) => f.uid))
  for (const {row, reason} of unproven) {
    if (counted.has(row.sourceUid)) continue
    recordRefusal(ctx, prepared, [row.sourceUid], `kept on the source (--move): ${reason}`)
  }
  if (proven.length === 0) return
  // Rows that had no destination UID were proven by content: remember where.
  ctx.state.putMessages(pairRow, proven.filter((row) => withoutUid.has(row.sourceUid)))
  const uids = proven.map((row) => row.sourceUid)
  ctx.state.setMoveStep(pairRow, uids, 'moving')
  const ordinal = ctx.control.nextMove()
  ctx.hooks.beforeExpunge?.(ordinal)
  try {
    await ctx.source.deleteMessages(pair.source, uids)
  } catch (error) {
    if (!(error instanceof CommandRefusedError)) throw error
    // Refused: nothing was expunged (UID EXPUNGE is one command); the rows are copies again.
    ctx.state.setMoveStep(pairRow, uids, 'copied')
    recordRefusal(ctx, prepared, uids, `kept on the source (--move): ${error.message}`)
    return
  }
  ctx.hooks.afterExpunge?.(ordinal)
  ctx.state.setMoveStep(pairRow, uids, 'moved')
  result.sourceDeleted += uids.length
}
