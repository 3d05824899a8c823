/**
 * --repair in the copy path: a message the destination has just refused is repaired with the
 * allowed repairs it needs (check/repair.ts) and appended once more. The state records, before that
 * APPEND, the original's and the repaired bytes' SHA-256 and the repairs (the audit trail); after
 * it, where the copy is. A message repaired before (an APPEND cut off with its outcome unknown, or a
 * row dropped to copy it again) is looked for first: a destination message with the recorded size
 * and SHA-256 that no other row claims is its copy, so a repaired message is never stored twice
 * (recognition by content cannot find it: its bytes are not the source's).
 */
import {createHash} from 'node:crypto'

import {repairMessage} from '../check/repair.js'
import {MessageRejectedError, describeError} from '../errors.js'
import type {AppendResult, FetchedMessage, MessageMeta} from '../stores/store.js'
import {recordFailure, type EngineContext, type Prepared} from './context.js'
import {headerHash} from './headers.js'

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/**
 * After `refusal` of `message`: its repaired copy's APPEND result, or undefined when there is none
 * (the failure is then recorded, as without --repair).
 */
export async function appendRepaired(
  ctx: EngineContext,
  prepared: Prepared,
  meta: MessageMeta,
  message: FetchedMessage,
  flags: string[],
  refusal: MessageRejectedError,
): Promise<AppendResult | undefined> {
  const reason = describeError(refusal)
  const allowed = ctx.policy.repair ?? []
  if (allowed.length === 0) {
    recordFailure(ctx, prepared, meta, reason)
    return undefined
  }
  const repaired = repairMessage(message.raw, allowed)
  if (!repaired) {
    recordFailure(ctx, prepared, meta, `${reason} (no repair of --repair ${allowed.join(',')} applies)`)
    return undefined
  }
  const {pair} = prepared
  const pairRow = prepared.pairRow!
  const record = {
    sourceUid: meta.uid,
    originalSha256: sha256(message.raw),
    storedSha256: sha256(repaired.raw),
    storedSize: repaired.raw.length,
    repairs: repaired.applied,
    reason,
  }
  // The row describes the copy from now on (undone by recordFailure if the repaired form is refused too).
  ctx.state.setStoredForm(pairRow, meta.uid, {size: record.storedSize, headerHash: headerHash(repaired.raw), fingerprint: record.storedSha256})
  const earlier = ctx.state.repair(pairRow, meta.uid)
  let appended: AppendResult | undefined
  // Sent before (cut off, or its row was dropped to copy it again): its copy may be there already.
  if (earlier && earlier.storedSha256 === record.storedSha256) {
    const uid = await findCopy(ctx, prepared, record.storedSize, record.storedSha256)
    if (uid !== undefined) appended = {uid, uidValidity: prepared.destStatus?.uidValidity}
  }
  if (!appended) {
    ctx.state.intendRepair(pairRow, record)
    try {
      appended = await ctx.dest.appendMessage(pair.dest, repaired.raw, flags, message.internalDate)
    } catch (error) {
      if (!(error instanceof MessageRejectedError)) throw error
      ctx.state.forgetRepair(pairRow, meta.uid)
      recordFailure(ctx, prepared, meta, `${reason}; repaired (${repaired.applied.join(', ')}) and refused again: ${describeError(error)}`)
      return undefined
    }
  }
  const sameValidity = appended.uidValidity === undefined || appended.uidValidity === prepared.destStatus?.uidValidity
  const destUid = appended.uid !== undefined && sameValidity ? appended.uid : undefined
  ctx.state.markRepairStored(pairRow, meta.uid, destUid ?? null)
  const event = {folder: pair.source, uid: meta.uid, destFolder: pair.dest, destUid, ...record}
  ctx.repaired.push(event)
  ctx.emit('message:repaired', event)
  return appended
}

/** A destination message of this size and SHA-256 that no row of the folder claims (an earlier repaired APPEND's copy). */
async function findCopy(ctx: EngineContext, prepared: Prepared, size: number, hash: string): Promise<number | undefined> {
  const {pair} = prepared
  const claimed = new Set<number>()
  for (const row of ctx.state.messages(prepared.pairRow!).values()) {
    if (row.destUid !== null && row.status !== 'pending' && row.status !== 'failed') claimed.add(row.destUid)
  }
  const candidates = (await ctx.dest.listMeta(pair.dest)).filter((m) => m.size === size && !claimed.has(m.uid))
  for (const candidate of candidates) {
    const copy = await ctx.dest.fetchMessage(pair.dest, candidate.uid, {listedSize: candidate.size})
    if (copy && sha256(copy.raw) === hash) return candidate.uid
  }
  return undefined
}
