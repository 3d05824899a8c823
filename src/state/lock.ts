/**
 * One writer per state database: two runs on the same state would both copy the same messages.
 * A lock file `<db>.lock` holds the owner's pid; a lock left by a killed process (pid gone) is taken over.
 */
import {readFileSync, unlinkSync, writeFileSync} from 'node:fs'

import {StateError} from '../errors.js'

export interface StateLock {
  release(): void
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function tryCreate(lockPath: string): boolean {
  try {
    writeFileSync(lockPath, String(process.pid), {flag: 'wx', mode: 0o600})
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
}

export function acquireLock(dbPath: string): StateLock {
  const lockPath = `${dbPath}.lock`
  if (!tryCreate(lockPath)) {
    const owner = Number.parseInt(readFileSync(lockPath, 'utf8'), 10)
    if (Number.isInteger(owner) && processAlive(owner)) {
      throw new StateError(`state database ${dbPath} is in use by another mailferry run (pid ${owner})`, {
        hint: `wait for it to finish, or remove ${lockPath} if that process is not mailferry`,
      })
    }
    // Stale: its owner died (kill -9, crash). Take it over.
    unlinkSync(lockPath)
    if (!tryCreate(lockPath)) {
      throw new StateError(`state database ${dbPath} was locked by another run just now`)
    }
  }
  let released = false
  return {
    release() {
      if (released) return
      released = true
      try {
        unlinkSync(lockPath)
      } catch {
        // already gone: nothing to release
      }
    },
  }
}
