/**
 * Syncs folder pairs through the Store contract and the state repository. Emits events; never prints.
 *
 * Phase order per folder pair (write-once, like mbsync's sync.c header); each step lives in its own file:
 *   0. ready:       a destination folder this run creates is used once its own CREATE is answered
 *                   (folders.ts); one the destination refused fails this pair only.
 *   prepare (prepare.ts)
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
 *   moves (moves.ts, across pairs): a candidate that may have been moved on the source is held back
 *                   until every folder is prepared; one whose size, Message-ID, internal date and header
 *                   hash equal a vanished row's is moved on the destination (MOVE), not sent again.
 *   copy and finish (this file)
 *     5. copy:      per message, in the shared queue (copy.ts): fetch BODY.PEEK[] -> write a 'pending' row
 *                   -> APPEND -> mark 'copied' with the APPENDUID. Refused: 'failed' + reason, the run goes on.
 *     6. flags:     source flag changes since the last run are added/removed on the copy (flag-updates.ts;
 *                   --mirror: the copy is made equal to the source, overriding changes on the destination).
 *     7. deletions: --delete-extraneous: copies whose source is gone are deleted; --move: sources whose
 *                   copy is proven on the destination now are deleted from the source (deletions.ts).
 *     8. snapshot:  the STATUS from step 1 is recorded, for the next run's step 1.
 *
 * Across folders the steps overlap (syncFolders): a few folders are prepared at once, each one's
 * copies start as soon as it is prepared, and its listing is let go when it is finished, so an
 * account of thousands of folders never holds every listing at once. Folders that exist already are
 * taken first, then those created, shallower first, as their CREATEs are answered in that order.
 */
import type {FolderPair} from '../plan/plan.js'
import type {MessageMeta} from '../stores/store.js'
import {emptyResult, recordFolderError, warn, type EngineContext, type Prepared} from './context.js'
import {copyOne, recheckUncertain} from './copy.js'
import {deleteExtraneous, moveSources} from './deletions.js'
import type {FolderResult} from './events.js'
import {syncFlags} from './flag-updates.js'
import {creationDepth} from './folders.js'
import {MoveFinder} from './moves.js'
import {prepareFolder} from './prepare.js'

export type {EngineContext, EngineHooks, Prepared, SyncPolicy} from './context.js'

/**
 * Folders being prepared at once: each costs a few round trips (STATUS, listings), mostly waiting.
 * A worker queues one folder's copies before it prepares the next, so this also bounds the folders
 * whose listing is held before their copies started. 8, not 4, since a source's listings can go over
 * its pipelined connection while its sessions are busy: the corpus over a 32 ms link 1.43-1.51 s
 * in-run against 1.52-1.65 s (16 or 32 gained nothing more; docs/performance.md).
 */
const FOLDERS_PREPARED_AT_ONCE = 8

/**
 * Steps 0-8 for every pair, overlapping across pairs; results in the pairs' order. destReady (step 0):
 * resolves once a destination folder can be used, or says why this run could not create it
 * (startFolderCreation in folders.ts); absent, every folder exists.
 */
export async function syncFolders(
  ctx: EngineContext,
  pairs: FolderPair[],
  destReady?: (path: string) => Promise<string | undefined>,
): Promise<FolderResult[]> {
  const moves = new MoveFinder(ctx)
  const done: Array<Promise<FolderResult> | undefined> = new Array(pairs.length)
  // Stable: the plan's order within each depth.
  const order = pairs.map((_, index) => index).sort((a, b) => readyRank(pairs[a]) - readyRank(pairs[b]))
  let next = 0
  const worker = async () => {
    while (next < pairs.length && !ctx.control.stopped) {
      const index = order[next++]
      const pair = pairs[index]
      try {
        const refusal = await destReady?.(pair.dest)
        if (refusal !== undefined) {
          done[index] = Promise.resolve(notCreated(ctx, pair, refusal))
          continue
        }
        const prepared = await prepareFolder(ctx, pair)
        done[index] = (await startCopies(ctx, prepared, moves.take(prepared))).done
      } catch (error) {
        ctx.control.fail(error)
      }
    }
  }
  try {
    await Promise.all(Array.from({length: Math.min(FOLDERS_PREPARED_AT_ONCE, pairs.length)}, worker))
  } finally {
    await moves.settle()
  }
  return Promise.all(done.filter((folder): folder is Promise<FolderResult> => folder !== undefined))
}

/** 0 for a destination folder that exists, else the depth at which the run creates it. */
function readyRank(pair: FolderPair): number {
  return pair.create ? creationDepth(pair.dest) : 0
}

/** Step 0 failed: the destination refused to create the folder; the pair is reported, not synced. */
function notCreated(ctx: EngineContext, pair: FolderPair, refusal: string): FolderResult {
  const result = {...emptyResult(pair), error: `could not create ${pair.dest}: ${refusal}`}
  ctx.emit('folder:start', {source: pair.source, dest: pair.dest})
  ctx.emit('folder:done', result)
  return result
}

/**
 * Steps 5-8 for one pair: queues its copies (waiting while the queue is full) and returns, once they
 * are queued, the folder's result to come: when they, the held messages (after afterMoves), the
 * flag updates and the deletions are done. (Wrapped: an async function would wait for it.)
 */
async function startCopies(ctx: EngineContext, prepared: Prepared, afterMoves?: Promise<void>): Promise<{done: Promise<FolderResult>}> {
  const {pair, result} = prepared
  const finish = () => {
    // Another pair may still use the same folder (two sources merged into one destination): it only
    // loses the listed sizes, which let a large message be read alone.
    ctx.source.forgetFolder?.(pair.source)
    ctx.dest.forgetFolder?.(pair.dest)
    result.durationMs = Date.now() - prepared.started
    const dropped = Object.entries(result.droppedKeywords)
    if (dropped.length > 0) {
      warn(ctx, `${pair.dest}: the destination cannot store ${dropped.map(([k, n]) => `${k} (${n} messages)`).join(', ')}`)
    }
    ctx.emit('folder:done', result)
    return result
  }
  if (result.error || prepared.skipped) return {done: Promise.resolve(finish())}

  const planned = [...prepared.toCopy, ...prepared.held]
  ctx.emit('folder:planned', {
    source: pair.source,
    toCopy: planned.length,
    bytesToCopy: planned.reduce((sum, m) => sum + m.size, 0),
    alreadyPresent: result.alreadyPresent,
  })
  const copies = await queueCopies(ctx, prepared, prepared.toCopy)
  const done = copies.settled.then(async () => {
    try {
      if (afterMoves) {
        await afterMoves
        await (await queueCopies(ctx, prepared, prepared.held)).settled
        prepared.held = []
      }
      await recheckUncertain(ctx, prepared)
      if (ctx.control.stopped) return finish()
      await syncFlags(ctx, prepared)
      await deleteExtraneous(ctx, prepared)
      await moveSources(ctx, prepared, async (metas) => {
        await Promise.allSettled(metas.map((meta) => ctx.queue.add(() => copyOne(ctx, prepared, meta))))
      })
      // A snapshot lets the next run skip the folder: only when nothing was left behind (a message
      // too young for --min-age today is old enough next month).
      const complete = result.failed === 0 && result.notSelected === 0 && !ctx.policy.move
      ctx.state.setSnapshot(prepared.pairRow, complete ? prepared.sourcePeek ?? null : null)
      ctx.state.touchPair(prepared.pairRow)
    } catch (error) {
      recordFolderError(ctx, result, error)
    }
    return finish()
  })
  return {done}
}

/**
 * Queues step 5 for these messages, waiting while the queue is full (never a whole mailbox at
 * once). Resolves once they are queued; `settled` when their copies have.
 */
async function queueCopies(ctx: EngineContext, prepared: Prepared, metas: MessageMeta[]): Promise<{settled: Promise<unknown>}> {
  const tasks: Promise<void>[] = []
  for (const meta of metas) {
    if (ctx.control.stopped) break
    if (ctx.queue.size >= ctx.maxQueued) await ctx.queue.onSizeLessThan(ctx.maxQueued)
    tasks.push(ctx.queue.add(() => copyOne(ctx, prepared, meta)) as Promise<void>)
  }
  return {settled: Promise.allSettled(tasks)}
}
