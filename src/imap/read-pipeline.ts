/**
 * Batched body reads on a raw connection that keeps several commands in flight (wire.ts), beside the
 * session pool. A read is `UID FETCH <set> (UID FLAGS INTERNALDATE BODY.PEEK[])`, sent right behind
 * an EXAMINE when its connection has another folder selected: one round trip where a session needs
 * two, and reads of several folders share the connection instead of waiting for a session each
 * (docs/design.md, "Round trips per folder").
 *
 * It only ever speeds reads up. Whatever goes wrong (a refused EXAMINE or FETCH, a lost connection, a
 * connection that cannot be opened, a body whose size is not the one listed, a UID the answer lacks)
 * leaves those messages to the pool's sessions (fetch-batcher.ts), which say what is wrong and retry
 * as every other read does. A failed EXAMINE deselects (RFC 9051 6.3.2), so the FETCH behind it can
 * never read another folder.
 */
import {fetchSeq, hasUid, readFetchItems, type FetchRow, type Row} from './fetch-items.js'
import {compactUids} from './uidset.js'
import type {WireConnection, WireResponse} from './wire.js'

const ITEMS = ['UID', 'FLAGS', 'INTERNALDATE'].map((value) => ({type: 'ATOM', value}))
const BODY = {type: 'ATOM', value: 'BODY.PEEK', section: []}

interface Reader {
  connection: WireConnection
  /** The folder the last EXAMINE sent on it asked for, and the pass it was sent in. */
  selected?: string
  pass?: string
  /**
   * The folders of the commands sent and not yet answered, oldest first. An untagged FETCH names
   * neither its command nor its folder, and every command in flight sees it (wire.ts); it is of the
   * folder of the oldest one: a server runs an EXAMINE only once the commands before it are done
   * (RFC 9051 5.5), and answers a command's rows before its tagged OK.
   */
  sent: Array<{folder: string; done: boolean}>
}

export class ReadPipeline {
  readonly #connect: () => Promise<WireConnection>
  readonly #onRefused: (error: unknown) => void
  #reader?: Reader
  #opening?: Promise<Reader | undefined>
  /** No more connections: one could not be opened, or the store closed. */
  #off = false

  /** onRefused: the connection could not be opened (reads go to the sessions from then on). */
  constructor(connect: () => Promise<WireConnection>, onRefused: (error: unknown) => void) {
    this.#connect = connect
    this.#onRefused = onRefused
  }

  /**
   * Reads the messages of `uids` in `path` (the folder as listed); `pass` changes when the folder is
   * to be looked at afresh (a session's view of it is synced once per pass: folder-sessions.ts).
   * Calls onRow for each row with a UID and a body, and resolves once the server answered OK; throws
   * anything else. Rows handed on before a failure stay handed on.
   */
  async read(path: string, pass: string, uids: number[], onRow: (row: Row & {body: Buffer}) => void): Promise<void> {
    const reader = this.#reader?.connection.usable ? this.#reader : await (this.#opening ??= this.#open())
    if (!reader) throw new Error('no connection for pipelined reads')
    const {connection} = reader
    let examine: Promise<unknown> | undefined
    if (reader.selected !== path || reader.pass !== pass) {
      reader.selected = path
      reader.pass = pass
      examine = connection.command('EXAMINE', [connection.mailbox(path)], {onDone: track(reader, path)}).catch((error: unknown) => {
        if (reader.selected === path) reader.selected = undefined
        throw error
      })
      // Its failure is what read() reports; the FETCH behind it fails too.
      examine.catch(() => undefined)
    }
    const rows = new Map<number, FetchRow>()
    const onUntagged = (response: WireResponse) => {
      const seq = fetchSeq(response)
      if (seq === undefined || reader.sent[0]?.folder !== path) return
      const row = rows.get(seq) ?? {}
      readFetchItems(response.attributes?.[1], row)
      if (hasUid(row) && row.body) {
        rows.delete(seq)
        onRow(row as Row & {body: Buffer})
      } else rows.set(seq, row)
    }
    const fetch = connection.command('UID FETCH', [{type: 'SEQUENCE', value: compactUids(uids)}, [...ITEMS, BODY]], {onUntagged, onDone: track(reader, path)})
    try {
      await examine
    } finally {
      await fetch.catch(() => undefined)
    }
    await fetch
  }

  /** Logs the connection out; later reads throw (the sessions read instead). */
  async close(): Promise<void> {
    this.#off = true
    await this.#renew()
  }

  /** Reads from now on go over a new connection (ConnectionPool.renew); this one logs out now, and a read still in flight on it is read again on a session. */
  renew(): void {
    void this.#renew()
  }

  async #renew(): Promise<void> {
    const reader = this.#reader
    this.#reader = undefined
    await reader?.connection.logout().catch(() => undefined)
  }

  /** A new connection, or undefined when none can be had (then none is tried again). */
  async #open(): Promise<Reader | undefined> {
    try {
      if (this.#off) return undefined
      const reader: Reader = {connection: await this.#connect(), sent: []}
      if (this.#off) {
        void reader.connection.logout().catch(() => undefined)
        return undefined
      }
      return (this.#reader = reader)
    } catch (error) {
      this.#off = true
      this.#onRefused(error)
      return undefined
    } finally {
      this.#opening = undefined
    }
  }
}

/** Notes a command of `folder` as sent (call it before sending); returns its onDone. */
function track(reader: Reader, folder: string): () => void {
  const entry = {folder, done: false}
  reader.sent.push(entry)
  return () => {
    entry.done = true
    while (reader.sent[0]?.done) reader.sent.shift()
  }
}
