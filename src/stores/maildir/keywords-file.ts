/**
 * A folder's dovecot-keywords on disk (its format: keywords.ts): read again only when it changed,
 * and written when new keywords took letters. Writes happen under the folder's dovecot-uidlist.lock,
 * which the caller holds (folder.ts, lock.ts).
 */
import {readFile, utimes} from 'node:fs/promises'

import {writePrivateFile} from '../../files.js'
import {infoWithFlags} from './filename.js'
import {KeywordTable} from './keywords.js'
import {sameStamp, stampOf, type Stamp} from './stamp.js'

export class KeywordsFile {
  readonly path: string
  #table = new KeywordTable()
  #stamp?: Stamp

  constructor(path: string) {
    this.path = path
  }

  /** What the file said at the last load() or write (empty when there is no file). */
  get table(): KeywordTable {
    return this.#table
  }

  /** Reads the file when it changed since the last load or write. */
  async load(): Promise<void> {
    const stamp = await stampOf(this.path)
    if (!stamp) {
      this.#table = new KeywordTable()
      this.#stamp = undefined
      return
    }
    if (sameStamp(this.#stamp, stamp)) return
    this.#table = KeywordTable.parse(await readFile(this.path, 'utf8'))
    this.#stamp = stamp
  }

  /**
   * The file-name info for each set of flags (over `oldInfo`), with the keywords that found no
   * letter; new keywords take letters, and the file is written at most once. Inside the lock.
   */
  async infos(flagSets: string[][], oldInfo: string | null = null): Promise<Array<{info: string; dropped: string[]}>> {
    const before = this.#table.format()
    const results = flagSets.map((flags) => infoWithFlags(oldInfo, flags, (keyword) => this.#table.assign(keyword)))
    if (this.#table.format() !== before) await this.#write()
    return results
  }

  async #write(): Promise<void> {
    const previous = this.#stamp
    await writePrivateFile(this.path, this.#table.format())
    let stamp = (await stampOf(this.path))!
    // Dovecot re-reads the file only when its mtime (in seconds) changed: make it grow.
    if (previous && Math.floor(stamp.mtimeMs / 1000) <= Math.floor(previous.mtimeMs / 1000)) {
      const next = new Date((Math.floor(previous.mtimeMs / 1000) + 1) * 1000)
      await utimes(this.path, next, next)
      stamp = (await stampOf(this.path))!
    }
    this.#stamp = stamp
  }
}
