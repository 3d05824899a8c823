/**
 * The rows of the state database as the engine sees them (state/repository.ts reads and writes
 * them; the tables are in migrations.ts).
 */

/**
 * pending: written just before its APPEND (it may or may not have landed); copied: on the destination
 * at destUid; failed: refused (retried next run); moving: the copy was proven and the source's
 * expunge (--move) may have run; moved: the source was expunged by us, a tombstone whose copy is
 * never extraneous.
 */
export type MessageStatus = 'pending' | 'copied' | 'failed' | 'moving' | 'moved'
export type MessageOrigin = 'appended' | 'recognised'

/**
 * The destination UIDs a pair's rows hold (copied, moving or moved, at a known UID): as in a sync,
 * those copies are nobody else's candidates. The one query for it (the repository and the reader).
 */
export const CLAIMED_DEST_UIDS_SQL = "SELECT dest_uid FROM messages WHERE pair_id = ? AND status NOT IN ('pending', 'failed') AND dest_uid IS NOT NULL"

export interface PairRow {
  id: number
  sourcePath: string
  destPath: string
  sourceUidValidity: number | null
  destUidValidity: number | null
  /** The source folder's STATUS after the last complete sync (all null when unknown). */
  sourceUidNext: number | null
  sourceMessages: number | null
  /** HIGHESTMODSEQ as a decimal string (64-bit). */
  sourceModseq: string | null
  /** mailferry created the destination folder. */
  destCreated: boolean
}

/** STATUS values that identify an unchanged folder. */
export interface FolderSnapshot {
  uidValidity: number
  uidNext: number
  messages: number
  highestModseq?: bigint
}

export interface MessageRow {
  sourceUid: number
  destUid: number | null
  status: MessageStatus
  origin: MessageOrigin | null
  messageId: string | null
  size: number
  internalDate: string | null
  headerHash: string | null
  /**
   * SHA-256 of the whole stored message, recorded for repaired copies (their stored form); null for
   * a plain copy (rows written before 2026-12-05 have the source message's).
   */
  fingerprint: string | null
  /** Source flags as last propagated to the destination, sorted. */
  flags: string[]
  error: string | null
}

export interface RunTotals {
  copied: number
  present: number
  failed: number
  bytes: number
}

/** A message stored repaired (--repair): what was refused, what was stored instead, and why. */
export interface RepairRow {
  sourceUid: number
  originalSha256: string
  storedSha256: string
  storedSize: number
  /** The repairs applied, in order (check/repair-kinds.ts names). */
  repairs: string[]
  /** The destination's refusal of the original. */
  reason: string
  /** false: the repaired APPEND was sent, its outcome unknown. */
  stored: boolean
  destUid: number | null
}

/** What a row looks like before it is written; updated_at and run_id are filled in here. */
export type NewMessageRow = Omit<MessageRow, 'error'> & {error?: string | null}
