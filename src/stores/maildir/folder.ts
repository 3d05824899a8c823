/**
 * One Maildir folder on disk: its messages (cur/ and new/), UIDs (dovecot-uidlist) and keyword
 * letters (dovecot-keywords). Only metadata is kept in memory; message bytes are read and written
 * one file at a time.
 *
 * Writes, as Dovecot does them:
 * - a message is written to tmp/, fsynced, given its INTERNALDATE as mtime, then renamed into cur/
 *   with its flags in the name, and cur/ is fsynced (the rename itself must survive a power cut);
 *   only then does it get its uidlist line (appended and fsynced);
 * - every rename (flags, moves), new folder and deletion is followed by an fsync of the directory;
 * - uidlist and keyword changes happen under the folder's dovecot-uidlist.lock (see lock.ts).
 * A crash can leave a message in cur/ without a uidlist line: it gets a UID at the next scan, and
 * the sync engine recognises it as the copy of its pending source message.
 */
import {mkdir, open, rename, stat, unlink, utimes, writeFile, type FileHandle} from 'node:fs/promises'
import {hostname} from 'node:os'
import {dirname, join} from 'node:path'

import {PRIVATE_FILE_MODE as FILE_MODE, fsyncDir, makeDirDurable} from '../../files.js'
import {flagsFromInfo, newBaseName, splitFileName, virtualSize, withInfo} from './filename.js'
import {KeywordsFile} from './keywords-file.js'
import {Mutex, withDotLock} from './lock.js'
import {listMessageFiles, readMeta, readWhole, type FileMeta, type Sub} from './message-file.js'
import {isMissing} from './stamp.js'
import {UidlistFile} from './uidlist-file.js'

const UIDLIST = 'dovecot-uidlist'
const KEYWORDS = 'dovecot-keywords'
const DIR_MODE = 0o700

interface Entry {
  uid: number
  base: string
  sub: Sub
  name: string
}

interface Committed {
  uid: number
  uidValidity: number
  dropped: string[]
}

/** A message written to tmp/, waiting for its group commit. */
interface PendingAppend {
  base: string
  tmpPath: string
  flags: string[]
  resolve: (committed: Committed) => void
  reject: (error: unknown) => void
}

export class FolderMissingError extends Error {}
export class ReadOnlyError extends Error {}

let sequence = 0
const HOST = hostname()

export class MaildirFolder {
  readonly dir: string
  readonly #readOnly: boolean
  readonly #mutex = new Mutex()
  readonly #uidlist: UidlistFile
  readonly #keywords: KeywordsFile
  #entries = new Map<number, Entry>()
  #scanned = false
  #pending: PendingAppend[] = []

  constructor(dir: string, options: {readOnly: boolean}) {
    this.dir = dir
    this.#readOnly = options.readOnly
    this.#uidlist = new UidlistFile(join(dir, UIDLIST))
    this.#keywords = new KeywordsFile(join(dir, KEYWORDS))
  }

  /** Creates the folder's directories (and its uidlist); an existing folder is kept as it is. */
  static async create(dir: string, options: {subfolder: boolean}): Promise<void> {
    // Durable before anything is written into it: its entries, and its own entry in every
    // directory that mkdir created on the way.
    await makeDirDurable(dir, DIR_MODE, async () => {
      for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(dir, sub), {recursive: true, mode: DIR_MODE})
      // Maildir++: marks a subfolder (MDAs and quota tools look for it).
      if (options.subfolder) await writeFile(join(dir, 'maildirfolder'), '', {flag: 'a', mode: FILE_MODE})
    })
    await new MaildirFolder(dir, {readOnly: false}).#withLock(async () => undefined)
  }

  async exists(): Promise<boolean> {
    try {
      return (await stat(join(this.dir, 'cur'))).isDirectory()
    } catch (error) {
      if (isMissing(error)) return false
      throw error
    }
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  /** Re-reads the uidlist, keywords and directories; files without a UID get one. */
  async refresh(): Promise<void> {
    await this.#mutex.run(() => this.#scan())
  }

  async status(): Promise<{uidValidity: number; uidNext: number; messages: number; keywords: string[]; keywordsFull: boolean}> {
    await this.refresh()
    const uids = this.#uidlist.state!
    return {
      uidValidity: uids.uidValidity,
      uidNext: uids.nextUid,
      messages: this.#entries.size,
      keywords: this.#keywords.table.names(),
      keywordsFull: this.#keywords.table.full,
    }
  }

  /** UID and flags of every message, ascending: always from a fresh scan. */
  async list(): Promise<Array<{uid: number; flags: string[]}>> {
    await this.refresh()
    return [...this.#entries.values()].sort((a, b) => a.uid - b.uid).map((entry) => ({uid: entry.uid, flags: this.#flagsOf(entry)}))
  }

  /** UIDs known from the last scan (scanning first if there was none). */
  async uids(): Promise<number[]> {
    if (!this.#scanned) await this.refresh()
    return [...this.#entries.keys()].sort((a, b) => a - b)
  }

  /** Size, date, flags and header block of one message, or undefined when it is gone. */
  async meta(uid: number): Promise<FileMeta | undefined> {
    return this.#withFile(uid, (path, entry) => readMeta(path, entry.base, uid, this.#flagsOf(entry)))
  }

  /** The whole message with CRLF line ends, its flags and date, or undefined when it is gone. */
  async read(uid: number): Promise<{raw: Buffer; flags: string[]; internalDate: Date} | undefined> {
    return this.#withFile(uid, async (path, entry) => ({...(await readWhole(path)), flags: this.#flagsOf(entry)}))
  }

  /** Runs fn on the message's current file; rescans once when it moved (flags changed by someone else). */
  async #withFile<T>(uid: number, fn: (path: string, entry: Entry) => Promise<T>): Promise<T | undefined> {
    if (!this.#scanned) await this.refresh()
    for (let attempt = 0; attempt < 2; attempt++) {
      const entry = this.#entries.get(uid)
      if (entry) {
        try {
          return await fn(join(this.dir, entry.sub, entry.name), entry)
        } catch (error) {
          if (!isMissing(error)) throw error
        }
      }
      if (attempt === 0) await this.refresh()
    }
    return undefined
  }

  #flagsOf(entry: Entry): string[] {
    return flagsFromInfo(splitFileName(entry.name).info, (index) => this.#keywords.table.nameAt(index))
  }

  /** The scan itself; runs inside the mutex (`locked`: inside the dotlock too). */
  async #scan(locked = false): Promise<void> {
    if (!(await this.exists())) throw new FolderMissingError(`no Maildir folder at ${this.dir} (no cur/ directory)`)
    await this.#uidlist.load()
    if (!this.#uidlist.state) {
      if (locked) await this.#uidlist.create()
      else await this.#withLock(async () => undefined)
    }
    await this.#keywords.load()

    const files = await listMessageFiles(this.dir)
    let unknown = [...files.keys()].filter((base) => !this.#uidlist.state!.byBase.has(base))
    if (unknown.length > 0) {
      const assign = async () => {
        unknown = unknown.filter((base) => !this.#uidlist.state!.byBase.has(base))
        // Dovecot's order for new files: by name, which starts with the delivery time.
        unknown.sort()
        await this.#uidlist.append(unknown)
      }
      if (locked) await assign()
      else await this.#withLock(assign)
    }
    const entries = new Map<number, Entry>()
    for (const [base, file] of files) {
      const uid = this.#uidlist.state!.byBase.get(base)
      if (uid !== undefined) entries.set(uid, {uid, base, ...file})
    }
    this.#entries = entries
    this.#scanned = true
  }

  /**
   * Runs fn under dovecot-uidlist.lock with the uidlist and keywords freshly loaded; creates the
   * uidlist first when there is none. Even a read-only source gets its uidlist written when files
   * lack UIDs (as Dovecot does on EXAMINE): stable UIDs are what make re-runs incremental.
   */
  async #withLock<T>(fn: () => Promise<T>): Promise<T> {
    return withDotLock(this.#uidlist.path, async () => {
      await this.#uidlist.load()
      if (!this.#uidlist.state) await this.#uidlist.create()
      await this.#keywords.load()
      return fn()
    })
  }

  // -------------------------------------------------------------------------------------------
  // Writing

  /** Stores a message; returns its UID and the keywords that found no letter. */
  async append(raw: Buffer, flags: string[], internalDate: Date): Promise<{uid: number; uidValidity: number; dropped: string[]}> {
    if (this.#readOnly) throw new ReadOnlyError('the store is read-only')
    const base = newBaseName({time: new Date(), sequence: ++sequence, pid: process.pid, host: HOST, size: raw.length, vsize: virtualSize(raw)})
    const tmpPath = join(this.dir, 'tmp', base)
    const handle = await this.#openTmp(tmpPath)
    let renamed = false
    try {
      try {
        await handle.writeFile(raw)
        await handle.sync()
      } finally {
        await handle.close()
      }
      await utimes(tmpPath, internalDate, internalDate)
      const committed = await new Promise<Committed>((resolve, reject) => {
        this.#pending.push({base, tmpPath, flags, resolve, reject})
        // The first of a batch schedules its commit; the ones that arrive until it runs join it.
        if (this.#pending.length === 1) void this.#mutex.run(() => this.#commitPending())
      })
      renamed = true
      return committed
    } finally {
      if (!renamed) await unlink(tmpPath).catch(() => undefined)
    }
  }

  /**
   * A new file in tmp/. A folder whose creation a kill cut short has cur/ (so it exists and is
   * listed) but may lack new/ and tmp/: they are made now, rather than every append failing.
   */
  async #openTmp(path: string): Promise<FileHandle> {
    try {
      return await open(path, 'wx', FILE_MODE)
    } catch (error) {
      if (!isMissing(error) || !(await this.exists())) throw error
      for (const sub of ['new', 'tmp']) await mkdir(join(this.dir, sub), {recursive: true, mode: DIR_MODE})
      return open(path, 'wx', FILE_MODE)
    }
  }

  /**
   * Group commit: every message waiting in tmp/ is renamed into cur/ and gets its uidlist line
   * under one lock, with one write and one fdatasync of the uidlist (inside the mutex).
   */
  async #commitPending(): Promise<void> {
    const batch = this.#pending.splice(0)
    if (batch.length === 0) return
    const done: Array<{item: PendingAppend; name: string; dropped: string[]}> = []
    const committed: Array<{item: PendingAppend; result: Committed}> = []
    let failure: unknown
    try {
      await this.#withLock(async () => {
        try {
          const infos = await this.#keywords.infos(batch.map((item) => item.flags))
          for (const [i, item] of batch.entries()) {
            const name = withInfo(item.base, infos[i].info)
            await rename(item.tmpPath, join(this.dir, 'cur', name))
            done.push({item, name, dropped: infos[i].dropped})
          }
        } finally {
          // What reached cur/ gets its UID even when a later rename failed; the renames are made
          // durable first, so that no uidlist line can outlive its file in a power cut.
          if (done.length > 0) await fsyncDir(join(this.dir, 'cur'))
          const uids = await this.#uidlist.append(done.map(({item}) => item.base))
          for (const [i, {item, name, dropped}] of done.entries()) {
            this.#entries.set(uids[i], {uid: uids[i], base: item.base, sub: 'cur', name})
            committed.push({item, result: {uid: uids[i], uidValidity: this.#uidlist.state!.uidValidity, dropped}})
          }
        }
      })
    } catch (error) {
      failure = error
    }
    // Answered once the lock is released.
    for (const {item, result} of committed) item.resolve(result)
    for (const item of batch.slice(committed.length)) item.reject(failure)
  }

  /**
   * Adds and removes flags by renaming each message's file (new/ -> cur/), under one lock, with one
   * fsync per directory at the end. Messages that are gone are ignored. Returns the keywords that
   * found no letter.
   */
  async setFlags(uids: number[], add: string[], remove: string[]): Promise<string[]> {
    if (this.#readOnly) throw new ReadOnlyError('the store is read-only')
    const removed = new Set(remove.map((flag) => flag.toLowerCase()))
    const added = add.filter((flag) => !removed.has(flag.toLowerCase()))
    const dropped = new Set<string>()
    const touched = new Set<Sub>()
    await this.#mutex.run(() =>
      this.#withLock(async () => {
        try {
          if (!this.#scanned) await this.#scan(true)
          for (const uid of uids) {
            for (let attempt = 0; attempt < 2; attempt++) {
              if (attempt === 1) await this.#scan(true)
              const entry = this.#entries.get(uid)
              if (!entry) break
              const kept = this.#flagsOf(entry).filter((flag) => !removed.has(flag.toLowerCase()))
              const [result] = await this.#keywords.infos([[...kept, ...added]], splitFileName(entry.name).info)
              for (const keyword of result.dropped) dropped.add(keyword)
              const name = withInfo(entry.base, result.info)
              if (name === entry.name && entry.sub === 'cur') break
              try {
                await rename(join(this.dir, entry.sub, entry.name), join(this.dir, 'cur', name))
              } catch (error) {
                if (isMissing(error)) continue
                throw error
              }
              touched.add(entry.sub).add('cur')
              this.#entries.set(uid, {...entry, sub: 'cur', name})
              break
            }
          }
        } finally {
          for (const sub of touched) await fsyncDir(join(this.dir, sub))
        }
      }),
    )
    return [...dropped]
  }

  /**
   * Moves one message into another folder of the same Maildir: the file is renamed into the
   * target's cur/ (its keyword letters recomputed for the target's dovecot-keywords) and gets a UID
   * there. Undefined when the message is gone. A crash in between leaves the file in the target
   * without a UID: the next scan gives it one.
   */
  async moveTo(uid: number, target: MaildirFolder): Promise<{uid: number; uidValidity: number; dropped: string[]} | undefined> {
    if (this.#readOnly || target.#readOnly) throw new ReadOnlyError('the store is read-only')
    if (!this.#scanned) await this.refresh()
    for (let attempt = 0; attempt < 2; attempt++) {
      const entry = this.#entries.get(uid)
      if (!entry) return undefined
      const from = join(this.dir, entry.sub, entry.name)
      try {
        const moved = await target.#adopt(from, entry.base, this.#flagsOf(entry))
        this.#entries.delete(uid)
        return moved
      } catch (error) {
        if (!isMissing(error)) throw error
        // Renamed under our feet (a flag change by someone else): look again once.
        if (attempt === 0) await this.refresh()
      }
    }
    return undefined
  }

  /** Takes a file of another folder into cur/ with `flags` and gives it the next UID. */
  async #adopt(from: string, base: string, flags: string[]): Promise<{uid: number; uidValidity: number; dropped: string[]}> {
    return this.#mutex.run(() =>
      this.#withLock(async () => {
        const [{info, dropped}] = await this.#keywords.infos([flags])
        const name = withInfo(base, info)
        await rename(from, join(this.dir, 'cur', name))
        // Both directories: the file must not come back in the old folder after a power cut.
        await fsyncDir(join(this.dir, 'cur'))
        await fsyncDir(dirname(from))
        const [uid] = await this.#uidlist.append([base])
        this.#entries.set(uid, {uid, base, sub: 'cur', name})
        return {uid, uidValidity: this.#uidlist.state!.uidValidity, dropped}
      }),
    )
  }

  /** Deletes the messages' files. Their uidlist lines stay (Dovecot drops them when it rewrites the file). */
  async delete(uids: number[]): Promise<void> {
    if (this.#readOnly) throw new ReadOnlyError('the store is read-only')
    const touched = new Set<Sub>()
    await this.#mutex.run(async () => {
      if (!this.#scanned) await this.#scan()
      for (const uid of uids) {
        for (let attempt = 0; attempt < 2; attempt++) {
          const entry = this.#entries.get(uid)
          if (!entry) break
          try {
            await unlink(join(this.dir, entry.sub, entry.name))
            touched.add(entry.sub)
            this.#entries.delete(uid)
            break
          } catch (error) {
            if (!isMissing(error)) throw error
            if (attempt === 0) await this.#scan()
          }
        }
      }
      // A deletion that a power cut undoes would bring a deleted message back.
      for (const sub of touched) await fsyncDir(join(this.dir, sub))
    })
  }
}
