/**
 * The Store contract over IMAP (imapflow), with a pool of connections per account and raw pipelined
 * connections beside it (imap-connections.ts); folder listings are routed in imap-listings.ts.
 * Never issues a command inside imapflow's fetch loop: every listing is collected first.
 */
import {describeEndpoint} from '../config/schema.js'
import {CancelledError, ConnectError, MessageRejectedError, describeError} from '../errors.js'
import {appendOn, createFolderOn, expungeUids, moveUid, storeFlags, subscribeOn} from '../imap/commands.js'
import {admissionRefusal} from '../check/admission.js'
import {ConnectionPool} from '../imap/pool.js'
import {FolderSessions} from '../imap/folder-sessions.js'
import {openSession} from '../imap/session.js'
import {AppendPipeline} from '../imap/append-pipeline.js'
import {storeFlagsOn} from '../imap/pipeline-commands.js'
import {FetchBatcher} from '../imap/fetch-batcher.js'
import {folderCommands, type FolderVerb} from '../imap/folder-commands.js'
import {listFolders, quotaOf} from '../imap/listings.js'
import {openWireConnection} from '../imap/wire-login.js'
import type {WireConnection} from '../imap/wire.js'
import {ScanConnections} from '../imap/scan-connections.js'
import {ReadPipeline} from '../imap/read-pipeline.js'
import {storeLimits, type StoreLimits} from '../imap/throttle.js'
import {silentLogger, type Logger} from '../log.js'
import {chunkUidSets} from '../imap/uidset.js'
import {connectionPlan} from './imap-connections.js'
import {ImapListings} from './imap-listings.js'
import {PlaceTurns} from './imap-turns.js'
import {capabilitiesOf, type ImapStoreOptions} from './imap-options.js'
import type {AppendResult, FetchedMessage, FolderInfo, FolderPeek, FolderStatus, FolderWatch, MessageFlags, OnHeader} from './store.js'
import type {MessageMeta, MessageSize, QuotaInfo, ScannedMeta, SkipUids, Store, StoreCapabilities, StoreStats} from './store.js'

export class ImapStore implements Store {
  readonly label: string
  readonly #options: ImapStoreOptions
  readonly #where: string
  readonly #pool: ConnectionPool
  readonly #pipeline?: AppendPipeline
  /** The account is allowed one connection: the APPEND (or read) connection and the session take turns in its place. */
  readonly #shared: boolean
  readonly #reads: FetchBatcher
  /** Folder listings, on a raw connection first where one can take them. */
  readonly #listings: ImapListings
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
      openRaw,
      openSession: () => openSession(options.endpoint, {label: options.label, logger: log}),
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
      sizeOf: (path, uid) => this.#listings.sizeOf(path, uid),
      // Only while every session is busy (listings, other reads): one connection's reads are served
      // by one server process, which holds a large first sync back (40,003 messages: 35 s against 23 s).
      pipelined: readPipe && ((path, uids, onRow) => (this.#listings.pipeFirst() ? readPipe.read(path, this.#folders.pass(path), uids, onRow) : undefined)),
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
    this.#listings = new ImapListings({
      pool: this.#pool,
      folders: this.#folders,
      readPipe,
      pipeline: this.#pipeline,
      scans: this.#scans,
      shared: plan.shared,
      readOnly: options.readOnly,
      where: this.#where,
      log,
      capabilities: () => this.#capabilities,
    })
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
    // Scan connections log in while the folders are listed; after the first session, so that a
    // server counting connections lets the session in first.
    this.#scans.warm()
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

  renewSessions(): void {
    this.#pool.renew()
    this.#readPipe?.renew()
  }

  forgetFolder(path: string): void {
    this.#listings.forget(path)
  }

  async status(path: string): Promise<FolderStatus> {
    return this.#listings.status(path)
  }

  async peek(path: string): Promise<FolderPeek> {
    return this.#listings.peek(path)
  }

  async listFlags(path: string, options: {changedSince?: bigint; onVanished?: (uid: number) => void} = {}): Promise<MessageFlags[]> {
    return this.#listings.listFlags(path, options)
  }

  async listMeta(path: string, uids?: number[]): Promise<MessageMeta[]> {
    return this.#listings.listMeta(path, uids)
  }

  async scanHeaders(path: string, onHeader: OnHeader, skip?: SkipUids): Promise<{status: FolderStatus; messages: ScannedMeta[]}> {
    return this.#listings.scanHeaders(path, onHeader, skip)
  }

  async fetchHeaders(path: string, uids: number[]): Promise<Map<number, Buffer>> {
    return this.#listings.fetchHeaders(path, uids)
  }

  async scanSizes(path: string): Promise<{status: FolderStatus; sizes: MessageSize[]}> {
    return this.#listings.scanSizes(path)
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
