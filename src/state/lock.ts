/**
 * One writer per state database: two runs on the same state would both copy the same messages.
 *
 * The lock is a kernel lock, not a pid file: `<db>.lock` is a small SQLite database of its own,
 * opened with `locking_mode=EXCLUSIVE` and kept inside an exclusive transaction for the run. SQLite
 * takes that as an fcntl (POSIX) lock, which the kernel drops the moment the process ends, kill -9
 * included (also while it is a zombie, or when its pid is reused), so the next run never waits for
 * or has to judge a stale lock. The main database stays in WAL mode, so readers (`status`, `plan`)
 * are not affected. The lock file is kept after the run: removing it could let two runs lock two
 * different files of the same name.
 */
import type Database from 'better-sqlite3'
import {closeSync, ftruncateSync, openSync, readFileSync, readSync, realpathSync} from 'node:fs'

import {StateError} from '../errors.js'
import {sqlite} from './sqlite.js'

export interface StateLock {
  release(): void
}

/** Byte offset of SQLite's user_version in the file header, where the owner writes its pid. */
const USER_VERSION_OFFSET = 60

/**
 * Lock files held by this process, with their connections. fcntl locks belong to the process: a
 * second connection here would not be refused by the kernel, and closing any descriptor of the file
 * would drop the lock. So a second attempt in this process (batch jobs run in-process) is refused
 * here, without opening it. The map also keeps each connection reachable: better-sqlite3 closes a
 * collected connection, which would end the lock while the run goes on.
 */
const held = new Map<string, Database.Database>()

function inUse(dbPath: string, owner?: number): StateError {
  return new StateError(`state database ${dbPath} is in use by another mailferry run${owner ? ` (pid ${owner})` : ''}`, {
    hint: 'wait for that run to finish; its lock ends with its process (also when it is killed), so nothing needs removing',
  })
}

const isBusy = (error: unknown) => /^SQLITE_(BUSY|LOCKED)/.test(String((error as {code?: unknown}).code))
const isNotADatabase = (error: unknown) => (error as {code?: unknown}).code === 'SQLITE_NOTADB'

/** The pid the current owner wrote into the lock file's header (0 when unknown). */
function ownerPid(lockPath: string): number {
  let fd: number | undefined
  try {
    fd = openSync(lockPath, 'r')
    const header = Buffer.alloc(4)
    return readSync(fd, header, 0, 4, USER_VERSION_OFFSET) === 4 ? header.readUInt32BE(0) : 0
  } catch {
    return 0
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** Opens the lock database and takes its exclusive lock; throws SQLite's error when it cannot. */
function lockDatabase(lockPath: string): Database.Database {
  // A short wait, for two runs started in the same instant: SQLite's busy handler retries, and the
  // loser is refused once the winner holds the lock.
  const db = new (sqlite())(lockPath, {timeout: 250})
  try {
    // No -journal file beside the lock file; there is nothing in it worth a rollback. Set in the
    // normal locking mode, so the read it needs leaves no shared lock behind.
    db.pragma('journal_mode = MEMORY')
    // Nor an fsync: the file holds only the owner's pid, which a power cut may lose (the lock itself
    // is the kernel's); a torn file is "not a database" and is started again (migratePidFile).
    db.pragma('synchronous = OFF')
    // Taken before anything else holds a lock here: a connection that kept a shared lock while
    // asking for the exclusive one could leave two runs both refused (each waiting on the other).
    db.exec('BEGIN EXCLUSIVE')
    // From now on the lock outlives transactions: the pid is committed (others read it from the
    // file header), and the lock stays with this connection until it closes.
    db.pragma('locking_mode = EXCLUSIVE')
    db.pragma(`user_version = ${process.pid}`)
    db.exec('COMMIT')
    db.exec('BEGIN EXCLUSIVE')
    return db
  } catch (error) {
    db.close()
    throw error
  }
}

/**
 * An older mailferry left its pid file `<db>.lock` (a text line, so "not a database" to SQLite).
 * Its run is over unless that pid is a running mailferry; then the file is emptied in place (not
 * removed: another new-style run may have it open) and becomes a lock database.
 */
function migratePidFile(dbPath: string, lockPath: string): void {
  // Anything else that is not a database (a lock file torn by a crash) holds nothing of value either.
  const match = /^\s*(\d+)\s*$/.exec(readFileSync(lockPath, 'utf8'))
  const pid = match ? Number(match[1]) : 0
  if (pid > 0 && pid !== process.pid && isRunningMailferry(pid)) throw inUse(dbPath, pid)
  const fd = openSync(lockPath, 'r+')
  try {
    ftruncateSync(fd, 0)
  } finally {
    closeSync(fd)
  }
}

/** True when pid is alive and (where /proc tells) its command line mentions mailferry. */
function isRunningMailferry(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  try {
    return /mailferry|bin\/run/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))
  } catch {
    // No /proc (not Linux): the pid alone is all we know.
    return true
  }
}

export function acquireLock(dbPath: string): StateLock {
  const lockPath = `${dbPath}.lock`
  // Checked before the lock file is touched at all (closing a descriptor would drop our own lock).
  const key = `${realpathSync(dbPath)}.lock`
  if (held.has(key)) throw inUse(dbPath, process.pid)
  // Created 0600 before SQLite does (SQLite would use 0644).
  closeSync(openSync(lockPath, 'a', 0o600))

  let db: Database.Database | undefined
  for (let attempt = 0; !db; attempt++) {
    try {
      db = lockDatabase(lockPath)
    } catch (error) {
      if (isBusy(error)) throw inUse(dbPath, ownerPid(lockPath))
      if (isNotADatabase(error) && attempt === 0) {
        migratePidFile(dbPath, lockPath)
        continue
      }
      throw new StateError(`state lock ${lockPath}: ${(error as Error).message}`, {cause: error})
    }
  }
  held.set(key, db)
  const lock = db
  return {
    release() {
      if (!lock.open) return
      // Closing ends the transaction and the fcntl lock with it.
      lock.close()
      held.delete(key)
    },
  }
}
