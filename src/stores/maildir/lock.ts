/**
 * Locks for writing a Maildir folder's control files.
 *
 * - DotLock: `dovecot-uidlist.lock`, holding "<pid>:<host>" and hard-linked into place as Dovecot's
 *   file-dotlock.c does, so that Dovecot and mailferry never write one folder's uidlist (or
 *   keywords) at the same time. Held only for the few milliseconds of a write. A lock whose process
 *   is gone (same host) or that has not changed for two minutes is stale and taken over, as in
 *   Dovecot.
 * - Mutex: serialises this process's own tasks on one folder (the engine copies several messages at once).
 */
import {hostname} from 'node:os'
import {link, readFile, stat, unlink, writeFile} from 'node:fs/promises'

/** Dovecot's MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT. */
const STALE_AFTER_MS = 120_000
/** How long to wait for a lock held by a live process before giving up. */
const WAIT_MS = STALE_AFTER_MS + 2_000

export class LockTimeoutError extends Error {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let tempCounter = 0

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export interface DotLockOptions {
  staleAfterMs?: number
  waitMs?: number
}

/** Takes `<path>.lock`, runs fn, releases the lock. */
export async function withDotLock<T>(path: string, fn: () => Promise<T>, options: DotLockOptions = {}): Promise<T> {
  const lockPath = `${path}.lock`
  const staleAfter = options.staleAfterMs ?? STALE_AFTER_MS
  const deadline = Date.now() + (options.waitMs ?? WAIT_MS)
  const me = `${process.pid}:${hostname()}`
  // Written first and then hard-linked into place (Dovecot's way): the lock never exists without
  // its pid, even when the process is killed half-way, so a dead owner is always recognised.
  const temp = `${lockPath}.${process.pid}.${++tempCounter}.tmp`
  await writeFile(temp, me, {mode: 0o600})
  let delay = 2
  try {
    for (;;) {
      try {
        await link(temp, lockPath)
        break
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      if (await isStale(lockPath, staleAfter)) {
        await unlink(lockPath).catch(() => undefined)
        continue
      }
      if (Date.now() > deadline) {
        throw new LockTimeoutError(`${lockPath} is held by another process (waited ${Math.round((options.waitMs ?? WAIT_MS) / 1000)} s)`)
      }
      await sleep(delay)
      delay = Math.min(delay * 2, 200)
    }
  } finally {
    await unlink(temp).catch(() => undefined)
  }
  try {
    return await fn()
  } finally {
    await unlink(lockPath).catch(() => undefined)
  }
}

async function isStale(lockPath: string, staleAfter: number): Promise<boolean> {
  let content: string
  let mtimeMs: number
  try {
    ;[content, {mtimeMs}] = await Promise.all([readFile(lockPath, 'utf8'), stat(lockPath)])
  } catch {
    // Gone in the meantime: try again at once.
    return false
  }
  const [pidText, host] = content.trim().split(':')
  const pid = Number(pidText)
  // A lock of a process of this host that is gone is stale at once (our locks always hold their pid).
  if (host === hostname() && Number.isInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid)) return true
  if (host === hostname() && pid === process.pid) return false
  return Date.now() - mtimeMs > staleAfter
}

/** A FIFO async mutex. */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve()

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn, fn)
    this.#tail = result.catch(() => undefined)
    return result
  }
}
