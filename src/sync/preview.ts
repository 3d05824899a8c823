/**
 * `mailferry plan` and `sync --dry-run`: the folder mapping with message counts, read-only on both
 * sides and in the state database. Per copied folder: STATUS (MESSAGES, UIDVALIDITY) on the source,
 * then, when it holds messages, one FETCH of UID and RFC822.SIZE (EXAMINE: nothing changes, not even
 * \Seen). The destination is only listed.
 */
import type {FolderMappingConfig} from '../config/mapping.js'
import {ExitCode, MailferryError, describeError, exitMeaning, type AccountsVerdict} from '../errors.js'
import {mapLimit} from '../map-limit.js'
import type {Namespace} from '../plan/names.js'
import type {StateReader} from '../state/reader.js'
import {FOLDER_READS_PER_CONNECTION, statusAndListing, type MessageSize, type Store} from '../stores/store.js'
import {listAndPlan} from '../plan/list.js'

export interface PreviewFolder {
  source: string
  /** null when the folder is not copied (see rule and detail). */
  dest: string | null
  rule: string
  detail: string
  /** The destination folder will be created. */
  create: boolean
  /** The destination folder will be subscribed. */
  subscribe: boolean
  /** Messages in the source folder (null for a folder that is not copied, or on error). */
  messages: number | null
  /** Their total RFC822.SIZE in bytes. */
  size: number | null
  /** Of those, copied already according to the state database. */
  copied: number | null
  /** Still to copy (or to be recognised on the destination) and their size. */
  toCopy: number | null
  toCopySize: number | null
  /** The folder could not be counted. */
  error?: string
}

export interface PlanPreview extends AccountsVerdict {
  /** true for `sync --dry-run`. */
  dryRun: boolean
  sourceNamespace: Namespace
  destNamespace: Namespace
  statePath: string
  /** The state database exists (and belongs to these accounts): "copied" counts come from it. */
  stateFound: boolean
  folders: PreviewFolder[]
  /** Destination folders to create, in order. */
  create: string[]
  subscribe: string[]
  warnings: string[]
  /** Mapping conflicts: a sync would stop before writing anything. */
  conflicts: string[]
  totals: {folders: number; messages: number; size: number; copied: number; toCopy: number; toCopySize: number}
}

export interface PreviewContext {
  source: Store
  dest: Store
  sourceName: string
  destName: string
  statePath: string
  /** The state database opened read-only, or undefined when there is none. */
  state?: Pick<StateReader, 'path' | 'accounts' | 'copied'>
}

export interface PreviewOptions {
  mapping?: FolderMappingConfig
  /** Folders counted at once. */
  concurrency: number
  dryRun?: boolean
}

export async function previewPlan(ctx: PreviewContext, options: PreviewOptions): Promise<PlanPreview> {
  const plan = await listAndPlan(ctx.source, ctx.dest, options.mapping)
  const warnings = [...plan.warnings]
  let state = ctx.state
  if (state?.accounts && (state.accounts.source !== ctx.sourceName || state.accounts.dest !== ctx.destName)) {
    warnings.push(`state database ${state.path} belongs to ${state.accounts.source} -> ${state.accounts.dest}; its counts are not used`)
    state = undefined
  }

  const counted = await mapLimit(plan.pairs, options.concurrency * FOLDER_READS_PER_CONNECTION, async (pair): Promise<PreviewFolder> => {
    const row: PreviewFolder = {...pair, messages: null, size: null, copied: null, toCopy: null, toCopySize: null}
    try {
      const {uidValidity, messages, sizes} = await scanSizes(ctx.source, pair.source)
      const known = state?.copied(pair.source, pair.dest)
      let copiedUids = known?.uids ?? new Set<number>()
      if (known && known.sourceUidValidity !== null && known.sourceUidValidity !== uidValidity) {
        warnings.push(`${pair.source}: UIDVALIDITY changed since the last run; its messages will be matched on the destination by content`)
        copiedUids = new Set()
      }
      const left = sizes.filter((message) => !copiedUids.has(message.uid))
      row.messages = sizes.length > 0 ? sizes.length : messages
      row.size = sum(sizes.map((message) => message.size))
      row.copied = sizes.length - left.length
      row.toCopy = left.length
      row.toCopySize = sum(left.map((message) => message.size))
    } catch (error) {
      if (error instanceof MailferryError && error.scope !== 'folder') throw error
      row.error = describeError(error)
      warnings.push(`${pair.source}: could not be counted: ${row.error}`)
    }
    return row
  })

  const skipped: PreviewFolder[] = plan.skipped.map((folder) => ({
    ...folder,
    dest: null,
    create: false,
    subscribe: false,
    messages: null,
    size: null,
    copied: null,
    toCopy: null,
    toCopySize: null,
  }))
  const folders = [...counted, ...skipped].sort((a, b) => a.source.localeCompare(b.source))
  const total = (pick: (row: PreviewFolder) => number | null) => sum(counted.map((row) => pick(row) ?? 0))
  const ok = plan.conflicts.length === 0
  const exitCode = ok ? ExitCode.ok : ExitCode.config
  return {
    ok,
    exitCode,
    exitMeaning: exitMeaning(exitCode, 'plan'),
    dryRun: options.dryRun ?? false,
    source: ctx.sourceName,
    dest: ctx.destName,
    sourceNamespace: plan.sourceNamespace,
    destNamespace: plan.destNamespace,
    statePath: ctx.statePath,
    stateFound: state !== undefined,
    folders,
    create: plan.create,
    subscribe: plan.subscribe,
    warnings,
    conflicts: plan.conflicts,
    totals: {
      folders: counted.length,
      messages: total((row) => row.messages),
      size: total((row) => row.size),
      copied: total((row) => row.copied),
      toCopy: total((row) => row.toCopy),
      toCopySize: total((row) => row.toCopySize),
    },
  }
}

/** The folder's UIDVALIDITY, its message count and the UID and size of each message. */
async function scanSizes(store: Store, path: string): Promise<{uidValidity: number; messages: number; sizes: MessageSize[]}> {
  if (store.scanSizes) {
    const {status, sizes} = await store.scanSizes(path)
    return {uidValidity: status.uidValidity, messages: status.messages, sizes}
  }
  const {status, listed} = await statusAndListing(store, path)
  return {uidValidity: status.uidValidity, messages: status.messages, sizes: listed.map(({uid, size}) => ({uid, size}))}
}

const sum = (values: number[]): number => values.reduce((total, value) => total + value, 0)
