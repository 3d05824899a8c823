/**
 * Where an IMAP store's folder listings are served from (ImapStore's status, peek, listFlags,
 * listMeta, scanHeaders, scanSizes, fetchHeaders): a raw pipelined connection first where one can
 * take them (the source's read connection while every session is busy or in the only place, the
 * destination's APPEND connection in the only place, the scan connections of check, plan and
 * verify), else the pool's sessions, which also take whatever failed there (#orSession): they say
 * what is wrong and retry as every other read does. It keeps what the listings learn per folder (the
 * UIDVALIDITY status() reported, the listed sizes) until the folder is forgotten.
 */
import {describeError, FolderError} from '../errors.js'
import type {AppendPipeline} from '../imap/append-pipeline.js'
import type {FolderSessions} from '../imap/folder-sessions.js'
import {scanFolder, scanSizes} from '../imap/folder-scan.js'
import {fetchHeaderBlocks, listFlags, listHeadered, listMeta, listSizes, metasOfRows, peekFolder, selectedStatus} from '../imap/listings.js'
import {listFlagsOn, peekOn, selectOn} from '../imap/pipeline-commands.js'
import type {ConnectionPool} from '../imap/pool.js'
import type {ReadPipeline} from '../imap/read-pipeline.js'
import type {ScanConnections} from '../imap/scan-connections.js'
import {chunkUidSets} from '../imap/uidset.js'
import type {WireConnection} from '../imap/wire.js'
import type {Logger} from '../log.js'
import type {FolderPeek, FolderStatus, MessageFlags, MessageMeta, MessageSize, OnHeader, ScannedMeta, SkipUids, StoreCapabilities} from './store.js'

/** The store's connections and what the listings need to know of it. */
export interface ListingConnections {
  pool: ConnectionPool
  folders: FolderSessions
  readPipe?: ReadPipeline
  pipeline?: AppendPipeline
  scans: ScanConnections<WireConnection>
  /** The account is allowed one connection (imap-connections.ts). */
  shared: boolean
  readOnly: boolean
  /** "source alice@host:port", for messages. */
  where: string
  log: Logger
  capabilities: () => StoreCapabilities
}

export class ImapListings {
  readonly #c: ListingConnections
  /** Per folder, the UIDVALIDITY status() last reported (a pipelined listing must be of the same). */
  readonly #validities = new Map<string, number>()
  /** Per folder, RFC822.SIZE of the messages listed by listMeta (a large one is fetched alone). */
  readonly #sizes = new Map<string, Map<number, number>>()

  constructor(connections: ListingConnections) {
    this.#c = connections
  }

  /** A message's listed size, if its folder was listed. */
  sizeOf(path: string, uid: number): number | undefined {
    return this.#sizes.get(path)?.get(uid)
  }

  /** The folder is done: what was learnt of it goes. */
  forget(path: string): void {
    this.#sizes.delete(path)
    this.#validities.delete(path)
  }

  /** The folder's listed sizes (the fetch batcher reads a large message alone). */
  #sizesOf(path: string): Map<number, number> {
    let sizes = this.#sizes.get(path)
    if (!sizes) this.#sizes.set(path, (sizes = new Map()))
    return sizes
  }

  async status(path: string): Promise<FolderStatus> {
    this.#c.folders.newPass(path)
    const piped = await this.#piped(path, (pipe) => pipe.status(path, this.#c.folders.pass(path), this.#c.capabilities().condstore))
    const status =
      piped ??
      (await this.#inPlace(path, 'selected', (pipeline) => selectOn(pipeline, path, this.#c.capabilities().condstore))) ??
      (await this.#c.folders.inFolder(path, async (client) => selectedStatus(client)))
    this.#validities.set(path, status.uidValidity)
    return status
  }

  /**
   * With one connection, fn on the destination's APPEND connection, where its APPENDs go, so that
   * preparing a folder does not take the place back for a session; else, or when it failed there,
   * undefined (the caller asks a session, which says what is wrong and retries).
   */
  async #inPlace<T>(path: string, done: string, fn: (pipeline: AppendPipeline) => Promise<T>): Promise<T | undefined> {
    const pipeline = this.#c.pipeline
    if (!this.#c.shared || !pipeline) return undefined
    return this.#orSession(path, done, () => fn(pipeline))
  }

  /**
   * attempt's answer, or undefined when it failed (noted in the debug log): the caller then asks a
   * session, which says what is wrong and retries as every other read does. With `folderErrors`, a
   * FolderError is thrown as it is: it fails the folder, as on a session.
   */
  async #orSession<T>(path: string, done: string, attempt: () => Promise<T>, folderErrors = false): Promise<T | undefined> {
    try {
      return await attempt()
    } catch (error) {
      if (folderErrors && error instanceof FolderError) throw error
      this.#c.log.debug(`${this.#c.where}: folder "${path}": ${done} on a session instead (${describeError(error)})`)
      return undefined
    }
  }

  /** Reads and source listings go over the read connection first: it stands in for the only session, or every session is busy. */
  pipeFirst(): boolean {
    return this.#c.shared || !this.#c.pool.idle
  }

  /**
   * fn on the pipelined connection of a source that is only read, while every session is busy (as its
   * body reads: docs/design.md, "Pipelined reads"); else, or when it failed there, undefined (the caller
   * asks a session, which says what is wrong and retries). A FolderError fails the folder, as on a session.
   */
  async #piped<T>(path: string, fn: (pipe: ReadPipeline) => Promise<T>): Promise<T | undefined> {
    const pipe = this.#c.readPipe
    if (!pipe || !this.#c.readOnly || !this.pipeFirst()) return undefined
    return this.#orSession(path, 'listed', () => fn(pipe), true)
  }

  async peek(path: string): Promise<FolderPeek> {
    const {condstore} = this.#c.capabilities()
    const {readPipe, pipeline} = this.#c
    // STATUS answers name their folder, so they go many at a time on a raw connection where there is
    // one (undefined: that connection may have the folder selected).
    const raw = readPipe ? () => readPipe.peek(path, condstore) : pipeline && (() => peekOn(pipeline, path, condstore))
    const peeked = raw ? await this.#orSession(path, 'STATUS', raw) : undefined
    return peeked ?? this.#c.folders.onSession(path, (client) => peekFolder(client, path, condstore))
  }

  async listFlags(path: string, options: {changedSince?: bigint; onVanished?: (uid: number) => void} = {}): Promise<MessageFlags[]> {
    const changedSince = this.#c.capabilities().condstore ? options.changedSince : undefined
    const {condstore} = this.#c.capabilities()
    const uidValidity = this.#validities.get(path)
    const piped = await this.#piped(path, (pipe) => pipe.listFlags(path, this.#c.folders.pass(path), {...options, changedSince, condstore, uidValidity, where: this.#c.where}))
    if (piped) return piped.map((row) => ({uid: row.uid, flags: row.flags ?? []}))
    const listed = changedSince === undefined ? await this.#inPlace(path, 'listed', (pipeline) => listFlagsOn(pipeline, path, {where: this.#c.where, path})) : undefined
    if (listed) return listed
    return this.#c.folders.inFolder(path, (client) => listFlags(client, {where: this.#c.where, path}, {...options, changedSince}))
  }

  async listMeta(path: string, uids?: number[]): Promise<MessageMeta[]> {
    if (uids && uids.length === 0) return []
    const sizes = this.#sizesOf(path)
    const known = this.#validities.get(path)
    // A set of UIDs goes there in one command (a session's listing splits long ones).
    const set = uids && chunkUidSets(uids)
    const listed =
      set && set.length > 1
        ? undefined
        : await this.#piped(path, (pipe) => pipe.list(path, this.#c.folders.pass(path), {condstore: this.#c.capabilities().condstore, uidValidity: known, where: this.#c.where, uids: set?.[0]}))
    if (listed) return metasOfRows(listed.rows, sizes)
    return this.#c.folders.inFolder(path, (client) => listMeta(client, {where: this.#c.where, path}, uids, sizes))
  }

  async scanHeaders(path: string, onHeader: OnHeader, skip?: SkipUids): Promise<{status: FolderStatus; messages: ScannedMeta[]}> {
    this.#c.folders.newPass(path)
    const sizes = this.#sizesOf(path)
    const scanned = await this.#scanned(path, (connection) => scanFolder(connection, path, this.#c.where, onHeader, skip))
    if (!scanned) return this.#c.folders.inFolder(path, (client) => listHeadered(client, {where: this.#c.where, path}, sizes, onHeader))
    for (const meta of scanned.messages) sizes.set(meta.uid, meta.size)
    return scanned
  }

  async scanSizes(path: string): Promise<{status: FolderStatus; sizes: MessageSize[]}> {
    this.#c.folders.newPass(path)
    const scanned = await this.#scanned(path, (connection) => scanSizes(connection, path, this.#c.where))
    return scanned ?? this.#c.folders.inFolder(path, async (client) => ({status: selectedStatus(client), sizes: await listSizes(client)}))
  }

  /**
   * fn on one of the scan connections (check's, plan's, verify's); undefined when there is none or it
   * failed there: the folder is then read again on a session, which says what is wrong (a missing
   * folder, a broken server).
   */
  async #scanned<T>(path: string, fn: (connection: WireConnection) => Promise<T>): Promise<T | undefined> {
    const connection = await this.#c.scans.take()
    if (!connection) return undefined
    try {
      return await this.#orSession(path, 'read', () => fn(connection))
    } finally {
      this.#c.scans.release(connection)
    }
  }

  async fetchHeaders(path: string, uids: number[]): Promise<Map<number, Buffer>> {
    if (uids.length === 0) return new Map()
    return this.#c.folders.inFolder(path, (client) => fetchHeaderBlocks(client, uids))
  }
}
