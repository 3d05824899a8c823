import type {AccountsVerdict} from '../errors.js'
import type {StoreStats} from '../stores/store.js'
import type {BudgetReport} from './quota.js'

/**
 * What the engine tells the outside world. The engine emits these and returns a RunResult; it never
 * prints. report/* subscribes (progress bars, log lines) and renders the RunResult (table or JSON).
 */

export interface MessageFailure {
  /** Source folder path. */
  folder: string
  /** Source UID. */
  uid: number
  messageId?: string
  reason: string
}

/** A message the destination refused, stored repaired (--repair); recorded in the state database. */
export interface MessageRepaired {
  /** Source folder path and UID. */
  folder: string
  uid: number
  destFolder: string
  /** Destination UID of the repaired copy, when the server said (UIDPLUS). */
  destUid?: number
  /** The repairs applied, in order. */
  repairs: string[]
  /** The destination's refusal of the original. */
  reason: string
  originalSha256: string
  storedSha256: string
}

/** What a folder's run counts; a run's totals are their sums over its folders. */
export interface FolderCounts {
  /** Messages in the source folder at listing time. */
  sourceMessages: number
  /** Appended by this run. */
  copied: number
  /** Already on the destination (known from the state DB or recognised there). */
  alreadyPresent: number
  /** Of alreadyPresent: recognised on the destination without a state row (Message-ID/size/headers). */
  recognised: number
  /** New messages outside --max-age/--min-age/--max-size, left alone. */
  notSelected: number
  failed: number
  /** Messages whose flags were updated on the destination. */
  flagsUpdated: number
  /** Messages moved here on the destination because they were moved here on the source (no download). */
  moved: number
  /** Destination copies deleted because their source is gone (--delete-extraneous). */
  deleted: number
  /** Source messages deleted after their copy was proven on the destination (--move). */
  sourceDeleted: number
  /** Bytes appended. */
  bytes: number
}

/** Every count zero, in the order the reports list them (also the list of the counts). */
export const NO_COUNTS: Readonly<FolderCounts> = {
  sourceMessages: 0,
  copied: 0,
  alreadyPresent: 0,
  recognised: 0,
  notSelected: 0,
  failed: 0,
  flagsUpdated: 0,
  moved: 0,
  deleted: 0,
  sourceDeleted: 0,
  bytes: 0,
}

export interface FolderResult extends FolderCounts {
  source: string
  dest: string
  /** true when the destination folder was created by this run. */
  created: boolean
  /** The source folder had not changed since the last complete sync (HIGHESTMODSEQ): nothing was listed. */
  unchanged: boolean
  /** Only the messages changed since the last complete sync were listed (CONDSTORE CHANGEDSINCE). */
  changesOnly: boolean
  durationMs: number
  /** Keywords the destination folder cannot store (PERMANENTFLAGS), with how many messages had each. */
  droppedKeywords: Record<string, number>
  /** Set when the whole folder failed (e.g. it could not be opened); its messages were not copied. */
  error?: string
}

export interface RunResult extends AccountsVerdict {
  statePath: string
  startedAt: string
  finishedAt: string
  durationMs: number
  foldersCreated: number
  /** Destination folders subscribed because they are subscribed on the source. */
  foldersSubscribed?: number
  /** Destination folders deleted (--delete-extraneous-folders). */
  foldersDeleted?: string[]
  folders: FolderResult[]
  totals: FolderCounts
  failures: MessageFailure[]
  /** Messages stored repaired by this run (--repair); always set by a sync. */
  repaired?: MessageRepaired[]
  warnings: string[]
  /** What each store reports about its own work: retries, replaced sessions, keywords it could not keep. */
  stores: {source: StoreStats; dest: StoreStats}
  /** Set when the run stopped early (connection lost, interrupted, a budget spent): what happened. */
  error?: string
  /** What to do about `error`, when its kind says (the fatal error's hint). */
  hint?: string
  /** --max-bytes-per-day, --max-messages-per-hour: what was spent in each window, what is left, the ETA. */
  budget?: BudgetReport
  /** Peak resident memory of the process, filled in by the command. */
  peakRssBytes?: number
}

/** Events, in the order they occur for each folder. */
export interface SyncEvents {
  /** After planning: how much work there is overall (messages and bytes still to copy are known per folder later). */
  'run:planned': {folders: number}
  'folder:start': {source: string; dest: string}
  /** After the diff: what this folder will copy. */
  'folder:planned': {source: string; toCopy: number; bytesToCopy: number; alreadyPresent: number}
  'message:copied': {source: string; uid: number; bytes: number}
  'message:failed': MessageFailure
  'message:repaired': MessageRepaired
  'folder:done': FolderResult
  warning: {message: string}
}

export type SyncEventName = keyof SyncEvents

export type SyncListener = <K extends SyncEventName>(name: K, payload: SyncEvents[K]) => void
