/**
 * A read-only pass over whole messages (verify --deep, check --deep): many of a folder asked for at
 * once, so that an IMAP store reads them in batches (imap/fetch-batcher.ts), and no more bytes held at
 * once than the pass's budget allows, whatever the folders hold.
 */
import {mapLimit} from '../map-limit.js'
import type {Store} from '../stores/store.js'
import {ByteBudget} from './budget.js'

/** Message bytes held at once by one pass (verify --deep: both sides together). */
const DEEP_READ_BUDGET_BYTES = 16 * 1024 * 1024

/** Whole messages of one folder asked for at once. */
const DEEP_READS_PER_FOLDER = 64

/** A budget for one pass, shared by all the folders it reads. */
export function deepReadBudget(): ByteBudget {
  return new ByteBudget(DEEP_READ_BUDGET_BYTES)
}

/**
 * Calls fn with each of `messages` read whole (Store.fetchMessage, with `listedSize` where given),
 * each within `budget` from before its read until fn returns; a message gone meanwhile is skipped,
 * and no read starts once `signal` is aborted.
 */
export async function eachWholeMessage(
  store: Pick<Store, 'fetchMessage'>,
  path: string,
  messages: Array<{uid: number; size: number; listedSize?: number}>,
  budget: ByteBudget,
  signal: AbortSignal | undefined,
  fn: (uid: number, raw: Buffer) => void,
): Promise<void> {
  await mapLimit(messages, DEEP_READS_PER_FOLDER, async ({uid, size, listedSize}) => {
    if (signal?.aborted) return
    const release = await budget.acquire(size)
    try {
      const message = await store.fetchMessage(path, uid, {listedSize})
      if (message) fn(uid, message.raw)
    } finally {
      release()
    }
  })
}
