/**
 * A folder's dovecot-uidlist on disk (its format: uidlist.ts): read again only when it changed,
 * created with a new UIDVALIDITY, and new files' lines appended and fsynced. Every write happens
 * under the folder's dovecot-uidlist.lock, which the caller holds (folder.ts, lock.ts).
 */
import {randomBytes} from 'node:crypto'
import {open, readFile, type FileHandle} from 'node:fs/promises'

import {writePrivateFile} from '../../files.js'
import {sameStamp, stampOf, type Stamp} from './stamp.js'
import {completeLength, formatHeader, formatRecord, nextUid as uidlistNextUid, parseUidlist} from './uidlist.js'

export interface UidState {
  /** 3, or 1 for an old file (rewritten as 3 before anything is appended). */
  version: number
  uidValidity: number
  nextUid: number
  byBase: Map<string, number>
  stamp: Stamp
}

/** UIDVALIDITY for new folders: the time in seconds, increasing within the process (Dovecot uses a counter). */
let lastValidity = 0
function newUidValidity(): number {
  lastValidity = Math.max(Math.floor(Date.now() / 1000), lastValidity + 1)
  return lastValidity
}

export class UidlistFile {
  readonly path: string
  #state?: UidState

  constructor(path: string) {
    this.path = path
  }

  /** What the file said at the last load() or write; undefined when there is no file. */
  get state(): Readonly<UidState> | undefined {
    return this.#state
  }

  /** Reads the file when it changed since it was last read or written. */
  async load(): Promise<void> {
    const stamp = await stampOf(this.path)
    if (!stamp) {
      this.#state = undefined
      return
    }
    if (this.#state && sameStamp(this.#state.stamp, stamp)) return
    const list = parseUidlist(await readFile(this.path, 'utf8'))
    const byBase = new Map<string, number>()
    for (const record of list.records) byBase.set(record.base, record.uid)
    this.#state = {version: list.header.version, uidValidity: list.header.uidValidity, nextUid: uidlistNextUid(list), byBase, stamp}
  }

  /** A new, empty uidlist with a new UIDVALIDITY (inside the lock). */
  async create(): Promise<void> {
    const uidValidity = newUidValidity()
    const text = formatHeader({uidValidity, nextUid: 1, guid: randomBytes(16).toString('hex'), extra: []})
    await writePrivateFile(this.path, text)
    this.#state = {version: 3, uidValidity, nextUid: 1, byBase: new Map(), stamp: (await stampOf(this.path))!}
  }

  /** Gives the bases the next UIDs and appends their lines (inside the lock, after load()). Returns the UIDs. */
  async append(bases: string[]): Promise<number[]> {
    const state = this.#state!
    if (bases.length === 0) return []
    if (state.version !== 3) await this.#upgrade(state)
    const assigned = bases.map((base, i) => ({uid: state.nextUid + i, base}))
    const handle = await open(this.path, 'r+')
    try {
      // A process killed mid-append can leave a torn last line: cut it off (readers ignore it too),
      // or our first line would be glued to it.
      const size = (await handle.stat()).size
      const end = await completeEnd(handle, size)
      if (end < size) await handle.truncate(end)
      await handle.write(assigned.map(formatRecord).join(''), end)
      await handle.datasync()
    } finally {
      await handle.close()
    }
    for (const {uid, base} of assigned) state.byBase.set(base, uid)
    state.nextUid += assigned.length
    state.stamp = (await stampOf(this.path))!
    return assigned.map((a) => a.uid)
  }

  /** Rewrites an old (version 1) uidlist as version 3, keeping every UID. */
  async #upgrade(state: UidState): Promise<void> {
    const records = [...state.byBase].map(([base, uid]) => ({uid, base})).sort((a, b) => a.uid - b.uid)
    const header = formatHeader({uidValidity: state.uidValidity, nextUid: state.nextUid, guid: randomBytes(16).toString('hex'), extra: []})
    await writePrivateFile(this.path, header + records.map(formatRecord).join(''))
    state.version = 3
    state.stamp = (await stampOf(this.path))!
  }
}

/** Where the file's last whole line ends (its size when it has no line end at all: nothing to cut). */
async function completeEnd(handle: FileHandle, size: number): Promise<number> {
  for (let chunk = 4096; ; chunk *= 4) {
    const start = Math.max(0, size - chunk)
    const tail = Buffer.alloc(size - start)
    const {bytesRead} = await handle.read(tail, 0, tail.length, start)
    const complete = completeLength(tail.subarray(0, bytesRead))
    if (complete > 0) return start + complete
    if (start === 0) return size
  }
}
