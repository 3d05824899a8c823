/**
 * One verify run: list both accounts, map the folders as sync does (plan/plan.ts), and compare every
 * folder pair through the Store contract. Reads only: the stores are opened read-only by the caller
 * (EXAMINE, BODY.PEEK). The state database is used only for the copies --repair stored (read-only):
 * they differ from their source by design and are checked against what was recorded.
 *
 * Folder pairs are compared several at once. Per folder and side one pass reads each message's
 * UID, FLAGS, INTERNALDATE, RFC822.SIZE and header block (hashed as it arrives and not kept, its
 * Message-ID read from it; a store without that pass lists, then hashes header blocks 500 at a time);
 * bodies only with --deep, many of a folder asked for at once and within one byte budget for both
 * sides together (sync/whole-messages.ts; a bigger message is hashed alone), so memory stays bounded
 * whatever the folder holds.
 */
import type {FolderMappingConfig} from '../config/mapping.js'
import {sumCounts} from '../counts.js'
import {sha256} from '../digest.js'
import {ExitCode, MailferryError, describeError, verdict, type AccountsVerdict} from '../errors.js'
import {mapLimit} from '../map-limit.js'
import type {FolderPair} from '../plan/plan.js'
import {parseMessageId} from '../stores/message-id.js'
import {FOLDER_READS_PER_CONNECTION, headerHashes, type MessageMeta, type Store} from '../stores/store.js'
import type {ByteBudget} from '../sync/budget.js'
import {deepReadBudget, eachWholeMessage} from '../sync/whole-messages.js'
import {planRun} from '../sync/run.js'
import {
  compareFolder,
  folderEqual,
  missingFolder,
  NO_VERIFY_COUNTS,
  type FolderComparison,
  type FolderVerdict,
  type MessageDifference,
  type RepairedRecord,
  type VerifyCounts,
  type VerifyMessage,
} from './compare.js'

export interface VerifyContext {
  source: Store
  dest: Store
  /** Safe account descriptions for the report (no secrets). */
  sourceName: string
  destName: string
  /** The state database's record of copies stored repaired (--repair), when there is one. */
  repaired?: (sourcePath: string, destPath: string) => RepairedRecord[]
}

export interface VerifyOptions {
  /** Hash every whole message on both sides. */
  deep: boolean
  /** The stores' connections per side: folder pairs compared at once are a multiple of it. */
  concurrency: number
  /** The folder mapping sync uses (default: sync's default). */
  mapping?: FolderMappingConfig
  signal?: AbortSignal
  /** Called when a folder pair starts and when it is done (progress lines). */
  onFolder?: (event: {phase: 'start' | 'done'; source: string; dest: string; verdict?: FolderVerdict}) => void
}

export interface VerifyTotals extends VerifyCounts {
  folders: number
  foldersMissing: number
  /** Copies stored repaired (--repair) and as recorded in the state database. */
  repaired: number
  /** Bytes downloaded and hashed with --deep (both sides). */
  bytesHashed: number
}

/** ok: both sides are equal and every folder could be compared. */
export interface VerifyResult extends AccountsVerdict {
  deep: boolean
  startedAt: string
  finishedAt: string
  durationMs: number
  folders: FolderVerdict[]
  totals: VerifyTotals
  /** Every difference, folder by folder. */
  differences: MessageDifference[]
  /** Destination folders no source folder maps to: listed, not compared, not a difference. */
  unmappedDestFolders: string[]
  /** Source folders the mapping leaves out (--exclude, --include...): not compared. */
  skippedSourceFolders: string[]
  warnings: string[]
  /** Peak resident memory of the process, filled in by the command. */
  peakRssBytes?: number
}

export async function runVerify(ctx: VerifyContext, options: VerifyOptions): Promise<VerifyResult> {
  const startedAt = new Date()
  // The same mapping as sync (a conflict is a ConfigError, exit 2); the second LIST finds what it leaves out.
  const [plan, destFolders] = await Promise.all([planRun(ctx.source, ctx.dest, options.mapping), ctx.dest.listFolders()])
  const mapped = new Set(plan.pairs.map((pair) => keyOf(pair.dest)))
  const unmappedDestFolders = destFolders
    .filter((folder) => !folder.noSelect && !mapped.has(keyOf(folder.path)))
    .map((folder) => folder.path)
    .sort()

  const hashed = {bytes: 0, budget: deepReadBudget()}
  // Folders side by side: the stores bound their connections and keep several folder reads in flight
  // on each, so a round trip is not paid folder after folder.
  const compared = await mapLimit(plan.pairs, options.concurrency * FOLDER_READS_PER_CONNECTION, async (pair): Promise<FolderComparison | undefined> => {
    if (options.signal?.aborted) return undefined
    options.onFolder?.({phase: 'start', source: pair.source, dest: pair.dest})
    let comparison: FolderComparison
    try {
      comparison = await verifyFolder(ctx, pair, options, hashed)
    } catch (error) {
      const known = error instanceof MailferryError ? error : new MailferryError(describeError(error), {cause: error})
      if (known.scope !== 'folder') throw known
      comparison = {verdict: {...emptyVerdict(pair), error: known.message}, differences: []}
    } finally {
      ctx.source.forgetFolder?.(pair.source)
      ctx.dest.forgetFolder?.(pair.dest)
    }
    options.onFolder?.({phase: 'done', source: pair.source, dest: pair.dest, verdict: comparison.verdict})
    return comparison
  })
  const done = compared.filter((comparison): comparison is FolderComparison => comparison !== undefined)
  const folders: FolderVerdict[] = done.map((comparison) => comparison.verdict)
  const differences: MessageDifference[] = done.flatMap((comparison) => comparison.differences)

  const totals: VerifyTotals = {
    folders: folders.length,
    foldersMissing: folders.filter((v) => v.destMissing).length,
    ...sumCounts(NO_VERIFY_COUNTS, folders),
    repaired: folders.reduce((total, v) => total + (v.repaired ?? 0), 0),
    bytesHashed: hashed.bytes,
  }
  const finishedAt = new Date()
  const exitCode = verifyExitCode(folders, options.signal?.aborted ?? false)
  return {
    ...verdict(exitCode, 'verify'),
    source: ctx.sourceName,
    dest: ctx.destName,
    deep: options.deep,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    folders,
    totals,
    differences,
    unmappedDestFolders,
    // \Noselect parents hold no messages: nothing to compare, nothing to mention.
    skippedSourceFolders: plan.skipped.filter((folder) => folder.rule !== 'noselect').map((folder) => folder.source),
    warnings: [...plan.warnings],
  }
}

/** 130 interrupted, 5 a folder could not be compared, 1 a difference, 0 equal. */
export function verifyExitCode(folders: FolderVerdict[], interrupted: boolean): number {
  if (interrupted) return ExitCode.interrupted
  if (folders.some((v) => v.error)) return ExitCode.folder
  if (folders.some((v) => !folderEqual(v))) return ExitCode.partial
  return ExitCode.ok
}

const keyOf = (path: string) => (path.toUpperCase() === 'INBOX' ? 'INBOX' : path)

function emptyVerdict(pair: FolderPair): FolderVerdict {
  return {source: pair.source, dest: pair.dest, destMissing: false, ...NO_VERIFY_COUNTS}
}

interface Hashing {
  /** Bytes downloaded and hashed so far. */
  bytes: number
  budget: ByteBudget
}

async function verifyFolder(ctx: VerifyContext, pair: FolderPair, options: VerifyOptions, hashed: Hashing): Promise<FolderComparison> {
  if (pair.create) {
    const status = await ctx.source.status(pair.source)
    return missingFolder(pair, status.messages)
  }
  const [source, dest] = await Promise.all([
    loadSide(ctx.source, pair.source, options, hashed),
    loadSide(ctx.dest, pair.dest, options, hashed),
  ])
  return compareFolder(pair, source, dest, ctx.repaired?.(pair.source, pair.dest))
}

/** Metadata, header hashes and (with --deep) message hashes of one folder. */
async function loadSide(store: Store, path: string, options: VerifyOptions, hashed: Hashing): Promise<VerifyMessage[]> {
  const messages = await listSide(store, path)
  if (options.deep) {
    const byUid = new Map(messages.map((m) => [m.uid, m]))
    await eachWholeMessage(store, path, messages, hashed.budget, options.signal, (uid, raw) => {
      byUid.get(uid)!.bodyHash = sha256(raw)
      hashed.bytes += raw.length
    })
  }
  return messages
}

/**
 * Each message's metadata and header hash: in one pass where the store can (scanHeaders, its
 * Message-ID read from the block there), else a listing, then the header blocks 500 at a time.
 * Either way a header block is hashed as it comes and not kept.
 */
async function listSide(store: Store, path: string): Promise<VerifyMessage[]> {
  const asVerified = (m: Omit<MessageMeta, 'messageId'>) => ({uid: m.uid, size: m.size, flags: m.flags, internalDate: m.internalDate})
  if (store.scanHeaders) {
    const read = new Map<number, {headerHash: string; messageId?: string}>()
    const {messages} = await store.scanHeaders(path, (uid, header) => read.set(uid, {headerHash: sha256(header), messageId: parseMessageId(header)}))
    return messages.map((m) => ({...asVerified(m), ...read.get(m.uid)}))
  }
  const messages: VerifyMessage[] = (await store.listMeta(path)).map((m) => ({...asVerified(m), messageId: m.messageId}))
  const byUid = new Map(messages.map((m) => [m.uid, m]))
  for (const [uid, hash] of await headerHashes(store, path, messages.map((m) => m.uid))) byUid.get(uid)!.headerHash = hash
  return messages
}
