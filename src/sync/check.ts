/**
 * `mailferry check`: what a sync with the same settings would run into on the destination, found
 * without writing anything. Folders are planned exactly as sync plans them (listAndPlan); per folder
 * the messages the run would copy (its selection, minus what the state database says is copied) are
 * measured against the destination's APPENDLIMIT, PERMANENTFLAGS and quota (GETQUOTAROOT), and their
 * header blocks (BODY.PEEK[HEADER]; whole messages with --deep) are inspected for what strict servers
 * refuse (check/inspect.ts). Folder names go through known server rules (check/folder-names.ts).
 * Folders are read several at once, each in one pass where the store can (docs/design.md, "How check
 * reads"); the destination is asked only what the folders' messages need (PERMANENTFLAGS where one
 * to copy has a flag, the quota root where there is something to copy).
 */
import type {FolderMappingConfig} from '../config/mapping.js'
import {sizeRefusal} from '../check/admission.js'
import {refusedFolderName} from '../check/folder-names.js'
import type {Problem} from '../check/inspect.js'
import {inspectorFor, type FlaggedMessage, type Inspector} from '../check/inspector.js'
import {serverNote} from '../check/servers.js'
import {ExitCode, MailferryError, describeError, verdict, type AccountsVerdict} from '../errors.js'
import {mapLimit} from '../map-limit.js'
import type {CopiedInFolder, StateReader} from '../state/reader.js'
import {eachHeader, FOLDER_READS_PER_CONNECTION, statusAndListing, type MessageMeta, type QuotaInfo, type ScannedMeta, type Store} from '../stores/store.js'
import type {ByteBudget} from './budget.js'
import {filterFlags} from './flags.js'
import {listAndPlan} from '../plan/list.js'
import {parseMessageId} from '../stores/message-id.js'
import {recognise} from './recognise.js'
import {isSelected, type MessageSelection} from './select.js'
import {deepReadBudget, eachWholeMessage} from './whole-messages.js'

export interface CheckFolder {
  source: string
  dest: string
  /** The destination folder does not exist yet. */
  create: boolean
  /** Why the destination would refuse to create it (known rules); undefined when nothing says so. */
  refusedName?: string
  /** Messages the run would copy, and their bytes. */
  toCopy: number
  toCopySize: number
  /** Messages a sync would find already on the destination by content and record, not copy (not in toCopy). */
  alreadyThere: number
  /** Of those, bigger than the destination's APPENDLIMIT (UIDs). */
  overLimit: number[]
  /** Messages left out by --max-size (not copied, by choice; not a problem). */
  overMaxSize: number
  /** Keywords and flags of messages to copy that the destination folder cannot keep. */
  droppedFlags: string[]
  /** Messages the destination refuses, alters, or may refuse. */
  flagged: FlaggedMessage[]
  error?: string
}

export interface QuotaCheck {
  root: string
  /** Destination folders under this root. */
  folders: string[]
  storage?: {usage: number; limit: number; toCopy: number; fits: boolean}
  messages?: {usage: number; limit: number; toCopy: number; fits: boolean}
}

export interface CheckResult extends AccountsVerdict {
  /** Whole messages were inspected, not only their header blocks. */
  deep: boolean
  destServer?: string
  appendLimit?: number
  /** The destination has no quota, or does not say (no QUOTA capability). */
  quotaKnown: boolean
  folders: CheckFolder[]
  quota: QuotaCheck[]
  /** Mapping conflicts: a sync would stop before writing anything. */
  conflicts: string[]
  warnings: string[]
  /** Problems found in flagged messages, by kind (a message counts once per kind). */
  problems: Partial<Record<Problem, number>>
  /** What the destination is known to do with those problems (check/servers.ts). */
  notes: string[]
  totals: {
    folders: number
    toCopy: number
    toCopySize: number
    alreadyThere: number
    overLimit: number
    overMaxSize: number
    refusedNames: number
    droppedFlags: number
    /** Messages the destination refuses, or may refuse (a server without known rules). */
    likelyRefused: number
    /** Messages the destination stores with other bytes. */
    altered: number
  }
  durationMs: number
  peakRssBytes?: number
}

export interface CheckContext {
  source: Store
  dest: Store
  sourceName: string
  destName: string
  /** The state database read-only, when there is one: copied messages are not checked again. */
  state?: Pick<StateReader, 'accounts' | 'copied' | 'path'>
}

export interface CheckOptions {
  mapping?: FolderMappingConfig
  selection: MessageSelection
  deep: boolean
  concurrency: number
  signal?: AbortSignal
  /** The destination's configured limits (maxMessageSize, maxLineLength): a message over one is refused before it is sent. */
  limits?: {maxMessageSize?: number; maxLineLength?: number}
}

export async function runCheck(ctx: CheckContext, options: CheckOptions): Promise<CheckResult> {
  const started = Date.now()
  const plan = await listAndPlan(ctx.source, ctx.dest, options.mapping)
  const warnings = [...plan.warnings]
  let state = ctx.state
  if (state?.accounts && (state.accounts.source !== ctx.sourceName || state.accounts.dest !== ctx.destName)) {
    warnings.push(`state database ${state.path} belongs to ${state.accounts.source} -> ${state.accounts.dest}; every message is checked`)
    state = undefined
  }
  const caps = ctx.dest.capabilities()
  // Asked once, first, beside the folders: INBOX's PERMANENTFLAGS also stand for the folders this
  // run creates (the best guess there is), which fall under INBOX's quota root too.
  const underInbox = (pair: {create: boolean; dest: string}) => pair.create || pair.dest.toUpperCase() === 'INBOX'
  const inboxFlags = plan.pairs.some(underInbox) ? permanentFlags(ctx.dest, 'INBOX') : Promise.resolve(undefined)
  inboxFlags.catch(() => undefined)
  // After the flags, on the same session: folders wait for those, and a second session takes a login.
  const inboxQuota = inboxFlags.then(() => quotaOf(ctx.dest, 'INBOX'), () => quotaOf(ctx.dest, 'INBOX'))
  const quotas = new Map<CheckFolder, Promise<QuotaInfo | undefined>>()
  const deepBudget = deepReadBudget()
  const now = new Date()

  const folders = await mapLimit(plan.pairs, options.concurrency * FOLDER_READS_PER_CONNECTION, async (pair): Promise<CheckFolder> => {
    const row: CheckFolder = {
      source: pair.source,
      dest: pair.dest,
      create: pair.create,
      refusedName: pair.create ? refusedFolderName(pair.dest, caps.serverName) : undefined,
      toCopy: 0,
      toCopySize: 0,
      alreadyThere: 0,
      overLimit: [],
      overMaxSize: 0,
      droppedFlags: [],
      flagged: [],
    }
    if (options.signal?.aborted) return row
    try {
      const inspector = inspectorFor(pair.source, options, caps.serverName)
      const known = state?.copied(pair.source, pair.dest)
      // Message-IDs only where a sync would look for the messages on the destination (an existing folder).
      const {listed, copied, found} = await readFolder(ctx.source, known, pair, {deep: options.deep, messageIds: !pair.create}, inspector)
      let toCopy: MessageMeta[] = []
      for (const meta of listed) {
        if (copied.has(meta.uid)) continue
        if (!isSelected(options.selection, meta, now)) {
          if (options.selection.maxSize !== undefined && meta.size > options.selection.maxSize) row.overMaxSize++
          continue
        }
        toCopy.push(meta)
      }
      if (!pair.create && toCopy.length > 0) {
        const present = await alreadyThere(ctx, pair, toCopy, known?.claimed ?? new Set())
        row.alreadyThere = present.size
        toCopy = toCopy.filter((meta) => !present.has(meta.uid))
      }
      row.toCopy = toCopy.length
      row.toCopySize = toCopy.reduce((total, meta) => total + meta.size, 0)
      const limits = {appendLimit: caps.appendLimit, maxMessageSize: options.limits?.maxMessageSize}
      row.overLimit = toCopy.filter((meta) => sizeRefusal(meta.size, limits) !== undefined).map((meta) => meta.uid)
      // The destination folder's PERMANENTFLAGS (a SELECT) only where a message to copy has a flag.
      const flagLists = toCopy.map((meta) => meta.flags.filter((f) => f.toLowerCase() !== '\\recent')).filter((flags) => flags.length > 0)
      const destFlags = flagLists.length === 0 ? undefined : await (underInbox(pair) ? inboxFlags : permanentFlags(ctx.dest, pair.dest))
      const dropped = new Set<string>()
      for (const flags of flagLists) for (const flag of filterFlags(flags, destFlags).dropped) dropped.add(flag)
      row.droppedFlags = [...dropped].sort()
      // Only a folder with messages to copy adds to its quota root: the totals wait for it, the folder does not.
      if (toCopy.length > 0) quotas.set(row, underInbox(pair) ? inboxQuota : quotaOf(ctx.dest, pair.dest))
      row.flagged = found ? toCopy.flatMap((meta) => found.get(meta.uid) ?? []) : await inspectFolder(ctx.source, pair.source, toCopy, options, inspector, deepBudget)
    } catch (error) {
      if (error instanceof MailferryError && error.scope !== 'folder' && error.scope !== 'message') throw error
      row.error = describeError(error)
      warnings.push(`${pair.source}: could not be checked: ${row.error}`)
    } finally {
      ctx.source.forgetFolder?.(pair.source)
    }
    return row
  })

  const quota = quotaRoots(folders, new Map(await Promise.all([...quotas].map(async ([row, info]) => [row, await info] as const))), await inboxQuota)
  const problems: Partial<Record<Problem, number>> = {}
  for (const folder of folders) for (const message of folder.flagged) for (const f of message.findings) problems[f.problem] = (problems[f.problem] ?? 0) + 1
  const notes = (Object.keys(problems) as Problem[]).map((problem) => serverNote(caps.serverName, problem)).filter((note): note is string => note !== undefined)
  const flagged = folders.flatMap((f) => f.flagged)
  const sum = (pick: (f: CheckFolder) => number) => folders.reduce((total, f) => total + pick(f), 0)
  const totals = {
    folders: folders.length,
    toCopy: sum((f) => f.toCopy),
    toCopySize: sum((f) => f.toCopySize),
    alreadyThere: sum((f) => f.alreadyThere),
    overLimit: sum((f) => f.overLimit.length),
    overMaxSize: sum((f) => f.overMaxSize),
    refusedNames: sum((f) => (f.refusedName ? 1 : 0)),
    droppedFlags: new Set(folders.flatMap((f) => f.droppedFlags)).size,
    likelyRefused: flagged.filter((m) => m.verdict !== 'altered').length,
    altered: flagged.filter((m) => m.verdict === 'altered').length,
  }
  const blocked =
    plan.conflicts.length > 0 ||
    totals.overLimit + totals.refusedNames + totals.droppedFlags + flagged.length > 0 ||
    quota.some((q) => q.storage?.fits === false || q.messages?.fits === false) ||
    folders.some((f) => f.error)
  const exitCode = options.signal?.aborted ? ExitCode.interrupted : blocked ? ExitCode.partial : ExitCode.ok
  return {
    ...verdict(exitCode, 'check'),
    source: ctx.sourceName,
    dest: ctx.destName,
    deep: options.deep,
    destServer: caps.serverName,
    appendLimit: caps.appendLimit,
    quotaKnown: quota.length > 0,
    folders,
    quota,
    conflicts: plan.conflicts,
    warnings,
    problems,
    notes,
    totals,
    durationMs: Date.now() - started,
  }
}

/**
 * The source folder's messages and the UIDs the state says are copied. Where the store can, read in
 * one pass with their header blocks (scanHeaders), leaving out those copied; each block is inspected
 * as it comes and not kept (`found`: the messages the destination does not simply accept), its
 * Message-ID read only when asked for.
 */
async function readFolder(
  source: Store,
  known: CopiedInFolder | undefined,
  pair: {source: string; dest: string},
  want: {deep: boolean; messageIds: boolean},
  inspector: Inspector,
): Promise<{listed: MessageMeta[]; copied: ReadonlySet<number>; found?: Map<number, FlaggedMessage>}> {
  if (!want.deep && source.scanHeaders) {
    const skip = known?.uids.size ? {uidValidity: known.sourceUidValidity, uids: known.uids} : undefined
    const found = new Map<number, FlaggedMessage>()
    const messageIds = new Map<number, string | undefined>()
    const onHeader = (uid: number, header: Buffer) => {
      if (want.messageIds) messageIds.set(uid, parseMessageId(header))
      const flagged = inspector.header(uid, header)
      if (flagged) found.set(uid, flagged)
      else found.delete(uid)
    }
    const {status, messages} = await source.scanHeaders(pair.source, onHeader, skip)
    const listed = messages.map((meta): MessageMeta => ({...meta, messageId: messageIds.get(meta.uid)}))
    return {listed, copied: copiedUids(known, status), found}
  }
  const {status, listed} = await statusAndListing(source, pair.source)
  return {listed, copied: copiedUids(known, status)}
}

/**
 * Messages to copy that a sync would find on the destination by content (sync/recognise.ts: size and
 * Message-ID, then header blocks, then whole messages, each only where the one before left a doubt)
 * and record instead of copying: a destination folder that already holds them (another tool's copy, a
 * lost state database). Destination messages the state's rows hold are nobody's candidates, as in a
 * sync. Only read: the listing, and BODY.PEEK of what collides.
 */
async function alreadyThere(ctx: CheckContext, pair: {source: string; dest: string}, candidates: MessageMeta[], claimed: ReadonlySet<number>): Promise<Set<number>> {
  const unclaimed = (await ctx.dest.listMeta(pair.dest)).filter((meta) => !claimed.has(meta.uid))
  if (unclaimed.length === 0) return new Set()
  const found = await recognise({source: ctx.source, dest: ctx.dest, sourcePath: pair.source, destPath: pair.dest, candidates, unclaimed})
  return new Set(found.keys())
}

/** Source UIDs already copied to this pair according to the state (none when UIDVALIDITY changed). */
function copiedUids(known: CopiedInFolder | undefined, status: {uidValidity: number}): ReadonlySet<number> {
  if (!known) return new Set()
  if (known.sourceUidValidity !== null && known.sourceUidValidity !== status.uidValidity) return new Set()
  return known.uids
}

async function permanentFlags(dest: Store, path: string): Promise<string[] | undefined> {
  try {
    return (await dest.status(path)).permanentFlags
  } catch (error) {
    if (error instanceof MailferryError && error.scope !== 'folder') throw error
    return undefined
  }
}

/**
 * The messages to copy read and inspected where the folder's read did not: their header blocks, 500
 * at a time; with --deep whole messages, within `budget` bytes at once.
 */
async function inspectFolder(
  source: Store,
  path: string,
  messages: ScannedMeta[],
  options: CheckOptions,
  inspector: Inspector,
  budget: ByteBudget,
): Promise<FlaggedMessage[]> {
  const found = new Map<number, FlaggedMessage>()
  const keep = (flagged: FlaggedMessage | undefined) => flagged && found.set(flagged.uid, flagged)
  if (!options.deep) {
    await eachHeader(source, path, messages.map((meta) => meta.uid), (uid, block) => keep(inspector.header(uid, block)))
  } else {
    const withLimits = messages.map((meta) => ({uid: meta.uid, size: meta.size, listedSize: meta.size}))
    await eachWholeMessage(source, path, withLimits, budget, options.signal, (uid, raw) => keep(inspector.whole(uid, raw)))
  }
  return messages.flatMap((meta) => found.get(meta.uid) ?? [])
}

/** The quota root of a destination folder and its figures; undefined when the server has no quota or does not say. */
async function quotaOf(dest: Store, path: string): Promise<QuotaInfo | undefined> {
  return dest.quota?.(path).catch(() => undefined)
}

/** Bytes and messages to copy per quota root (`quotas`: each folder's, INBOX's for one to create), against its limits. */
function quotaRoots(folders: CheckFolder[], quotas: Map<CheckFolder, QuotaInfo | undefined>, inbox: QuotaInfo | undefined): QuotaCheck[] {
  const roots = new Map<string, {info: QuotaInfo; folders: string[]; bytes: number; messages: number}>()
  for (const folder of folders) {
    const info = quotas.get(folder)
    if (!info) continue
    const entry = roots.get(info.root) ?? {info, folders: [], bytes: 0, messages: 0}
    entry.folders.push(folder.dest)
    entry.bytes += folder.toCopySize
    entry.messages += folder.toCopy
    roots.set(info.root, entry)
  }
  if (inbox && !roots.has(inbox.root)) roots.set(inbox.root, {info: inbox, folders: [], bytes: 0, messages: 0})
  return [...roots.values()].map(({info, folders: names, bytes, messages}) => ({
    root: info.root,
    folders: names,
    storage: info.storage && {...info.storage, toCopy: bytes, fits: info.storage.usage + bytes <= info.storage.limit},
    messages: info.messages && {...info.messages, toCopy: messages, fits: info.messages.usage + messages <= info.messages.limit},
  }))
}
