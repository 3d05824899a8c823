/**
 * Step 6 of one folder pair: bring the copies' flags to the source's. Messages with the same change
 * share one UID STORE; a refused STORE is counted and its flags are tried again on the next run.
 */
import {CommandRefusedError} from '../errors.js'
import {recordRefusal, type EngineContext, type Prepared} from './context.js'
import {filterFlags, flagDelta, groupFlagChanges, normalizeFlags, sameFlags, type MessageFlagChange} from './flags.js'

/** Step 6. Default: only what changed on the source since the last run; --mirror: whatever differs. */
export async function syncFlags(ctx: EngineContext, prepared: Prepared): Promise<void> {
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
  ctx.state.setFlags(prepared.pairRow, updated.filter((update) => !refused.has(update.sourceUid)))
}


