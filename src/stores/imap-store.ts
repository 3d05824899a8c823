/**
 * The Store contract over IMAP (imapflow), with a pool of connections per account.
 * Never issues a command inside imapflow's fetch loop: every listing is collected first.
 */
import {describeEndpoint} from '../config/schema.js'
import {CancelledError, ConnectError, FolderError, MessageRejectedError, describeError} from '../errors.js'
import {appendOn, createFolderOn, expungeUids, moveUid, storeFlags, subscribeOn} from '../imap/commands.js'
import {admissionRefusal} from '../check/admission.js'
import {ConnectionPool} from '../imap/pool.js'
import {FolderSessions} from '../imap/folder-sessions.js'
import {openSession} from '../imap/session.js'
import {AppendPipeline} from '../imap/append-pipeline.js'
import {listFlagsOn, peekOn, selectOn, storeFlagsOn} from '../imap/pipeline-commands.js'
import {FetchBatcher} from '../imap/fetch-batcher.js'
import {folderCommands, type FolderVerb} from '../imap/folder-commands.js'
import {fetchHeaderBlocks, listFlags, listFolders, listHeadered, listMeta, listSizes, metasOfRows, peekFolder, quotaOf, selectedStatus} from '../imap/listings.js'
import {openWireConnection} from '../imap/wire-login.js'
import type {WireConnection} from '../imap/wire.js'
import {scanFolder} from '../imap/header-scan.js'
import {ScanConnections} from '../imap/scan-connections.js'
import {ReadPipeline} from '../imap/read-pipeline.js'
import {storeLimits, type StoreLimits} from '../imap/throttle.js'
import {silentLogger, type Logger} from '../log.js'
import {chunkUidSets} from '../imap/uidset.js'
import {connectionPlan} from './imap-connections.js'
import {PlaceTurns} from './imap-turns.js'
import {capabilitiesOf, type ImapStoreOptions} from './imap-options.js'
import type {AppendResult, FetchedMessage, FolderInfo, FolderPeek, FolderStatus, FolderWatch, HeaderedMeta, MessageFlags} from './store.js'
import type {MessageMeta, MessageSize, QuotaInfo, Store, StoreCapabilities, StoreStats} from './store.js'

export class ImapStore implements Store {
  readonly label: string
  readonly #options: ImapStoreOptions
  readonly #where: string
  readonly #pool: ConnectionPool
  readonly #pipeline?: AppendPipeline
  /** The account is allowed one connection: the APPEND (or read) connection and the session take turns in its place. */
  readonly #shared: boolean
  readonly #reads: FetchBatcher
  /** Per folder, the UIDVALIDITY status() last reported (a pipelined listing must be of the same). */
  readonly #validities = new Map<string, number>()
  /** Per folder, RFC822.SIZE of the messages listed by listMeta (a large one is fetched alone). */
  readonly #sizes = new Map<string, Map<number, number>>()
  readonly #limits: StoreLimits
  readonly #log: Logger
  #capabilities: StoreCapabilities = {uidplus: false, condstore: false, expungeByUid: false}
  /** The pool's sessions, each task on a folder (selected, or reported as the folder's). */
  readonly #folders: FolderSessions
  #retries = 0
  #dropped = 0
  #appendBarrier = () => {}
  /** scanHeaders' raw connections. */
  readonly #scans: ScanConnections<WireConnection>
  /** Batched reads' raw connections. */
  readonly #readPipe?: ReadPipeline
  /** Places lent by the pool: watch's IDLE session's, and with one connection the raw connections'. */
  readonly #turns: PlaceTurns

  constructor(options: ImapStoreOptions) {
    this.label = options.label
    this.#options = options
    this.#where = `${options.label} ${describeEndpoint(options.endpoint)}`
    this.#limits = options.limits ?? storeLimits()
    const log = (this.#log = options.logger ?? silentLogger)
    const openRaw = () => openWireConnection(options.endpoint, {label: options.label, logger: log})
    // Sessions and raw connections within --connections (imap-connections.ts).
    const plan = connectionPlan(options)
    this.#shared = plan.shared
    const turns = (this.#turns = new PlaceTurns({
      pool: () => this.#pool,
      endpoint: options.endpoint,
      label: options.label,
      logger: log,
      standIns: () => (plan.shared ? [this.#pipeline ?? this.#readPipe] : []),
    }))
    const readShared = plan.reads === 'in-turn'
    const readPipe = (this.#readPipe =
      plan.reads
        ? new ReadPipeline({
            connect: readShared ? () => turns.raw() : openRaw,
            onRefused: (error) => log.debug(`${this.#where}: no connection for pipelined reads (${describeError(error)}); reading on the sessions`),
            yieldTo: readShared ? () => this.#pool.waiting : undefined,
            logger: log,
            where: this.#where,
          })
        : undefined)
    this.#scans = new ScanConnections(
      plan.scans,
      openRaw,
      (error) => log.debug(`${this.#where}: no connection for reading header blocks (${describeError(error)}); reading on the sessions`),
    )
    this.#pool = new ConnectionPool({
      size: plan.sessions,
      connect: (cancel) => openSession(options.endpoint, {label: options.label, logger: log, cancel}),
      retry: options.retry,
      signal: options.signal,
      onRetry: ({attempt, retries, delayMs, error}) => {
        this.#retries++
        log.warn(`${this.#about(error)}; retry ${attempt}/${retries} in ${(delayMs / 1000).toFixed(1)} s`)
      },
      onRecovered: (retries) => log.info(`${this.#where}: back to work after ${retries} ${retries === 1 ? 'retry' : 'retries'}`),
      onShrink: (size, error) =>
        log.warn(`${this.#where}: the server refuses more sessions (${describeError(error)}); going on with ${size}`),
      onDropped: () => {
        this.#dropped++
        log.warn(`${this.#where}: a session was closed by the server or the network; a new one is opened when needed`)
      },
      onWaiting: () => turns.makeWay(),
    })
    this.#folders = new FolderSessions(this.#pool, this.#where, options.readOnly)
    this.#reads = new FetchBatcher({
      workers: plan.readsAtOnce,
      inFolder: (path, fn) => this.#folders.inFolder(path, fn),
      sizeOf: (path, uid) => this.#sizes.get(path)?.get(uid),
      // Only while every session is busy (listings, other reads): one connection's reads are served
      // by one server process, which holds a large first sync back (40,003 messages: 35 s against 23 s).
      pipelined: readPipe && ((path, uids, onRow) => (this.#pipeFirst() ? readPipe.read(path, this.#folders.pass(path), uids, onRow) : undefined)),
    })
    if (plan.appends > 0) {
      this.#pipeline = new AppendPipeline({
        size: plan.appends,
        open: plan.shared ? () => turns.raw() : openRaw,
        yieldTo: plan.shared ? () => this.#pool.waiting : undefined,
        where: this.#where,
        logger: log,
        retry: options.retry,
        signal: options.signal,
        namespacePrefix: () => this.#capabilities.namespace?.prefix,
        beforeSend: () => this.#appendBarrier(),
        onCommandSent: options.onAppendCommandSent,
        onDropped: () => {
          this.#dropped++
          log.warn(`${this.#where}: an APPEND connection was closed by the server or the network; a new one is opened when needed`)
        },
        onRetry: (text) => {
          this.#retries++
          log.warn(text)
        },
        fallback: (path, raw, flags, date) => this.#appendWithSession(path, raw, flags, date),
        onFallback: (error) =>
          log.warn(`${this.#where}: the server refuses another connection for pipelined APPENDs (${describeError(error)}); APPENDs go through the existing sessions`),
      })
    }
  }

  /** The error's message, starting with this store's "destination alice@host:port" once. */
  #about(error: unknown): string {
    const text = describeError(error)
    return text.startsWith(this.#where) ? text : `${this.#where}: ${text}`
  }

  stats(): StoreStats {
    return {retries: this.#retries, droppedSessions: this.#dropped, droppedKeywords: {}}
  }

  async open(): Promise<void> {
    const client = await this.#pool.warmUp()
    if (this.#options.openAllSessions) this.#pool.fill()
    this.#capabilities = capabilitiesOf(client, this.#options)
  }

  async quota(path: string): Promise<QuotaInfo | undefined> {
    return this.#folders.onSession(path, (client) => quotaOf(client, path))
  }

  capabilities(): StoreCapabilities {
    return this.#capabilities
  }

  async listFolders(): Promise<FolderInfo[]> {
    return this.#folders.onSession('(folder list)', listFolders)
  }

  async createFolder(path: string): Promise<void> {
    await this.#pool.use((client) => createFolderOn(client, this.#where, path))
  }

  async folderCommands(verb: FolderVerb, paths: string[]): Promise<Array<Error | undefined>> {
    const single = {create: this.createFolder, subscribe: this.subscribeFolder, unsubscribe: this.unsubscribeFolder}[verb].bind(this)
    // Pipelined on an APPEND connection where there are some (imap/folder-commands.ts).
    return folderCommands(this.#pipeline, verb, paths, single, this.#where, this.#shared)
  }

  async subscribeFolder(path: string): Promise<void> {
    await this.#folders.onSession(path, (client) => subscribeOn(client, this.#where, path, true))
  }

  async unsubscribeFolder(path: string): Promise<void> {
    await this.#folders.onSession(path, (client) => subscribeOn(client, this.#where, path, false))
  }

  async listSizes(path: string): Promise<MessageSize[]> {
    return this.#folders.inFolder(path, listSizes)
  }

  renewSessions(): void {
    this.#pool.renew()
    this.#readPipe?.renew()
  }

  forgetFolder(path: string): void {
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
    this.#folders.newPass(path)
    const piped = await this.#piped(path, (pipe) => pipe.status(path, this.#folders.pass(path), this.#capabilities.condstore))
    const status =
      piped ??
      (await this.#inPlace(path, 'selected', (pipeline) => selectOn(pipeline, path, this.#capabilities.condstore))) ??
      (await this.#folders.inFolder(path, async (client) => selectedStatus(client)))
    this.#validities.set(path, status.uidValidity)
    return status
  }

  /**
   * With one connection, fn on the destination's APPEND connection, where its APPENDs go, so that
   * preparing a folder does not take the place back for a session; else, or when it failed there,
   * undefined (the caller asks a session, which says what is wrong and retries).
   */
  async #inPlace<T>(path: string, done: string, fn: (pipeline: AppendPipeline) => Promise<T>): Promise<T | undefined> {
    const pipeline = this.#pipeline
    if (!this.#shared || !pipeline) return undefined
    try {
      return await fn(pipeline)
    } catch (error) {
      this.#log.debug(`${this.#where}: folder "${path}": ${done} on a session instead (${describeError(error)})`)
      return undefined
    }
  }

  /** Reads and source listings go over the read connection first: it stands in for the only session, or every session is busy. */
  #pipeFirst(): boolean {
    return this.#shared || !this.#pool.idle
  }

  /**
   * fn on the pipelined connection of a source that is only read, while every session is busy (as its
   * body reads: docs/design.md, "Pipelined reads"); else, or when it failed there, undefined (the caller
   * asks a session, which says what is wrong and retries). A FolderError fails the folder, as on a session.
   */
  async #piped<T>(path: string, fn: (pipe: ReadPipeline) => Promise<T>): Promise<T | undefined> {
    const pipe = this.#readPipe
    if (!pipe || !this.#options.readOnly || !this.#pipeFirst()) return undefined
    try {
      return await fn(pipe)
    } catch (error) {
      if (error instanceof FolderError) throw error
      this.#log.debug(`${this.#where}: folder "${path}": listed on a session instead (${describeError(error)})`)
      return undefined
    }
  }

  async peek(path: string): Promise<FolderPeek> {
    const {condstore} = this.#capabilities
    // STATUS answers name their folder, so they go many at a time on a raw connection where there is one.
    const onSession = (error?: unknown) => {
      if (error) this.#log.debug(`${this.#where}: folder "${path}": STATUS on a session instead (${describeError(error)})`)
      return this.#folders.onSession(path, (client) => peekFolder(client, path, condstore))
    }
    const raw = this.#readPipe ? this.#readPipe.peek(path, condstore) : this.#pipeline && peekOn(this.#pipeline, path, condstore)
    return raw ? raw.then((peeked) => peeked ?? onSession(), onSession) : onSession()
  }

  async listFlags(path: string, options: {changedSince?: bigint; onVanished?: (uid: number) => void} = {}): Promise<MessageFlags[]> {
    const changedSince = this.#capabilities.condstore ? options.changedSince : undefined
    const {condstore} = this.#capabilities
    const uidValidity = this.#validities.get(path)
    const piped = await this.#piped(path, (pipe) => pipe.listFlags(path, this.#folders.pass(path), {...options, changedSince, condstore, uidValidity, where: this.#where}))
    if (piped) return piped.map((row) => ({uid: row.uid, flags: row.flags ?? []}))
    const listed = changedSince === undefined ? await this.#inPlace(path, 'listed', (pipeline) => listFlagsOn(pipeline, path, {where: this.#where, path})) : undefined
    if (listed) return listed
    return this.#folders.inFolder(path, (client) => listFlags(client, {where: this.#where, path}, {...options, changedSince}))
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
        : await this.#piped(path, (pipe) => pipe.list(path, this.#folders.pass(path), {condstore: this.#capabilities.condstore, uidValidity: known, where: this.#where, uids: set?.[0]}))
    if (listed) return metasOfRows(listed.rows, sizes)
    return this.#folders.inFolder(path, (client) => listMeta(client, {where: this.#where, path}, uids, sizes))
  }

  async scanHeaders(path: string): Promise<{status: FolderStatus; messages: HeaderedMeta[]}> {
    this.#folders.newPass(path)
    const sizes = this.#sizesOf(path)
    const connection = await this.#scans.take()
    if (connection) {
      try {
        const scanned = await scanFolder(connection, path, this.#where)
        for (const meta of scanned.messages) sizes.set(meta.uid, meta.size)
        return scanned
      } catch (error) {
        // The pool's sessions say what is wrong (a missing folder, a broken server) as every
        // other read does, with its retries: the folder is read again there.
        this.#log.debug(`${this.#where}: folder "${path}": read on a session instead (${describeError(error)})`)
      } finally {
        this.#scans.release(connection)
      }
    }
    return this.#folders.inFolder(path, (client) => listHeadered(client, {where: this.#where, path}, sizes))
  }

  async fetchHeaders(path: string, uids: number[]): Promise<Map<number, Buffer>> {
    if (uids.length === 0) return new Map()
    return this.#folders.inFolder(path, (client) => fetchHeaderBlocks(client, uids))
  }

  async fetchMessage(path: string, uid: number, options: {listedSize?: number} = {}): Promise<FetchedMessage | null> {
    await this.#limits.messages.take(1, this.#options.signal)
    this.#stopIfAborted()
    // Concurrent calls for one folder share a UID FETCH (imap/fetch-batcher.ts), each body capped
    // by its listed size (imap/limits.ts).
    const message = await this.#reads.fetch(path, uid, options.listedSize)
    // The size is known only now: the pause falls before this store's next message.
    if (message) await this.#limits.bytes.take(message.raw.length, this.#options.signal)
    return message
  }

  /**
   * Not idempotent: a connection lost after the APPEND was sent leaves its outcome unknown, so it is
   * never re-sent here; it fails with ConnectError {transient, outcomeUnknown} and the caller looks
   * on the destination first. Failing to get a session, or a tagged NO that is pushback ("[LIMIT]",
   * "Request is throttled": nothing was stored), is retried like any other operation.
   */
  async appendMessage(path: string, raw: Buffer, flags: string[], internalDate: Date): Promise<AppendResult> {
    // Refused up front, without a round trip (RFC 7889); imapflow would refuse it too, less clearly.
    const {maxMessageSize, maxLineLength} = this.#options.endpoint
    const refusal = admissionRefusal(raw, {appendLimit: this.#capabilities.appendLimit, maxMessageSize, maxLineLength})
    if (refusal) throw new MessageRejectedError(refusal)
    await this.#limits.messages.take(1, this.#options.signal)
    await this.#limits.bytes.take(raw.length, this.#options.signal)
    this.#stopIfAborted()
    if (this.#pipeline) {
      const outcome = await this.#pipeline.append(path, raw, flags, internalDate)
      return this.#options.ignoreAppendUid ? {} : outcome
    }
    return this.#appendWithSession(path, raw, flags, internalDate)
  }

  setAppendBarrier(barrier: () => void): void {
    this.#appendBarrier = barrier
  }

  /** One APPEND on a pooled imapflow session (the path before the pipeline, and its fallback). */
  async #appendWithSession(path: string, raw: Buffer, flags: string[], internalDate: Date): Promise<AppendResult> {
    return this.#pool.use(async (client) => {
      try {
        const appended = await appendOn(client, this.#where, path, {raw, flags, date: internalDate}, this.#appendBarrier)
        return this.#options.ignoreAppendUid ? {} : appended
      } catch (error) {
        if (error instanceof ConnectError && error.outcomeUnknown) {
          this.#log.warn(`${this.#about(error)} (the message is looked for on the destination before it is sent again)`)
        }
        throw error
      }
    }, {idempotent: false})
  }

  async setFlags(path: string, uids: number[], add: string[], remove: string[]): Promise<void> {
    if (uids.length === 0) return
    const ranges = chunkUidSets(uids)
    // Pipelined where there are APPEND connections: a re-run over a link updates many folders' flags.
    const piped = await (this.#pipeline && storeFlagsOn(this.#pipeline, path, ranges, add, remove))?.then(
      () => true,
      (error: unknown) => void this.#log.debug(`${this.#where}: folder "${path}": flags set on a session instead (${describeError(error)})`),
    )
    if (piped) return
    await this.#folders.inFolder(path, async (client) => {
      for (const range of ranges) {
        await storeFlags(client, this.#where, path, range, '+', add)
        await storeFlags(client, this.#where, path, range, '-', remove)
      }
    })
  }

  async deleteMessages(path: string, uids: number[]): Promise<void> {
    if (uids.length === 0) return
    await this.#folders.inFolder(path, async (client) => {
      for (const range of chunkUidSets(uids)) await expungeUids(client, this.#where, path, range)
    })
  }

  async moveMessage(path: string, uid: number, toPath: string): Promise<AppendResult> {
    return this.#folders.inFolder(path, (client) => moveUid(client, this.#where, path, uid, toPath))
  }

  async deleteFolder(path: string): Promise<void> {
    await this.#folders.onSession(path, (client) => client.mailboxDelete(path))
  }

  /**
   * Calls onChange whenever the folder changes, from a session in IDLE (imap/idle.ts) in one of the
   * pool's places, which it gives back whenever a task waits for one (PlaceTurns.watch).
   */
  async watch(path: string, onChange: () => void): Promise<FolderWatch> {
    return this.#turns.watch(path, this.#where, onChange)
  }

  /**
   * A rate-limit wait cut short by SIGINT/SIGTERM does not go on to send: a stop must not turn every
   * waiting copy into a burst. The message stays for the next run (its pending row is looked for).
   */
  #stopIfAborted(): void {
    if (this.#options.signal?.aborted) throw new CancelledError(`${this.#where}: stopped before the next message`)
  }

  async close(): Promise<void> {
    await Promise.all([this.#pool.close(), this.#pipeline?.close(), this.#scans.close(), this.#readPipe?.close()])
  }
}
