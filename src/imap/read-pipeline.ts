/**
 * Batched body reads and folder listings on a raw connection that keeps several commands in flight
 * (wire.ts), beside the session pool. A read is `UID FETCH <set> (UID FLAGS INTERNALDATE BODY.PEEK[])`,
 * sent right behind an EXAMINE when its connection has another folder selected: one round trip where a
 * session needs two, and reads of several folders share the connection instead of waiting for a
 * session each (docs/design.md, "Round trips per folder"). A listing is an EXAMINE and a
 * `UID FETCH 1:*` of what the engine needs of each message, sent together; a status is an EXAMINE.
 *
 * It only ever speeds reads up. Whatever goes wrong (a refused EXAMINE or FETCH, a lost connection, a
 * connection that cannot be opened, a body whose size is not the one listed, a UID the answer lacks)
 * leaves those messages to the pool's sessions (fetch-batcher.ts), which say what is wrong and retry
 * as every other read does. A failed EXAMINE deselects (RFC 9051 6.3.2), so the FETCH behind it can
 * never read another folder.
 */
import {FolderError} from '../errors.js'
import type {FolderPeek, FolderStatus} from '../stores/store.js'
import {ExamineReport, ListingRows, examineArguments, settleBoth} from './examine.js'
import {fetchSeq, hasUid, readFetchItems, type FetchRow, type Row} from './fetch-items.js'
import {iterateRange} from './imapflow.js'
import {compactUids} from './uidset.js'
import type {Logger} from '../log.js'
import {Watchdog} from './watchdog.js'
import type {WireConnection, WireResponse} from './wire.js'
import {statusOf} from './wire-status.js'

const atom = (value: string) => ({type: 'ATOM', value})
const ITEMS = ['UID', 'FLAGS', 'INTERNALDATE'].map(atom)
const BODY = {type: 'ATOM', value: 'BODY.PEEK', section: []}
/** A listing's items: as listings.ts listMeta asks a session for them. */
const LISTING = [...['UID', 'FLAGS', 'RFC822.SIZE', 'INTERNALDATE'].map(atom), {type: 'ATOM', value: 'BODY.PEEK', section: [atom('HEADER.FIELDS'), [atom('MESSAGE-ID')]]}]
/** A flag listing's items: as listings.ts listFlags asks a session for them. */
const FLAGS = ['UID', 'FLAGS'].map(atom)

interface ListingOptions {
  condstore: boolean
  /** The UIDVALIDITY the caller's UIDs were taken under, when it knows it: another one fails the folder. */
  uidValidity?: number
  where: string
}

/** A command sent and not yet answered. */
interface Sent {
  /**
   * The folder of a body read (undefined for any other command). A read's rows may come while another
   * read of its folder is answered: the server may run both at once.
   */
  readOf?: string
  done: boolean
}

interface Reader {
  connection: WireConnection
  /** The folder the last EXAMINE sent on it asked for, and the pass it was sent in (undefined: a read must EXAMINE). */
  selected?: string
  pass?: string
  /** The folder the last EXAMINE sent asked for, whatever the reads must do. */
  examined?: string
  /**
   * The commands sent and not yet answered, oldest first. An untagged FETCH names neither its command
   * nor its folder, and every command in flight sees it (wire.ts); it is the oldest one's: a server
   * runs an EXAMINE only once the commands before it are done (RFC 9051 5.5), and answers a
   * command's rows before its tagged OK.
   */
  sent: Sent[]
  /** Called when the last command in flight was answered. */
  onIdle?: () => void
  /** QRESYNC is enabled on it (RFC 7162 3.2.3), so a CHANGEDSINCE listing can report VANISHED. */
  qresync: Promise<boolean>
}

export interface ReadPipelineOptions {
  /** Opens and logs in the connection. */
  connect: () => Promise<WireConnection>
  /** The connection could not be opened (reads go to the sessions from then on). */
  onRefused: (error: unknown) => void
  /**
   * Set when the connection takes the place of the store's only session (docs/design.md, "One
   * connection a side"): it is logged out whenever it is idle and this says that tasks wait for a
   * session, and opened again (in that place) by the next read.
   */
  yieldTo?: () => boolean
  /** For the warning of a missed hand-over. */
  logger?: Logger
  where?: string
}

export class ReadPipeline {
  readonly #options: ReadPipelineOptions
  #reader?: Reader
  #opening?: Promise<Reader | undefined>
  /** No more connections: one could not be opened, or the store closed. */
  #off = false
  readonly #handOver: Watchdog

  constructor(options: ReadPipelineOptions) {
    this.#options = options
    this.#handOver = new Watchdog(options.logger, `${options.where}: sessions waited beside an idle connection for reads; it makes way now`)
  }

  /** Sessions wait: an idle connection in the session's place gives it back (yieldTo). */
  wake(): void {
    const reader = this.#reader
    if (reader && reader.sent.length === 0) this.#yield(reader)
    this.#handOver.arm(() => {
      const idle = this.#reader
      const missed = idle?.sent.length === 0 && this.#options.yieldTo?.() === true
      if (missed) this.#yield(idle)
      return missed
    })
  }

  #yield(reader: Reader): void {
    if (!this.#options.yieldTo?.() || this.#reader !== reader) return
    this.#reader = undefined
    void reader.connection.logout().catch(() => undefined)
  }

  /**
   * Reads the messages of `uids` in `path` (the folder as listed); `pass` changes when the folder is
   * to be looked at afresh (a session's view of it is synced once per pass: folder-sessions.ts).
   * Calls onRow for each row with a UID and a body, and resolves once the server answered OK; throws
   * anything else. Rows handed on before a failure stay handed on.
   */
  async read(path: string, pass: string, uids: number[], onRow: (row: Row & {body: Buffer}) => void): Promise<void> {
    const reader = await this.#connection()
    const {connection} = reader
    let examine: Promise<unknown> | undefined
    if (reader.selected !== path || reader.pass !== pass) examine = this.#examine(reader, path, pass).done
    const rows = new Map<number, FetchRow>()
    const onUntagged = (response: WireResponse) => {
      const seq = fetchSeq(response)
      const oldest = reader.sent[0]
      if (seq === undefined || oldest?.readOf !== path) return
      const row = rows.get(seq) ?? {}
      readFetchItems(response.attributes?.[1], row)
      if (hasUid(row) && row.body) {
        rows.delete(seq)
        onRow(row as Row & {body: Buffer})
      } else rows.set(seq, row)
    }
    const fetch = connection.command('UID FETCH', [{type: 'SEQUENCE', value: compactUids(uids)}, [...ITEMS, BODY]], {onUntagged, onDone: track(reader, path).onDone})
    await settleBoth(examine, fetch)
  }

  /** The folder's status, from an EXAMINE of its own (with CONDSTORE's parameter where asked for and offered). */
  async status(path: string, pass: string, condstore: boolean): Promise<FolderStatus> {
    const reader = await this.#connection()
    const examine = this.#examine(reader, path, pass, condstore)
    await examine.done
    return examine.report.status()
  }

  /**
   * The folder's status and its messages' (or those of the UID set `uids`) UID, flags, size, internal date and Message-ID header field,
   * from an EXAMINE and a `UID FETCH 1:*` sent together. Every row comes while the FETCH is the oldest
   * command not answered: the EXAMINE before it is answered first, and the command after it is
   * another EXAMINE (the next read of this folder sends one), which the server runs only once the
   * FETCH is done. Throws a FolderError, and closes the connection, when the server lists more
   * messages than the folder holds (as listings.ts checkListingLength); and when the folder's
   * UIDVALIDITY is not `uidValidity` (the one its UIDs were taken under, when the caller knows it).
   */
  async list(path: string, pass: string, options: ListingOptions & {uids?: string}): Promise<{status: FolderStatus; rows: Row[]}> {
    return this.#listing(await this.#connection(), path, pass, [LISTING], options)
  }

  /**
   * UID and flags of the folder's messages, as listings.ts listFlags on a session: with `changedSince`
   * (RFC 7162 CHANGEDSINCE) only those changed since, and with QRESYNC enabled on the connection the
   * UIDs expunged since go to `onVanished` (VANISHED (EARLIER), RFC 7162 3.2.6). Undefined when
   * `onVanished` is asked for and the connection cannot report it (a session then lists).
   */
  async listFlags(path: string, pass: string, options: ListingOptions & {changedSince?: bigint; onVanished?: (uid: number) => void}): Promise<Row[] | undefined> {
    const reader = await this.#connection()
    const {changedSince} = options
    // VANISHED answers only a CHANGEDSINCE listing.
    const onVanished = changedSince === undefined ? undefined : options.onVanished
    if (onVanished && !(await reader.qresync)) return undefined
    const modifiers = changedSince === undefined ? [] : [[atom('CHANGEDSINCE'), atom(changedSince.toString()), ...(onVanished ? [atom('VANISHED')] : [])]]
    const {status, rows} = await this.#listing(reader, path, pass, [FLAGS, ...modifiers], {...options, onVanished})
    // As a session, which lists nothing of a folder that is empty now.
    return status.messages === 0 ? [] : rows
  }

  async #listing(
    reader: Reader,
    path: string,
    pass: string,
    items: unknown[],
    options: ListingOptions & {uids?: string; onVanished?: (uid: number) => void},
  ): Promise<{status: FolderStatus; rows: Row[]}> {
    const {where} = options
    const {connection} = reader
    const examine = this.#examine(reader, path, pass, options.condstore)
    // The next read of this folder sends an EXAMINE first, so that its rows never meet this listing's.
    reader.selected = undefined
    const sent = track(reader)
    const listing = new ListingRows(connection, () => examine.report.exists, {where, path})
    const vanished: unknown[] = []
    const onUntagged = (response: WireResponse) => {
      if (reader.sent[0] !== sent.entry) return
      if (options.onVanished) vanishedEarlier(response, vanished)
      listing.read(response)
    }
    const fetch = connection.command('UID FETCH', [{type: 'SEQUENCE', value: options.uids ?? '1:*'}, ...items], {onUntagged, onDone: sent.onDone})
    try {
      await settleBoth(examine.done, fetch)
    } catch (error) {
      throw listing.failure ?? error
    }
    const status = examine.report.status()
    if (options.uidValidity !== undefined && status.uidValidity !== options.uidValidity) {
      throw new FolderError(`${where}: folder "${path}": its UIDVALIDITY changed during the run (${options.uidValidity} -> ${status.uidValidity})`, {
        hint: 're-run: its messages are matched again by content, none is copied twice',
      })
    }
    // Read as imapflow reads them for a session (its total bound included), and only UIDs the folder
    // has given out (below UIDNEXT).
    for (const set of vanished) for (const uid of iterateRange(set)) if (uid < status.uidNext) options.onVanished!(uid)
    return {status, rows: listing.rows()}
  }

  /**
   * The folder's STATUS (wire-status.ts), or undefined when this connection may have it selected:
   * Dovecot answers STATUS on the selected folder from the connection's last view of it (the caller
   * asks a session, which sends a NOOP first). Tracked like any command here: an untagged FETCH that
   * comes while it is answered belongs to no read or listing.
   */
  async peek(path: string, condstore: boolean): Promise<FolderPeek | undefined> {
    const reader = await this.#connection()
    if (reader.examined === path) return undefined
    return statusOf(reader.connection, path, condstore, track(reader).onDone)
  }

  /** The connection, opened when there is none; throws when none can be had. */
  async #connection(): Promise<Reader> {
    const reader = this.#reader?.connection.usable ? this.#reader : await (this.#opening ??= this.#open())
    if (!reader) throw new Error('no connection for pipelined reads')
    return reader
  }

  /** Sends an EXAMINE of the folder (the connection has it selected from now on); its failure deselects. */
  #examine(reader: Reader, path: string, pass: string, condstore = false): {report: ExamineReport; done: Promise<unknown>} {
    reader.selected = path
    reader.pass = pass
    reader.examined = path
    const report = new ExamineReport()
    const sent = track(reader)
    const onUntagged = (response: WireResponse) => {
      if (reader.sent[0] === sent.entry) report.read(response)
    }
    const {connection} = reader
    const done = connection.command('EXAMINE', examineArguments(connection, path, condstore), {onUntagged, onDone: sent.onDone}).catch((error: unknown) => {
      // A failed EXAMINE deselects (RFC 9051 6.3.2): whatever is sent next must EXAMINE again.
      if (reader.selected === path) reader.selected = undefined
      throw error
    })
    // Its failure is what the caller reports; a FETCH behind it fails too.
    done.catch(() => undefined)
    return {report, done}
  }

  /** Logs the connection out; later reads throw (the sessions read instead). */
  async close(): Promise<void> {
    this.#off = true
    this.#handOver.stop()
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
      const reader: Reader = {connection: await this.#options.connect(), sent: [], qresync: Promise.resolve(false)}
      reader.qresync = enableQresync(reader)
      reader.onIdle = () => this.#yield(reader)
      if (this.#off) {
        void reader.connection.logout().catch(() => undefined)
        return undefined
      }
      return (this.#reader = reader)
    } catch (error) {
      this.#off = true
      this.#options.onRefused(error)
      return undefined
    } finally {
      this.#opening = undefined
    }
  }
}

/**
 * ENABLE QRESYNC (RFC 7162 3.2.3, RFC 5161) where offered, not waited for: commands sent after it run
 * after it. Resolves with whether the server said ENABLED QRESYNC.
 */
function enableQresync(reader: Reader): Promise<boolean> {
  const {connection} = reader
  if (!connection.capabilities.has('QRESYNC')) return Promise.resolve(false)
  let enabled = false
  const sent = track(reader)
  const onUntagged = (response: WireResponse) => {
    if (reader.sent[0] === sent.entry && response.command.toUpperCase() === 'ENABLED') {
      enabled ||= (response.attributes ?? []).some((a: {value?: unknown}) => String(a?.value).toUpperCase() === 'QRESYNC')
    }
  }
  return connection.command('ENABLE', [atom('QRESYNC')], {onUntagged, onDone: sent.onDone}).then(() => enabled, () => false)
}

/** The UID set of a VANISHED (EARLIER) response (RFC 7162 3.2.10) into `into`; other responses are left alone. */
function vanishedEarlier(response: WireResponse, into: unknown[]): void {
  if (response.command.toUpperCase() !== 'VANISHED') return
  const [tag, set] = response.attributes ?? []
  if (Array.isArray(tag) && String(tag[0]?.value).toUpperCase() === 'EARLIER') into.push(set?.value)
}

/** Notes a command as sent (call it before sending), a body read of `readOf`; returns its entry and its onDone. */
function track(reader: Reader, readOf?: string): {entry: Sent; onDone: () => void} {
  const entry: Sent = {readOf, done: false}
  reader.sent.push(entry)
  const onDone = () => {
    entry.done = true
    while (reader.sent[0]?.done) reader.sent.shift()
    if (reader.sent.length === 0) reader.onIdle?.()
  }
  return {entry, onDone}
}
