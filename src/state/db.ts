/**
 * Opens the SQLite state database: file mode 0600, pragmas, schema migrations, single-writer lock.
 * The only module (with its repositories) that imports better-sqlite3.
 */
import type Database from 'better-sqlite3'
import {chmodSync, closeSync, openSync} from 'node:fs'
import {dirname} from 'node:path'

import {StateError} from '../errors.js'
import {fileFailure, makeDirDurableSync} from '../files.js'
import {acquireLock, type StateLock} from './lock.js'
import {migrate} from './migrations.js'
import {sqlite} from './sqlite.js'

export type SqliteDb = Database.Database
export type Statement = Database.Statement

export interface OpenStateOptions {
  /** Take the single-writer lock (a sync run). Readers such as `status` pass false. */
  lock?: boolean
}

export interface OpenedState {
  db: SqliteDb
  path: string
  close(): void
}

/** Create the file with mode 0600 before SQLite does, so it never exists with looser permissions. */
function createPrivateFile(path: string): void {
  makeDirDurableSync(dirname(path), 0o700)
  closeSync(openSync(path, 'a', 0o600))
  chmodSync(path, 0o600)
}

export function openStateDb(path: string, options: OpenStateOptions = {}): OpenedState {
  const inMemory = path === ':memory:'
  let lock: StateLock | undefined
  let db: SqliteDb
  try {
    if (!inMemory) {
      createPrivateFile(path)
      if (options.lock !== false) lock = acquireLock(path)
    }
    db = new (sqlite())(path)
    // WAL + synchronous=NORMAL: a commit survives a killed process (kill -9) without an fsync per
    // message; only an OS crash can lose the last commits, and reconcile covers that case too.
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    migrate(db)
  } catch (error) {
    lock?.release()
    if (error instanceof StateError) throw error
    const failure = fileFailure(error, path)
    if (failure) throw new StateError(`state database ${path} cannot be opened: ${failure.reason}`, {cause: error, hint: failure.hint})
    throw new StateError(`state database ${path}: ${(error as Error).message}`, {cause: error})
  }

  return {
    db,
    path,
    close() {
      if (db.open) db.close()
      lock?.release()
    },
  }
}
