/**
 * Read-only access to a state database, for `plan` and `sync --dry-run`: what is already copied per
 * folder pair. Never creates the file, never migrates it, never takes the writer's lock (a running
 * sync may be writing; SQLite's WAL lets us read beside it).
 */
import Database from 'better-sqlite3'
import {existsSync} from 'node:fs'

import {StateError} from '../errors.js'
import {SCHEMA_VERSION} from './migrations.js'

export interface CopiedInFolder {
  /** The source folder's UIDVALIDITY when these UIDs were recorded. */
  sourceUidValidity: number | null
  /** Source UIDs whose copy is on the destination (status 'copied'). */
  uids: Set<number>
}

export interface StateReader {
  readonly path: string
  /** The accounts the database belongs to ("user@host:port"), if recorded. */
  readonly accounts?: {source: string; dest: string}
  /** Copied source UIDs of one folder pair, or undefined when the pair was never synced. */
  copied(sourcePath: string, destPath: string): CopiedInFolder | undefined
  close(): void
}

/** Opens the database read-only, or returns undefined when there is no file at `path`. */
export function openStateReader(path: string): StateReader | undefined {
  if (path === ':memory:' || !existsSync(path)) return undefined
  let db: Database.Database
  try {
    db = new Database(path, {readonly: true, fileMustExist: true})
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
  return {
    path,
    accounts: source !== undefined && dest !== undefined ? {source, dest} : undefined,
    copied(sourcePath, destPath) {
      const pair = pairQuery.get(sourcePath, destPath) as {id: number; uidValidity: number | null} | undefined
      if (!pair) return undefined
      return {sourceUidValidity: pair.uidValidity, uids: new Set(uidQuery.all(pair.id) as number[])}
    },
    close() {
      if (db.open) db.close()
    },
  }
}
