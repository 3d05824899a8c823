/**
 * --repair in the copy path: a message the destination has just refused (or is known to alter) is
 * repaired with the allowed repairs it needs (check/repair.ts) and appended once more (or instead). The state records, before that
 * APPEND, the original's and the repaired bytes' SHA-256 and the repairs (the audit trail); after
 * it, where the copy is. A message repaired before (an APPEND cut off with its outcome unknown, or a
 * row dropped to copy it again) is looked for first: a destination message with the recorded size
 * and SHA-256 that no other row claims is its copy, so a repaired message is never stored twice
 * (recognition by content cannot find it: its bytes are not the source's).
 */
import {inspectMessage} from '../check/inspect.js'
import {REPAIR_FOR, repairOutcome} from '../check/repair.js'
import type {RepairKind} from '../check/repair-kinds.js'
import {serverNote, serverVerdict} from '../check/servers.js'
import {sha256} from '../digest.js'
import {MessageRejectedError, describeError} from '../errors.js'
import type {AppendResult, FetchedMessage, MessageMeta} from '../stores/store.js'
import {recordFailure, type EngineContext, type Prepared} from './context.js'
import {headerBlock, headerHash} from './headers.js'

/** A copy as stored: the APPEND's result and the bytes stored (the repaired form's, when repaired). */
export interface StoredCopy {
  appended: AppendResult
  bytes: number
}

/** Sends one form of the message; `bytes` are counted (the budgets) before anything is sent. */
type Send = (raw: Buffer) => Promise<StoredCopy>

/**
 * Step 5's APPEND of one message, with --repair: a message the destination is known to alter
 * (check/servers.ts: Cyrus replaces raw 8-bit header bytes with X, Dovecot stores NUL bytes as 0x80) is
 * repaired first when a listed repair fixes what it would alter; a message the destination refuses is
 * repaired then. Returns the stored copy, or undefined when the message failed (recorded).
 * beforeSend is called with the size of the first form sent, before it is sent.
 */
export async function appendCopy(
  ctx: EngineContext,
  prepared: Prepared,
  meta: MessageMeta,
  message: FetchedMessage,
  flags: string[],
  beforeSend?: (bytes: number) => void,
): Promise<StoredCopy | undefined> {
  const send: Send = async (raw) => {
    beforeSend?.(raw.length)
    return {appended: await ctx.dest.appendMessage(prepared.pair.dest, raw, flags, message.internalDate), bytes: raw.length}
  }
  const allowed = ctx.policy.repair ?? []
  const alteredBecause = allowed.length > 0 ? alteration(ctx.dest.capabilities().serverName, message.raw, allowed) : undefined
  if (alteredBecause) return appendRepaired(ctx, prepared, meta, message, send, alteredBecause)
  try {
    return await send(message.raw)
  } catch (error) {
    if (!(error instanceof MessageRejectedError)) throw error
    return appendRepaired(ctx, prepared, meta, message, send, describeError(error))
  }
}

/** What the destination would alter in this message that an allowed repair fixes (its known rules), or undefined. */
function alteration(server: string | undefined, raw: Buffer, allowed: readonly RepairKind[]): string | undefined {
  const problems = inspectMessage(headerBlock(raw)).map((finding) => finding.problem)
  if (raw.includes(0)) problems.push('nul')
  const altered = [...new Set(problems)].filter((problem) => serverVerdict(server, [problem]) === 'altered' && allowed.includes(REPAIR_FOR[problem]))
  if (altered.length === 0) return undefined
  return `not sent as it is: ${altered.map((problem) => serverNote(server, problem) ?? problem).join('; ')}`
}

/**
 * After `reason` (the destination's refusal, or what it would alter): the repaired copy's APPEND
 * result, or undefined when there is none (the failure is then recorded, as without --repair).
 */
async function appendRepaired(
  ctx: EngineContext,
  prepared: Prepared,
  meta: MessageMeta,
  message: FetchedMessage,
  send: Send,
  reason: string,
): Promise<StoredCopy | undefined> {
  const allowed = ctx.policy.repair ?? []
  if (allowed.length === 0) {
    recordFailure(ctx, prepared, meta, reason)
    return undefined
  }
  const repaired = repairOutcome(message.raw, allowed, {maxLineLength: ctx.dest.capabilities().maxLineLength})
  // A needed repair that could not be made (a multipart without its boundary, a header line with no place to fold) says why.
  const couldNot = repaired.unrepaired.map((u) => `; ${u.repair} could not repair it: ${u.reason}`).join('')
  if (repaired.applied.length === 0) {
    recordFailure(ctx, prepared, meta, couldNot ? `${reason}${couldNot}` : `${reason} (no repair of --repair ${allowed.join(',')} applies)`)
    return undefined
  }
  const {pair, pairRow} = prepared
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
  let stored: StoredCopy | undefined
  // Sent before (cut off, or its row was dropped to copy it again): its copy may be there already.
  if (earlier && earlier.storedSha256 === record.storedSha256) {
    const uid = await findCopy(ctx, prepared, record.storedSize, record.storedSha256)
    if (uid !== undefined) stored = {appended: {uid, uidValidity: prepared.destStatus?.uidValidity}, bytes: record.storedSize}
  }
  if (!stored) {
    ctx.state.intendRepair(pairRow, record)
    try {
      stored = await send(repaired.raw)
    } catch (error) {
      if (!(error instanceof MessageRejectedError)) throw error
      ctx.state.forgetRepair(pairRow, meta.uid)
      recordFailure(ctx, prepared, meta, `${reason}; repaired (${repaired.applied.join(', ')}) and refused again: ${describeError(error)}${couldNot}`)
      return undefined
    }
  }
  const {appended} = stored
  const sameValidity = appended.uidValidity === undefined || appended.uidValidity === prepared.destStatus?.uidValidity
  const destUid = appended.uid !== undefined && sameValidity ? appended.uid : undefined
  ctx.state.markRepairStored(pairRow, meta.uid, destUid ?? null)
  const event = {folder: pair.source, uid: meta.uid, destFolder: pair.dest, destUid, ...record}
  ctx.repaired.push(event)
  ctx.emit('message:repaired', event)
  return stored
}

/** A destination message of this size and SHA-256 that no row of the folder claims (an earlier repaired APPEND's copy). */
async function findCopy(ctx: EngineContext, prepared: Prepared, size: number, hash: string): Promise<number | undefined> {
  const {pair} = prepared
  const claimed = new Set<number>()
  for (const row of ctx.state.messages(prepared.pairRow).values()) {
    if (row.destUid !== null && row.status !== 'pending' && row.status !== 'failed') claimed.add(row.destUid)
  }
  const candidates = (await ctx.dest.listMeta(pair.dest)).filter((m) => m.size === size && !claimed.has(m.uid))
  for (const candidate of candidates) {
    const copy = await ctx.dest.fetchMessage(pair.dest, candidate.uid, {listedSize: candidate.size})
    if (copy && sha256(copy.raw) === hash) return candidate.uid
  }
  return undefined
}
