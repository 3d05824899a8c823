/**
 * Read-only access to a state database, for `plan`, `sync --dry-run`, `check`, `verify` and `status`: what is already
 * copied per folder pair, and the counts of the last run. Never creates the file, never migrates it, never takes the writer's lock (a running
 * sync may be writing; SQLite's WAL lets us read beside it).
 */
import type Database from 'better-sqlite3'
import {existsSync} from 'node:fs'

import {StateError} from '../errors.js'
import {SCHEMA_VERSION} from './migrations.js'
import {CLAIMED_DEST_UIDS_SQL} from './rows.js'
import {sqlite} from './sqlite.js'

export interface CopiedInFolder {
  /** The source folder's UIDVALIDITY when these UIDs were recorded. */
  sourceUidValidity: number | null
  /** Source UIDs whose copy is on the destination (status 'copied'). */
  uids: Set<number>
  /** Destination UIDs the pair's rows hold (copied, moved): as in a sync, nobody else's candidates. */
  claimed: Set<number>
}

export interface StateReader {
  readonly path: string
  /** The accounts the database belongs to ("user@host:port"), if recorded. */
  readonly accounts?: {source: string; dest: string}
  /** Copied source UIDs of one folder pair, or undefined when the pair was never synced. */
  copied(sourcePath: string, destPath: string): CopiedInFolder | undefined
  /** Messages of one folder pair stored repaired (--repair), whose copy is on the destination. */
  repaired(sourcePath: string, destPath: string): RepairedCopy[]
  /** Message rows per folder pair, by status, with the source's message count of the last complete sync. */
  folderCounts(): FolderCounts[]
  /** The most recent run row, if any. */
  lastRun(): LastRun | undefined
  close(): void
}

export interface RepairedCopy {
  sourceUid: number
  /** null when the destination did not say (no UIDPLUS). */
  destUid: number | null
  /** SHA-256 of what was stored. */
  storedSha256: string
  repairs: string[]
}

export interface FolderCounts {
  source: string
  dest: string
  lastSyncedAt: string | null
  /** MESSAGES of the source folder after the last complete sync (null before one). */
  sourceMessages: number | null
  copied: number
  pending: number
  failed: number
  /** Bytes of the copied messages. */
  bytes: number
}

export interface LastRun {
  startedAt: string
  finishedAt: string | null
  outcome: string | null
  copied: number
  failed: number
  error: string | null
}

/** Opens the database read-only, or returns undefined when there is no file at `path`. */
export function openStateReader(path: string): StateReader | undefined {
  if (path === ':memory:' || !existsSync(path)) return undefined
  let db: Database.Database
  try {
    db = new (sqlite())(path, {readonly: true, fileMustExist: true})
    db.pragma('busy_timeout = 5000')
    const version = db.pragma('user_version', {simple: true}) as number
    if (version > SCHEMA_VERSION) {
      db.close()
      throw new StateError(`state database ${path} has schema version ${version}, newer than this mailferry understands (${SCHEMA_VERSION})`, {
        hint: 'upgrade mailferry, or use another --state file',
      })
    }
    if (version === 0) {
      db.close()
      return undefined
    }
  } catch (error) {
    if (error instanceof StateError) throw error
    throw new StateError(`state database ${path}: ${(error as Error).message}`, {cause: error})
  }
  const meta = db.prepare('SELECT key, value FROM meta WHERE key IN (?, ?)').all('source', 'dest') as Array<{key: string; value: string}>
  const source = meta.find((row) => row.key === 'source')?.value
  const dest = meta.find((row) => row.key === 'dest')?.value
  const pairQuery = db.prepare('SELECT id, source_uidvalidity AS uidValidity FROM folder_pairs WHERE source_path = ? AND dest_path = ?')
  const uidQuery = db.prepare("SELECT source_uid AS uid FROM messages WHERE pair_id = ? AND status = 'copied'").pluck()
  const claimedQuery = db.prepare(CLAIMED_DEST_UIDS_SQL).pluck()
  const countsQuery = db.prepare(
    `SELECT p.source_path AS source, p.dest_path AS dest, p.last_synced_at AS lastSyncedAt, p.source_messages AS sourceMessages,
            COALESCE(SUM(m.status = 'copied'), 0) AS copied, COALESCE(SUM(m.status = 'pending'), 0) AS pending,
            COALESCE(SUM(m.status = 'failed'), 0) AS failed, COALESCE(SUM(CASE WHEN m.status = 'copied' THEN m.size ELSE 0 END), 0) AS bytes
       FROM folder_pairs p LEFT JOIN messages m ON m.pair_id = p.id
      GROUP BY p.id ORDER BY p.source_path`,
  )
  // A database from before --repair has no repairs table (the reader never migrates).
  const hasRepairs = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'repairs'").get() !== undefined
  const repairQuery = hasRepairs
    ? db.prepare('SELECT source_uid AS sourceUid, dest_uid AS destUid, stored_sha256 AS storedSha256, repairs FROM repairs WHERE pair_id = ? AND stored = 1')
    : undefined
  const lastRunQuery = db.prepare('SELECT started_at AS startedAt, finished_at AS finishedAt, outcome, copied, failed, error FROM runs ORDER BY id DESC LIMIT 1')
  return {
    path,
    accounts: source !== undefined && dest !== undefined ? {source, dest} : undefined,
    copied(sourcePath, destPath) {
      const pair = pairQuery.get(sourcePath, destPath) as {id: number; uidValidity: number | null} | undefined
      if (!pair) return undefined
      return {sourceUidValidity: pair.uidValidity, uids: new Set(uidQuery.all(pair.id) as number[]), claimed: new Set(claimedQuery.all(pair.id) as number[])}
    },
    repaired(sourcePath, destPath) {
      const pair = pairQuery.get(sourcePath, destPath) as {id: number} | undefined
      if (!pair || !repairQuery) return []
      const rows = repairQuery.all(pair.id) as Array<Omit<RepairedCopy, 'repairs'> & {repairs: string}>
      return rows.map((row) => ({...row, repairs: row.repairs === '' ? [] : row.repairs.split(',')}))
    },
    folderCounts: () => countsQuery.all() as FolderCounts[],
    lastRun: () => lastRunQuery.get() as LastRun | undefined,
    close() {
      if (db.open) db.close()
    },
  }
}
