/**
 * The Store contract over a local Maildir++ directory in Dovecot's layout, so that Dovecot can serve
 * a backup as it is and mailferry can read a Dovecot Maildir:
 *
 *   <root>/cur new tmp            INBOX
 *   <root>/.Lists.a&-b list/      folder "Lists.a&b list" (delimiter '.', modified UTF-7, see names.ts)
 *   <folder>/dovecot-uidlist      UIDVALIDITY, next UID and "uid :file" lines (uidlist.ts)
 *   <folder>/dovecot-keywords     keyword letters a-z (keywords.ts)
 *   <folder>/cur/<base>:2,<flags> one message per file, bytes as received, mtime = INTERNALDATE
 *
 * Messages are served as an IMAP server serves them (a bare LF as CRLF; Dovecot does the same for
 * the same files) and RFC822.SIZE counts them that way. Nothing but metadata is kept in memory.
 * A read-only store (a source) never changes a message file; it only gives UIDs to files that have
 * none, in dovecot-uidlist, as Dovecot itself does on EXAMINE.
 */
import {readdir, readFile, rm, stat} from 'node:fs/promises'
import {join, resolve} from 'node:path'

import {ConfigError, ExitCode, FolderError, MailferryError, describeError} from '../../errors.js'
import {fsyncDir, writePrivateFile} from '../../files.js'
import {mapLimit} from '../../map-limit.js'
import {parseMessageId} from '../message-id.js'
import type {
  AppendResult,
  FetchedMessage,
  FolderInfo,
  FolderStatus,
  MessageFlags,
  MessageMeta,
  Store,
  StoreCapabilities,
  StoreStats,
} from '../store.js'
import {MAILDIR_SYSTEM_FLAGS} from './filename.js'
import {FolderMissingError, MaildirFolder, ReadOnlyError} from './folder.js'
import {LockTimeoutError, withDotLock} from './lock.js'
import {FolderNameError, MAILDIR_DELIMITER, folderDirName, folderFromDirName, isInbox} from './names.js'
import {formatSubscriptions, parseSubscriptions, SUBSCRIPTIONS} from './subscriptions.js'
import {UidlistError} from './uidlist.js'

export interface MaildirStoreOptions {
  label: string
  /** The Maildir root (INBOX's cur/ new/ tmp/ live here). */
  root: string
  /** A source: message files are never changed. */
  readOnly: boolean
  /** Files read or stat'ed at once while listing metadata. Default 16. */
  parallelism?: number
  /**
   * Read-only only: a directory that does not exist yet is an empty Maildir (the destination of a
   * dry run before the first backup) instead of an error (a source that is not there).
   */
  missingOk?: boolean
}

/** Errors of the disk rather than of one folder: the run stops (and a re-run resumes). */
const STORE_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO', 'EMFILE', 'ENFILE'])

export class MaildirStore implements Store {
  readonly label: string
  readonly root: string
  readonly #readOnly: boolean
  readonly #missingOk: boolean
  /** The root does not exist (read-only with missingOk): it lists as an empty INBOX. */
  #absent = false
  readonly #parallelism: number
  readonly #where: string
  /** Folder path -> directory name as found on disk (names that do not round-trip keep theirs). */
  readonly #dirs = new Map<string, string>()
  readonly #folders = new Map<string, MaildirFolder>()
  /** Keywords that found no letter (26 per folder), per folder: reported by stats(). */
  readonly #dropped = new Map<string, Set<string>>()

  constructor(options: MaildirStoreOptions) {
    this.label = options.label
    this.root = resolve(options.root)
    this.#readOnly = options.readOnly
    this.#missingOk = options.missingOk ?? false
    this.#parallelism = options.parallelism ?? 16
    this.#where = `${options.label} maildir:${this.root}`
  }

  async open(): Promise<void> {
    if (this.#readOnly) {
      let isDir = false
      try {
        isDir = (await stat(this.root)).isDirectory()
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw this.#storeError(error)
      }
      if (!isDir && this.#missingOk) {
        this.#absent = true
        return
      }
      if (!isDir || !(await this.#folder('INBOX').exists())) {
        throw new ConfigError(`${this.#where}: no Maildir there (expected a directory with cur/, new/ and tmp/)`, {
          hint: 'give the directory a backup was written to (maildir:/path)',
        })
      }
      return
    }
    try {
      await MaildirFolder.create(this.root, {subfolder: false})
    } catch (error) {
      throw this.#storeError(error)
    }
  }

  capabilities(): StoreCapabilities {
    return {uidplus: true, condstore: false, expungeByUid: true}
  }

  async listFolders(): Promise<FolderInfo[]> {
    const folders: FolderInfo[] = [{path: 'INBOX', delimiter: MAILDIR_DELIMITER, noSelect: false}]
    if (this.#absent) return folders
    let entries
    let subscribed: Set<string> | undefined
    try {
      entries = await readdir(this.root, {withFileTypes: true})
      subscribed = await this.#subscriptions()
    } catch (error) {
      throw this.#storeError(error)
    }
    // Without a subscriptions file the store says nothing about subscriptions (undefined).
    if (subscribed) folders[0].subscribed = true
    for (const entry of entries) {
      const path = folderFromDirName(entry.name)
      if (path === undefined || isInbox(path)) continue
      let isDir = entry.isDirectory()
      if (entry.isSymbolicLink()) isDir = await stat(join(this.root, entry.name)).then((st) => st.isDirectory(), () => false)
      if (!isDir) continue
      this.#dirs.set(path, entry.name)
      const selectable = await this.#folder(path).exists()
      folders.push({path, delimiter: MAILDIR_DELIMITER, noSelect: !selectable, ...(subscribed ? {subscribed: subscribed.has(path)} : {})})
    }
    return folders.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  }

  async createFolder(path: string): Promise<void> {
    this.#writable(path)
    const dir = this.#dirOf(path)
    try {
      await MaildirFolder.create(join(this.root, dir), {subfolder: dir !== ''})
    } catch (error) {
      throw this.#error(error, path)
    }
  }

  /** Adds the folder to the root's subscriptions file (Dovecot's format), under its lock. */
  async subscribeFolder(path: string): Promise<void> {
    this.#writable(path)
    if (isInbox(path)) return
    const file = join(this.root, SUBSCRIPTIONS)
    try {
      // Dovecot's subscription lock goes stale after 30 s.
      await withDotLock(file, async () => {
        const current = [...((await this.#subscriptions()) ?? [])]
        if (current.includes(path)) return
        await writePrivateFile(file, formatSubscriptions([...current, path]))
      }, {staleAfterMs: 30_000})
    } catch (error) {
      throw this.#error(error, path)
    }
  }

  async #subscriptions(): Promise<Set<string> | undefined> {
    try {
      return new Set(parseSubscriptions(await readFile(join(this.root, SUBSCRIPTIONS), 'utf8')))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
  }

  async status(path: string): Promise<FolderStatus> {
    const status = await this.#run(path, (folder) => folder.status())
    const permanentFlags = [...MAILDIR_SYSTEM_FLAGS, ...status.keywords]
    // 26 keyword letters per folder: once they are taken, only the known keywords can be stored.
    if (!status.keywordsFull) permanentFlags.push('\\*')
    return {uidValidity: status.uidValidity, uidNext: status.uidNext, messages: status.messages, permanentFlags}
  }

  async listFlags(path: string): Promise<MessageFlags[]> {
    return this.#run(path, (folder) => folder.list())
  }

  async listMeta(path: string, uids?: number[]): Promise<MessageMeta[]> {
    return this.#run(path, async (folder) => {
      const wanted = uids ?? (await folder.uids())
      const metas = await mapLimit(wanted, this.#parallelism, (uid) => folder.meta(uid))
      return metas
        .filter((meta) => meta !== undefined)
        .map((meta) => ({uid: meta.uid, flags: meta.flags, size: meta.size, internalDate: meta.internalDate, messageId: parseMessageId(meta.header)}))
    })
  }

  async fetchHeaders(path: string, uids: number[]): Promise<Map<number, Buffer>> {
    return this.#run(path, async (folder) => {
      const metas = await mapLimit(uids, this.#parallelism, (uid) => folder.meta(uid))
      return new Map(metas.filter((meta) => meta !== undefined).map((meta) => [meta.uid, meta.header]))
    })
  }

  async fetchMessage(path: string, uid: number): Promise<FetchedMessage | null> {
    return this.#run(path, async (folder) => {
      const message = await folder.read(uid)
      return message ? {uid, ...message} : null
    })
  }

  async appendMessage(path: string, raw: Buffer, flags: string[], internalDate: Date): Promise<AppendResult> {
    this.#writable(path)
    return this.#run(path, async (folder) => {
      const {uid, uidValidity, dropped} = await folder.append(raw, flags, internalDate)
      this.#noteDropped(path, dropped)
      return {uid, uidValidity}
    })
  }

  async setFlags(path: string, uids: number[], add: string[], remove: string[]): Promise<void> {
    this.#writable(path)
    await this.#run(path, async (folder) => {
      this.#noteDropped(path, await folder.setFlags(uids, add, remove))
    })
  }

  async deleteMessages(path: string, uids: number[]): Promise<void> {
    this.#writable(path)
    if (uids.length === 0) return
    await this.#run(path, (folder) => folder.delete(uids))
  }

  /** Moves a message to another folder (a rename within the Maildir). Returns its UID there. */
  async moveMessage(path: string, uid: number, toPath: string): Promise<AppendResult> {
    this.#writable(path)
    const target = await this.#run(toPath, async (folder) => {
      if (!(await folder.exists())) throw new FolderMissingError(folder.dir)
      return folder
    })
    return this.#run(path, async (folder) => {
      const moved = await folder.moveTo(uid, target)
      if (!moved) return {}
      this.#noteDropped(toPath, moved.dropped)
      return {uid: moved.uid, uidValidity: moved.uidValidity}
    })
  }

  /** Deletes a folder that holds no message (its directory, with Dovecot's files in it). */
  async deleteFolder(path: string): Promise<void> {
    this.#writable(path)
    if (isInbox(path)) throw new FolderError(`${this.#where}: INBOX cannot be deleted`)
    await this.#run(path, async (folder) => {
      const {messages} = await folder.status()
      if (messages > 0) throw new FolderError(`${this.#where}: folder "${path}" still holds ${messages} messages; not deleted`)
      await rm(folder.dir, {recursive: true})
      await fsyncDir(this.root)
      this.#folders.delete(this.#dirOf(path))
      this.#dirs.delete(path)
    })
  }

  async close(): Promise<void> {
    this.#folders.clear()
  }

  /**
   * droppedKeywords: those that could not be stored because the folder's 26 keyword letters were
   * taken (only possible when more keywords arrive in one run than status() showed room for).
   */
  stats(): StoreStats {
    const droppedKeywords = Object.fromEntries([...this.#dropped].map(([path, set]) => [path, [...set].sort()]))
    return {retries: 0, droppedSessions: 0, droppedKeywords}
  }

  // -------------------------------------------------------------------------------------------

  #noteDropped(path: string, dropped: string[]): void {
    if (dropped.length === 0) return
    let set = this.#dropped.get(path)
    if (!set) this.#dropped.set(path, (set = new Set()))
    for (const keyword of dropped) set.add(keyword)
  }

  #dirOf(path: string): string {
    if (isInbox(path)) return ''
    const known = this.#dirs.get(path)
    if (known !== undefined) return known
    try {
      return folderDirName(path)
    } catch (error) {
      if (error instanceof FolderNameError) throw new FolderError(`${this.#where}: ${error.message}`, {cause: error})
      throw error
    }
  }

  #folder(path: string): MaildirFolder {
    const dir = this.#dirOf(path)
    let folder = this.#folders.get(dir)
    if (!folder) this.#folders.set(dir, (folder = new MaildirFolder(join(this.root, dir), {readOnly: this.#readOnly})))
    return folder
  }

  #writable(path: string): void {
    if (this.#readOnly) throw new MailferryError(`${this.#where}: folder "${path}": the store is read-only`, {scope: 'run'})
  }

  async #run<T>(path: string, fn: (folder: MaildirFolder) => Promise<T>): Promise<T> {
    let folder: MaildirFolder
    try {
      folder = this.#folder(path)
    } catch (error) {
      throw this.#error(error, path)
    }
    try {
      return await fn(folder)
    } catch (error) {
      throw this.#error(error, path)
    }
  }

  #error(error: unknown, path: string): MailferryError {
    if (error instanceof MailferryError) return error
    const code = (error as NodeJS.ErrnoException).code
    if (code && STORE_ERRORS.has(code)) return this.#storeError(error)
    let detail = describeError(error)
    if (error instanceof FolderMissingError) detail = 'the folder does not exist'
    else if (error instanceof UidlistError) detail = `dovecot-uidlist cannot be read: ${detail}`
    else if (error instanceof LockTimeoutError || error instanceof ReadOnlyError) detail = error.message
    return new FolderError(`${this.#where}: folder "${path}": ${detail}`, {cause: error})
  }

  #storeError(error: unknown): MailferryError {
    return new MailferryError(`${this.#where}: ${describeError(error)}`, {
      scope: 'store',
      exitCode: ExitCode.folder,
      hint: 'fix the problem with the directory (space, permissions), then re-run the same command to resume',
      cause: error,
    })
  }
}
