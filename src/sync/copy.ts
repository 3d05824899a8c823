/**
 * Step 5 of one folder pair: copy one message (fetch, 'pending' row, APPEND, 'copied' row), and look
 * on the destination for the APPENDs whose answer was lost before anything is sent again.
 */
import {BudgetReachedError, ConnectError, MessageRejectedError, describeError} from '../errors.js'
import type {MessageMeta} from '../stores/store.js'
import {recordFailure, type EngineContext, type Prepared} from './context.js'
import {filterFlags, normalizeFlags} from './flags.js'
import {headerHash} from './headers.js'
import {resolveCandidates} from './prepare.js'
import type {QuotaTicket} from './quota.js'
import {appendCopy} from './repair.js'

/** Step 5 for one message. Runs inside the queue. */
export async function copyOne(ctx: EngineContext, prepared: Prepared, meta: MessageMeta): Promise<void> {
  if (ctx.control.stopped) return
  // Skipped up front: no point downloading what the destination says it will refuse (RFC 7889).
  const limit = ctx.dest.capabilities().appendLimit
  if (limit !== undefined && meta.size > limit) {
    recordFailure(ctx, prepared, meta, `larger than the destination's APPENDLIMIT (${limit} bytes)`)
    return
  }
  // Within the daily/hourly budgets, or not started at all: the first that does not fit stops the run.
  const grant = ctx.quota?.reserve(meta.size)
  if (grant && 'tooLarge' in grant) return recordFailure(ctx, prepared, meta, grant.tooLarge)
  if (grant && 'stop' in grant) return ctx.control.fail(grant.stop)
  const release = await ctx.budget.acquire(meta.size)
  try {
    await copyWithinBudget(ctx, prepared, meta, grant?.ticket)
  } finally {
    release()
    grant?.ticket.release()
  }
}

/** A budget stop lets the copies it admitted before it (holding a ticket) finish; any other stop ends them. */
function stopsCopy(ctx: EngineContext, ticket: QuotaTicket | undefined): boolean {
  if (!ctx.control.stopped) return false
  return !(ticket && !ctx.control.aborted && ctx.control.fatal instanceof BudgetReachedError)
}

async function copyWithinBudget(ctx: EngineContext, prepared: Prepared, meta: MessageMeta, quota?: QuotaTicket): Promise<void> {
  if (stopsCopy(ctx, quota)) return
  const {pair, pairRow, destStatus, result} = prepared
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
    quota?.spend('source', message.raw.length)
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
        // The whole message is not hashed: nothing reads that back, and it was 0.1 s of CPU per
        // 100 MB copied (docs/performance.md). Repaired copies record theirs (repair.ts).
        fingerprint: null,
        flags: sourceFlags,
      },
    ])
    const ordinal = ctx.control.nextAppend()
    ctx.hooks.beforeAppend?.(ordinal)
    // Refused (or, with --repair, known to be altered): stored repaired, or recorded as failed. The
    // budget counts what is sent first, before it is sent: a kill after the APPEND must not leave it out.
    const stored = await appendCopy(ctx, prepared, meta, message, kept, (bytes) => quota?.spend('dest', bytes))
    if (!stored) return
    const {appended} = stored
    ctx.hooks.afterAppend?.(ordinal)
    const sameValidity = appended.uidValidity === undefined || appended.uidValidity === destStatus?.uidValidity
    ctx.state.markCopied(pairRow, meta.uid, appended.uid !== undefined && sameValidity ? appended.uid : null)
    result.copied++
    result.bytes += stored.bytes
    ctx.emit('message:copied', {source: pair.source, uid: meta.uid, bytes: stored.bytes})
  } catch (error) {
    if (error instanceof ConnectError && error.outcomeUnknown && ctx.policy.recheckRounds > 0) {
      // The row stays 'pending'; the folder looks for the message on the destination before sending it again.
      prepared.uncertain.push(meta)
      return
    }
    // A store-level failure (connection lost...): this message's outcome is settled by the next run.
    ctx.control.fail(error)
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
    prepared.rows = ctx.state.messages(prepared.pairRow)
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
export async function recheckUncertain(ctx: EngineContext, prepared: Prepared): Promise<void> {
  for (let round = 0; round < ctx.policy.recheckRounds && prepared.uncertain.length > 0; round++) {
    if (ctx.control.stopped) return
    const uids = prepared.uncertain.map((meta) => meta.uid)
    prepared.uncertain = []
    const missing = await lookAgain(ctx, prepared, uids)
    await Promise.allSettled(missing.map((meta) => ctx.queue.add(() => copyOne(ctx, prepared, meta))))
  }
  if (prepared.uncertain.length > 0) {
    ctx.control.fail(
      new ConnectError(
        `${prepared.pair.dest}: the connection kept failing during APPEND; ${prepared.uncertain.length} messages left for the next run`,
        {hint: 're-run the same command to resume; nothing is copied twice'},
      ),
    )
  }
}
