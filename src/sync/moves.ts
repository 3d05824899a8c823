/**
 * Messages moved on the source, found across folders. A move shows up as a vanished row in one
 * folder and a new message in another. Folders are prepared and copied as a pipeline (engine.ts),
 * so no listing waits for every other folder's, and the two halves of a move may be prepared in
 * either order. So a new message whose size, Message-ID and internal date equal those of a copied
 * row of any folder (looked up in the state's index of such rows) is held back until every folder
 * is prepared; then the held messages are matched against the vanished rows and the matches are
 * moved on the destination. A held message that matches none is copied as any other.
 */
import {sha256} from '../digest.js'
import {CommandRefusedError} from '../errors.js'
import type {MessageRow} from '../state/rows.js'
import type {MessageMeta} from '../stores/store.js'
import {warn, type EngineContext, type Prepared} from './context.js'
import {recordPresent} from './prepare.js'

const key = (size: number, messageId: string | null | undefined, date: string | null) => `${size}\u0000${messageId ?? ''}\u0000${date ?? ''}`
const rowKey = (row: Pick<MessageRow, 'size' | 'messageId' | 'internalDate'>) => key(row.size, row.messageId, row.internalDate)
const metaKey = (meta: MessageMeta) => key(meta.size, meta.messageId, meta.internalDate.toISOString())

/** A row whose copy could be moved: copied, at a known UID, its header hash recorded (the rows of the state's messages_movable). */
const movable = (row: MessageRow) => row.status === 'copied' && row.destUid !== null && row.headerHash !== null

export class MoveFinder {
  readonly #ctx: EngineContext
  /** Some copy could be moved, as the state stood when the first folder with new mail was prepared. */
  #anyMovable?: boolean
  /** Folders with held messages or vanished rows that a held message may match. */
  readonly #folders: Prepared[] = []
  readonly #settled: Promise<void>
  #resolve!: () => void

  constructor(ctx: EngineContext) {
    this.#ctx = ctx
    this.#settled = new Promise((resolve) => (this.#resolve = resolve))
  }

  /**
   * After a folder is prepared: its new messages that may have been moved from elsewhere go from
   * toCopy to held. Returns what the folder's later steps wait for (copying the held messages,
   * deleting its vanished copies), or undefined when nothing of it takes part in move detection.
   */
  take(prepared: Prepared): Promise<void> | undefined {
    const ctx = this.#ctx
    if (!ctx.dest.moveMessage || prepared.skipped || prepared.result.error) return undefined
    // None on a first sync: nothing is held, and nothing is looked up.
    if (prepared.toCopy.length > 0 && (this.#anyMovable ??= ctx.state.anyMovable())) {
      const keys = prepared.toCopy.map((meta) => [meta.size, meta.messageId ?? null, meta.internalDate.toISOString()] as const)
      const maybeMoved = new Set(ctx.state.movableAmong(keys))
      const held = prepared.toCopy.filter((_, index) => maybeMoved.has(index))
      if (held.length > 0) {
        const heldUids = new Set(held.map((meta) => meta.uid))
        prepared.toCopy = prepared.toCopy.filter((meta) => !heldUids.has(meta.uid))
        prepared.held = held
      }
    }
    const vanishing = prepared.vanished.some(movable)
    if (prepared.held.length === 0 && !vanishing) return undefined
    this.#folders.push(prepared)
    // Without --delete-extraneous a folder's vanished rows are not touched by its own later steps.
    return prepared.held.length > 0 || ctx.policy.deleteExtraneous ? this.#settled : undefined
  }

  /** Once every folder is prepared (or the run stopped): moves what fits, releases the waiting folders. */
  async settle(): Promise<void> {
    try {
      if (!this.#ctx.control.stopped && this.#folders.some((folder) => folder.held.length > 0)) await detectMoves(this.#ctx, this.#folders)
    } finally {
      this.#folders.length = 0
      this.#resolve()
    }
  }
}

/**
 * Over the folders that hold messages back or have vanished rows: where size, Message-ID, internal
 * date and the SHA-256 of the header block all agree, and exactly one vanished row fits, the
 * destination copy is moved too: no download, no upload. Anything less certain is left to the
 * normal copy (and deletion) path.
 */
async function detectMoves(ctx: EngineContext, active: Prepared[]): Promise<void> {
  const vanishedByKey = new Map<string, Array<{from: Prepared; row: MessageRow}>>()
  for (const from of active) {
    for (const row of from.vanished) {
      if (!movable(row)) continue
      const k = rowKey(row)
      vanishedByKey.set(k, [...(vanishedByKey.get(k) ?? []), {from, row}])
    }
  }
  if (vanishedByKey.size === 0) return

  for (const to of active) {
    const matches = to.held
      .map((meta) => ({meta, options: vanishedByKey.get(metaKey(meta))}))
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
        ctx.state.deleteMessages(from.pairRow, [row.sourceUid])
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
      ctx.state.deleteMessages(from.pairRow, [row.sourceUid])
      moved.add(meta.uid)
      if (result.uid === undefined) {
        // The copy moved but its new UID is unknown: the next run recognises it by content.
        warn(ctx, `${to.pair.dest}: moved a message from ${from.pair.dest} without learning its new UID`)
        continue
      }
      await recordPresent(ctx, to, meta, result.uid, row.flags, row.origin ?? 'appended', hash)
      to.result.moved++
    }
    to.held = to.held.filter((meta) => !moved.has(meta.uid))
    to.result.alreadyPresent = to.result.sourceMessages - to.toCopy.length - to.held.length - to.result.notSelected
  }
}
