/**
 * Private files (state, tokens, backups) written so that a kill or a power cut leaves either the old
 * or the new content, never a torn or empty file: a new temp file (O_EXCL, mode 0600), written and
 * fsynced, renamed over the target, then the directory fsynced so that the rename itself is durable.
 * A leaf module like errors.ts: every layer may use it.
 */
import {closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync} from 'node:fs'
import {mkdir, open, rename, unlink} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

export const PRIVATE_FILE_MODE = 0o600

let counter = 0
/**
 * Beside the target (a rename must not cross file systems), unique per process and call. No leading
 * dot: in a Maildir++ root, dot names are folders.
 */
const tempPathFor = (path: string) => join(dirname(path), `${basename(path)}.${process.pid}.${++counter}.tmp`)

/** Platforms or file systems that cannot fsync a directory say so with these; nothing to do there. */
const UNSUPPORTED_DIR_SYNC = new Set(['EISDIR', 'EINVAL', 'EPERM', 'EACCES', 'ENOTSUP'])

/** Makes the directory's entries (creations, renames, removals) durable. */
export function fsyncDirSync(dir: string): void {
  let fd: number
  try {
    fd = openSync(dir, 'r')
  } catch (error) {
    if (UNSUPPORTED_DIR_SYNC.has((error as NodeJS.ErrnoException).code ?? '')) return
    throw error
  }
  try {
    fsyncSync(fd)
  } catch (error) {
    if (!UNSUPPORTED_DIR_SYNC.has((error as NodeJS.ErrnoException).code ?? '')) throw error
  } finally {
    closeSync(fd)
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  let handle
  try {
    handle = await open(dir, 'r')
  } catch (error) {
    if (UNSUPPORTED_DIR_SYNC.has((error as NodeJS.ErrnoException).code ?? '')) return
    throw error
  }
  try {
    await handle.sync()
  } catch (error) {
    if (!UNSUPPORTED_DIR_SYNC.has((error as NodeJS.ErrnoException).code ?? '')) throw error
  } finally {
    await handle.close()
  }
}

/** The directories whose entries a recursive mkdir of `dir` changed (`created`: the first it made). */
function parentsToSync(dir: string, created: string | undefined): string[] {
  const out: string[] = []
  if (created === undefined) return out
  for (let parent = dir; parent !== dirname(created); ) out.push((parent = dirname(parent)))
  return out
}

/**
 * mkdir -p whose result survives a power cut: the entry of every directory it created is fsynced
 * in its parent (a file renamed into a directory whose own entry is lost is lost with it).
 */
export function makeDirDurableSync(dir: string, mode: number): void {
  const created = mkdirSync(dir, {recursive: true, mode})
  for (const parent of parentsToSync(dir, created)) fsyncDirSync(parent)
}

/** makeDirDurableSync, and the new directory's own entries synced too (it was filled since). */
export async function makeDirDurable(dir: string, mode: number, fill?: () => Promise<void>): Promise<void> {
  const created = await mkdir(dir, {recursive: true, mode})
  await fill?.()
  await fsyncDir(dir)
  for (const parent of parentsToSync(dir, created)) await fsyncDir(parent)
}

/** Replaces `path` with `data` atomically and durably, mode 0600 (see the top of this file). */
export function writePrivateFileSync(path: string, data: string | Buffer): void {
  const temp = tempPathFor(path)
  // 'wx': never through a file or symlink someone placed under the temp name.
  const fd = openSync(temp, 'wx', PRIVATE_FILE_MODE)
  try {
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(temp, path)
  } catch (error) {
    try {
      unlinkSync(temp)
    } catch {
      // renamed already, or never there
    }
    throw error
  }
  fsyncDirSync(dirname(path))
}

export async function writePrivateFile(path: string, data: string | Buffer): Promise<void> {
  const temp = tempPathFor(path)
  const handle = await open(temp, 'wx', PRIVATE_FILE_MODE)
  try {
    try {
      await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, path)
  } catch (error) {
    await unlink(temp).catch(() => undefined)
    throw error
  }
  await fsyncDir(dirname(path))
}

/**
 * A failed create or open of `path`, in words with what to do about it, for errors that carry an
 * errno code; undefined for any other error (SQLite's own, say), whose message says it already.
 */
export function fileFailure(error: unknown, path: string): {reason: string; hint: string} | undefined {
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOENT':
      return {reason: 'no such file or directory', hint: `check that ${dirname(path)} is a directory that files can be created in`}
    case 'ENOTDIR':
    case 'EEXIST': // mkdir of its directory, where a file is
      return {reason: 'a part of its path is a file, not a directory', hint: `check that ${dirname(path)} is a directory that files can be created in`}
    case 'EACCES':
    case 'EPERM':
      return {reason: 'permission denied', hint: 'give a path in a directory that the user mailferry runs as may write to'}
    case 'EROFS':
      return {reason: 'the file system is read-only', hint: 'give a path on a writable file system'}
    case 'ENOSPC':
    case 'EDQUOT':
      return {reason: 'the disk is full (or the disk quota is used up)', hint: 'free some space, or give a path on another file system'}
    case 'EISDIR':
      return {reason: 'it is a directory', hint: 'give the path of a file, not of a directory'}
    default:
      return undefined
  }
}
