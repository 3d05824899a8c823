/**
 * Typed access to the state database for the engine: runs, folder pairs and message rows (their types: rows.ts).
 * Never stores credentials: accounts are recorded as user@host:port only.
 */
import {StateError} from '../errors.js'
import {flagListsByText, sharing} from '../sharing.js'
import type {SqliteDb} from './db.js'
import {StateWriter} from './writer.js'
import {CLAIMED_DEST_UIDS_SQL, type FolderSnapshot, type MessageOrigin, type MessageRow, type MessageStatus, type NewMessageRow, type PairRow, type RepairRow, type RunTotals} from './rows.js'

interface RawRepairRow {
  source_uid: number
  original_sha256: string
  stored_sha256: string
  stored_size: number
  repairs: string
  reason: string
  stored: number
  dest_uid: number | null
}

const toRepairRow = (r: RawRepairRow): RepairRow => ({
  sourceUid: r.source_uid,
  originalSha256: r.original_sha256,
  storedSha256: r.stored_sha256,
  storedSize: r.stored_size,
  repairs: r.repairs === '' ? [] : r.repairs.split(','),
  reason: r.reason,
  stored: r.stored === 1,
  destUid: r.dest_uid,
})

const now = () => new Date().toISOString()
const joinFlags = (flags: string[]) => [...flags].sort().join(' ')

interface RawMessageRow {
  source_uid: number
  dest_uid: number | null
  status: MessageStatus
  origin: MessageOrigin | null
  message_id: string | null
  size: number
  internal_date: string | null
  header_hash: string | null
  fingerprint: string | null
  flags: string
  error: string | null
}

/** A row whose copy could be moved: messages_movable's condition (migrations.ts, v6), word for word. */
const MOVABLE = "WHERE status = 'copied' AND dest_uid IS NOT NULL AND header_hash IS NOT NULL"

const ROW_COLUMNS = 'source_uid, dest_uid, status, origin, message_id, size, internal_date, header_hash, fingerprint, flags, error'

/**
 * Rows by source UID, read one at a time; rows with the same flags share one frozen list (status and
 * origin: one string each): 100,000 rows took 540 bytes each, and their raw rows besides while read.
 */
function rowMap(rows: Iterable<RawMessageRow>): Map<number, MessageRow> {
  const word = sharing((text) => text)
  const flagList = flagListsByText()
  const map = new Map<number, MessageRow>()
  for (const raw of rows) {
    map.set(raw.source_uid, {
      sourceUid: raw.source_uid,
      destUid: raw.dest_uid,
      status: word(raw.status) as MessageStatus,
      origin: raw.origin === null ? null : (word(raw.origin) as MessageOrigin),
      messageId: raw.message_id,
      size: raw.size,
      internalDate: raw.internal_date,
      headerHash: raw.header_hash,
      fingerprint: raw.fingerprint,
      flags: flagList(raw.flags),
      error: raw.error,
    })
  }
  return map
}

export class StateRepository {
  readonly #db: SqliteDb
  readonly #writer: StateWriter
  #runId: number | null = null

  constructor(db: SqliteDb) {
    this.#db = db
    this.#writer = new StateWriter(db)
  }

  /** Message rows wait in one open transaction from now on (StateWriter.groupCommits says when they are committed). */
  groupCommits(): void {
    this.#writer.groupCommits()
  }

  /** Commits the deferred rows now (no-op when there are none); throws StateError when a commit failed (StateWriter.commit). */
  commit(): void {
    this.#writer.commit()
  }

  /** A commit failed: nothing more is written by this process (the run stops with this error). */
  get failure(): StateError | undefined {
    return this.#writer.failure
  }

  /**
   * Binds the database to one source/destination account pair. A state file reused for other
   * accounts would pair UIDs of unrelated mailboxes, so that is refused.
   */
  bindAccounts(source: string, dest: string): void {
    const get = this.#writer.stmt('SELECT value FROM meta WHERE key = ?')
    const known = {source: get.get('source') as {value: string} | undefined, dest: get.get('dest') as {value: string} | undefined}
    if (known.source && known.dest) {
      if (known.source.value !== source || known.dest.value !== dest) {
        throw new StateError(
          `state database belongs to ${known.source.value} -> ${known.dest.value}, not ${source} -> ${dest}`,
          {hint: 'use another --state file for this pair of accounts'},
        )
      }
      return
    }
    const put = this.#writer.stmt('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)')
    this.#db.transaction(() => {
      put.run('source', source)
      put.run('dest', dest)
    })()
  }

  startRun(): number {
    const info = this.#writer.stmt('INSERT INTO runs (started_at) VALUES (?)').run(now())
    this.#runId = Number(info.lastInsertRowid)
    return this.#runId
  }

  /** Records how the run ended; not after a failed commit (the run row then stays unfinished, as after a kill). */
  finishRun(outcome: string, totals: RunTotals, error?: string): void {
    if (this.failure) return
    this.commit()
    if (this.#runId === null) return
    this.#writer.stmt(
        'UPDATE runs SET finished_at = ?, outcome = ?, copied = ?, present = ?, failed = ?, bytes = ?, error = ? WHERE id = ?',
      )
      .run(now(), outcome, totals.copied, totals.present, totals.failed, totals.bytes, error ?? null, this.#runId)
  }

  pair(sourcePath: string, destPath: string): PairRow {
    this.#writer.write(() => this.#writer.stmt('INSERT OR IGNORE INTO folder_pairs (source_path, dest_path) VALUES (?, ?)').run(sourcePath, destPath), false)
    const row = this.#writer.stmt(
        `SELECT id, source_path AS sourcePath, dest_path AS destPath, source_uidvalidity AS sourceUidValidity,
                dest_uidvalidity AS destUidValidity, source_uidnext AS sourceUidNext, source_messages AS sourceMessages,
                source_modseq AS sourceModseq, dest_created AS destCreated
         FROM folder_pairs WHERE source_path = ? AND dest_path = ?`,
      )
      .get(sourcePath, destPath) as Omit<PairRow, 'destCreated'> & {destCreated: number}
    return {...row, destCreated: Boolean(row.destCreated)}
  }

  /** Every pair recorded, for deletions of folders whose source is gone. */
  pairs(): PairRow[] {
    return (
      this.#writer.stmt(
          `SELECT id, source_path AS sourcePath, dest_path AS destPath, source_uidvalidity AS sourceUidValidity,
                  dest_uidvalidity AS destUidValidity, source_uidnext AS sourceUidNext, source_messages AS sourceMessages,
                  source_modseq AS sourceModseq, dest_created AS destCreated FROM folder_pairs`,
        )
        .all() as Array<Omit<PairRow, 'destCreated'> & {destCreated: number}>
    ).map((row) => ({...row, destCreated: Boolean(row.destCreated)}))
  }

  markCreated(pair: PairRow): void {
    this.#writer.write(() => this.#writer.stmt('UPDATE folder_pairs SET dest_created = 1 WHERE id = ?').run(pair.id), false)
    pair.destCreated = true
  }

  forgetPair(pair: PairRow): void {
    this.#writer.write(() => this.#writer.stmt('DELETE FROM folder_pairs WHERE id = ?').run(pair.id), false)
  }

  /**
   * True when the source folder still looks exactly as after the last complete sync. Needs
   * HIGHESTMODSEQ: without it a flag change cannot be seen from outside.
   */
  unchangedSince(pair: PairRow, now: FolderSnapshot): boolean {
    return (
      now.highestModseq !== undefined &&
      pair.sourceModseq === now.highestModseq.toString() &&
      pair.sourceUidValidity === now.uidValidity &&
      pair.sourceUidNext === now.uidNext &&
      pair.sourceMessages === now.messages
    )
  }

  /** Remember the source folder's STATUS taken before a sync that then completed without failures. */
  setSnapshot(pair: PairRow, snapshot: FolderSnapshot | null): void {
    const values = snapshot
      ? [snapshot.uidNext, snapshot.messages, snapshot.highestModseq?.toString() ?? null]
      : [null, null, null]
    this.#writer.write(() => this.#writer.stmt('UPDATE folder_pairs SET source_uidnext = ?, source_messages = ?, source_modseq = ? WHERE id = ?').run(...values, pair.id), false)
    pair.sourceUidNext = values[0] as number | null
    pair.sourceMessages = values[1] as number | null
    pair.sourceModseq = values[2] as string | null
  }

  /**
   * Rows not settled yet: pending (a killed APPEND), failed (retry), moving (a --move cut off), or
   * copied without a destination UID. Tombstones ('moved') are settled.
   */
  unsettledCount(pair: PairRow): number {
    // The condition is messages_unsettled's (migrations.ts, v6), word for word: SQLite uses a partial
    // index only for the terms it was made with, and INDEXED BY makes a mismatch an error, not a scan.
    const row = this.#writer.stmt(
        `SELECT COUNT(*) AS n FROM messages INDEXED BY messages_unsettled
         WHERE pair_id = ? AND status != 'moved' AND (status != 'copied' OR dest_uid IS NULL)`,
      )
      .get(pair.id) as {n: number}
    return row.n
  }

  /** Number of message rows of the pair whose source message should exist (tombstones left out). */
  rowCount(pair: PairRow): number {
    return (this.#writer.stmt("SELECT COUNT(*) AS n FROM messages WHERE pair_id = ? AND status != 'moved'").get(pair.id) as {n: number}).n
  }

  /**
   * --move, in a crash-safe order: 'moving' is committed before the source's UID EXPUNGE, 'moved'
   * after it. Only 'copied' rows become 'moving', and only 'moving' rows become 'moved'.
   */
  setMoveStep(pair: PairRow, sourceUids: number[], step: 'moving' | 'moved' | 'copied'): void {
    const from = step === 'moving' ? 'copied' : 'moving'
    const statement = this.#writer.stmt('UPDATE messages SET status = ?, updated_at = ? WHERE pair_id = ? AND source_uid = ? AND status = ?')
    const stamp = now()
    this.#writer.write(() => {
      for (const uid of sourceUids) statement.run(step, stamp, pair.id, uid, from)
    }, false)
  }

  deleteMessages(pair: PairRow, sourceUids: number[]): void {
    const statement = this.#writer.stmt('DELETE FROM messages WHERE pair_id = ? AND source_uid = ?')
    this.#writer.write(() => {
      for (const uid of sourceUids) statement.run(pair.id, uid)
    }, false)
  }

  /**
   * Record both UIDVALIDITYs. When either differs from what is recorded, every message row of the
   * pair is dropped in the same transaction: its UIDs mean nothing any more, and the engine re-matches
   * the folders by content instead. Returns true when rows were dropped.
   */
  setValidities(pair: PairRow, sourceUidValidity: number, destUidValidity: number): boolean {
    const changed =
      (pair.sourceUidValidity !== null && pair.sourceUidValidity !== sourceUidValidity) ||
      (pair.destUidValidity !== null && pair.destUidValidity !== destUidValidity)
    this.#writer.write(() => {
      if (changed) this.#writer.stmt('DELETE FROM messages WHERE pair_id = ?').run(pair.id)
      this.#writer.stmt('UPDATE folder_pairs SET source_uidvalidity = ?, dest_uidvalidity = ? WHERE id = ?')
        .run(sourceUidValidity, destUidValidity, pair.id)
    }, false)
    pair.sourceUidValidity = sourceUidValidity
    pair.destUidValidity = destUidValidity
    return changed
  }

  touchPair(pair: PairRow): void {
    this.#writer.write(() => this.#writer.stmt('UPDATE folder_pairs SET last_synced_at = ? WHERE id = ?').run(now(), pair.id), false)
  }

  /** Every row of the pair, by source UID (rowMap). */
  messages(pair: PairRow): Map<number, MessageRow> {
    const rows = this.#writer.stmt(`SELECT ${ROW_COLUMNS} FROM messages WHERE pair_id = ?`).iterate(pair.id) as IterableIterator<RawMessageRow>
    return rowMap(rows)
  }

  /** The rows of these source UIDs (those that have one), by source UID: found by key, not by reading the pair's rows. */
  messagesOf(pair: PairRow, sourceUids: Iterable<number>): Map<number, MessageRow> {
    // One statement for the lot (JSON1's json_each): 2,300 rows in 10-13 ms, against 23-47 ms one lookup at a time.
    const rows = this.#writer
      .stmt(`SELECT ${ROW_COLUMNS} FROM messages WHERE pair_id = ? AND source_uid IN (SELECT value FROM json_each(?))`)
      .iterate(pair.id, JSON.stringify([...new Set(sourceUids)])) as IterableIterator<RawMessageRow>
    return rowMap(rows)
  }

  /** The destination UIDs the pair's rows hold (rows.ts, CLAIMED_DEST_UIDS_SQL). */
  claimedDestUids(pair: PairRow): Set<number> {
    return new Set(this.#writer.stmt(CLAIMED_DEST_UIDS_SQL).pluck().all(pair.id) as number[])
  }

  /** Some row, in any pair, has a copy that could be moved (copied, at a known UID, with a header hash). */
  anyMovable(): boolean {
    return this.#writer.stmt(`SELECT EXISTS (SELECT 1 FROM messages INDEXED BY messages_movable ${MOVABLE}) AS found`).pluck().get() === 1
  }

  /**
   * Which of these keys (size, Message-ID, internal date; null where there is none) a row of any pair
   * whose copy could be moved has: their positions in `keys`. One lookup in messages_movable per key.
   */
  movableAmong(keys: ReadonlyArray<readonly [size: number, messageId: string | null, internalDate: string]>): number[] {
    if (keys.length === 0) return []
    return this.#writer
      .stmt(
        `SELECT j.key FROM json_each(?) j WHERE EXISTS (SELECT 1 FROM messages INDEXED BY messages_movable ${MOVABLE}
           AND size = j.value ->> 0 AND message_id IS j.value ->> 1 AND internal_date IS j.value ->> 2)`,
      )
      .pluck()
      .all(JSON.stringify(keys)) as number[]
  }

  /** Insert or replace rows in one transaction (one commit for the batch). */
  putMessages(pair: PairRow, rows: NewMessageRow[]): void {
    if (rows.length === 0) return
    const statement = this.#writer.stmt(
      `INSERT OR REPLACE INTO messages
         (pair_id, source_uid, dest_uid, status, origin, message_id, size, internal_date, header_hash, fingerprint,
          flags, error, run_id, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    const stamp = now()
    const deferrable = rows.every((row) => row.status === 'pending' || row.status === 'copied' || row.status === 'failed')
    this.#writer.write(() => {
      for (const row of rows) {
        statement.run(
          pair.id,
          row.sourceUid,
          row.destUid,
          row.status,
          row.origin,
          row.messageId,
          row.size,
          row.internalDate,
          row.headerHash,
          row.fingerprint,
          joinFlags(row.flags),
          row.error ?? null,
          this.#runId,
          stamp,
        )
      }
    }, deferrable, rows.length === 1)
  }

  /** The APPEND landed: record where. destUid is null when the store could not say (no UIDPLUS). */
  markCopied(pair: PairRow, sourceUid: number, destUid: number | null): void {
    const statement = this.#writer.stmt(
      `UPDATE messages SET status = 'copied', origin = 'appended', dest_uid = ?, error = NULL, run_id = ?, updated_at = ?
       WHERE pair_id = ? AND source_uid = ?`,
    )
    this.#writer.write(() => statement.run(destUid, this.#runId, now(), pair.id, sourceUid), true, true)
  }

  /** Remember the source flags now on the destination copy, after a flag update. */
  setFlags(pair: PairRow, updates: Array<{sourceUid: number; flags: string[]}>): void {
    const statement = this.#writer.stmt(
      'UPDATE messages SET flags = ?, updated_at = ? WHERE pair_id = ? AND source_uid = ?',
    )
    const stamp = now()
    this.#writer.write(() => {
      for (const update of updates) statement.run(joinFlags(update.flags), stamp, pair.id, update.sourceUid)
    }, false)
  }

  /**
   * A message is stored repaired: its row describes the copy (size, header and whole-message hashes),
   * so the claim checks that compare a row with its copy (claims.ts) hold for it.
   */
  setStoredForm(pair: PairRow, sourceUid: number, form: {size: number; headerHash: string; fingerprint: string}): void {
    this.#writer.write(() => {
      this.#writer.stmt('UPDATE messages SET size = ?, header_hash = ?, fingerprint = ?, updated_at = ? WHERE pair_id = ? AND source_uid = ?').run(
        form.size,
        form.headerHash,
        form.fingerprint,
        now(),
        pair.id,
        sourceUid,
      )
    }, true)
  }

  /** The repair of a message, or undefined. */
  repair(pair: PairRow, sourceUid: number): RepairRow | undefined {
    const row = this.#writer.stmt('SELECT * FROM repairs WHERE pair_id = ? AND source_uid = ?').get(pair.id, sourceUid) as RawRepairRow | undefined
    return row && toRepairRow(row)
  }

  /** Before the repaired APPEND: what is about to be stored (stored = false until it is). */
  intendRepair(pair: PairRow, row: Omit<RepairRow, 'stored' | 'destUid'>): void {
    // Deferred with the message rows: the APPEND barrier commits them before a repaired APPEND is sent.
    this.#writer.write(() => {
      this.#writer.stmt(
        `INSERT OR REPLACE INTO repairs (pair_id, source_uid, original_sha256, stored_sha256, stored_size, repairs, reason, stored, dest_uid, run_id, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, ?)`,
      ).run(pair.id, row.sourceUid, row.originalSha256, row.storedSha256, row.storedSize, row.repairs.join(','), row.reason, this.#runId, now())
    }, true)
  }

  /** The repaired copy is on the destination (at destUid when known). */
  markRepairStored(pair: PairRow, sourceUid: number, destUid: number | null): void {
    this.#writer.write(() => {
      this.#writer.stmt('UPDATE repairs SET stored = 1, dest_uid = ?, run_id = ?, updated_at = ? WHERE pair_id = ? AND source_uid = ?').run(
        destUid,
        this.#runId,
        now(),
        pair.id,
        sourceUid,
      )
    }, true)
  }

  /** The repaired copy was refused too: nothing was stored. */
  forgetRepair(pair: PairRow, sourceUid: number): void {
    this.#writer.write(() => {
      this.#writer.stmt('DELETE FROM repairs WHERE pair_id = ? AND source_uid = ?').run(pair.id, sourceUid)
    }, true)
  }
}
