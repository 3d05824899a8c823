/**
 * The Store contract over IMAP (imapflow), with a pool of connections per account.
 * Never issues a command inside imapflow's fetch loop: every listing is collected first.
 */
import {describeEndpoint, type EndpointConfig} from '../config/schema.js'
import {translateAppendError, translateFolderError} from '../imap/errors.js'
import {ConnectionPool} from '../imap/pool.js'
import {openSession, type ImapClient} from '../imap/session.js'
import {chunkUidSets} from '../imap/uidset.js'
import {parseMessageId} from './message-id.js'
import type {
  AppendResult,
  FetchedMessage,
  FolderInfo,
  FolderPeek,
  FolderStatus,
  MessageFlags,
  MessageMeta,
  Store,
  StoreCapabilities,
} from './store.js'

export interface ImapStoreOptions {
  label: string
  endpoint: EndpointConfig
  /** Connections to open at most. */
  connections: number
  /** Select folders with EXAMINE: a source is never changed, not even \Seen. */
  readOnly: boolean
  /** Test switch: behave as if the server had no UIDPLUS (ignore APPENDUID), like mbsync's -Tu. */
  ignoreAppendUid?: boolean
}

const toDate = (value: Date | string | undefined): Date => (value instanceof Date ? value : new Date(value ?? 0))

export class ImapStore implements Store {
  readonly label: string
  readonly #options: ImapStoreOptions
  readonly #where: string
  readonly #pool: ConnectionPool
  #capabilities: StoreCapabilities = {uidplus: false, condstore: false}

  constructor(options: ImapStoreOptions) {
    this.label = options.label
    this.#options = options
    this.#where = `${options.label} ${describeEndpoint(options.endpoint)}`
    this.#pool = new ConnectionPool({
      size: options.connections,
      connect: () => openSession(options.endpoint, {label: options.label}),
    })
  }

  async open(): Promise<void> {
    const client = await this.#pool.warmUp()
    const caps = client.capabilities
    const appendLimit = caps.get('APPENDLIMIT')
    this.#capabilities = {
      uidplus: caps.has('UIDPLUS') && !this.#options.ignoreAppendUid,
      condstore: caps.has('CONDSTORE'),
      appendLimit: typeof appendLimit === 'number' ? appendLimit : undefined,
    }
  }

  capabilities(): StoreCapabilities {
    return this.#capabilities
  }

  async listFolders(): Promise<FolderInfo[]> {
    return this.#pool.use(async (client) => {
      try {
        const list = await client.list()
        return list.map((entry) => ({
          path: entry.path,
          delimiter: entry.delimiter || null,
          specialUse: entry.specialUse || undefined,
          noSelect: entry.flags.has('\\Noselect') || entry.flags.has('\\NonExistent'),
          subscribed: entry.subscribed,
        }))
      } catch (error) {
        throw translateFolderError(error, this.#where, '(folder list)')
      }
    })
  }

  async createFolder(path: string): Promise<void> {
    await this.#pool.use(async (client) => {
      try {
        await client.mailboxCreate(path)
      } catch (error) {
        if ((error as {serverResponseCode?: string}).serverResponseCode === 'ALREADYEXISTS') return
        throw translateFolderError(error, this.#where, path)
      }
    })
  }

  async status(path: string): Promise<FolderStatus> {
    return this.#inFolder(path, async (client) => {
      const box = client.mailbox
      if (!box) throw new Error('no mailbox selected')
      // Dovecot reports an empty PERMANENTFLAGS for read-only (EXAMINE) selections: it says nothing then.
      const permanentFlags = box.readOnly ? undefined : [...(box.permanentFlags ?? [])]
      return {
        uidValidity: Number(box.uidValidity),
        uidNext: box.uidNext,
        messages: box.exists,
        permanentFlags,
        highestModseq: box.highestModseq,
      }
    })
  }

  async peek(path: string): Promise<FolderPeek> {
    return this.#pool.use(async (client) => {
      try {
        const status = await client.status(path, {
          uidValidity: true,
          uidNext: true,
          messages: true,
          highestModseq: this.#capabilities.condstore,
        })
        if (!status) throw new Error('STATUS failed')
        return {
          uidValidity: Number(status.uidValidity),
          uidNext: status.uidNext ?? 0,
          messages: status.messages ?? 0,
          highestModseq: status.highestModseq,
        }
      } catch (error) {
        throw translateFolderError(error, this.#where, path)
      }
    })
  }

  async listFlags(path: string): Promise<MessageFlags[]> {
    return this.#inFolder(path, async (client) => {
      if (!client.mailbox || client.mailbox.exists === 0) return []
      const out: MessageFlags[] = []
      for await (const msg of client.fetch('1:*', {uid: true, flags: true}, {uid: true})) {
        out.push({uid: msg.uid, flags: [...(msg.flags ?? [])]})
      }
      return out
    })
  }

  async listMeta(path: string, uids?: number[]): Promise<MessageMeta[]> {
    if (uids && uids.length === 0) return []
    return this.#inFolder(path, async (client) => {
      if (!client.mailbox || client.mailbox.exists === 0) return []
      const out: MessageMeta[] = []
      for (const range of uids ? chunkUidSets(uids) : ['1:*']) {
        const query = {uid: true, flags: true, size: true, internalDate: true, headers: ['message-id']}
        for await (const msg of client.fetch(range, query, {uid: true})) {
          out.push({
            uid: msg.uid,
            flags: [...(msg.flags ?? [])],
            size: msg.size ?? 0,
            internalDate: toDate(msg.internalDate),
            messageId: msg.headers ? parseMessageId(msg.headers) : undefined,
          })
        }
      }
      return out
    })
  }

  async fetchHeaders(path: string, uids: number[]): Promise<Map<number, Buffer>> {
    const out = new Map<number, Buffer>()
    if (uids.length === 0) return out
    return this.#inFolder(path, async (client) => {
      for (const range of chunkUidSets(uids, 500)) {
        for await (const msg of client.fetch(range, {uid: true, headers: true}, {uid: true})) {
          out.set(msg.uid, msg.headers ?? Buffer.alloc(0))
        }
      }
      return out
    })
  }

  async fetchMessage(path: string, uid: number): Promise<FetchedMessage | null> {
    return this.#inFolder(path, async (client) => {
      const msg = await client.fetchOne(String(uid), {uid: true, source: true, flags: true, internalDate: true}, {uid: true})
      if (!msg || !msg.source) return null
      return {uid, raw: msg.source, flags: [...(msg.flags ?? [])], internalDate: toDate(msg.internalDate)}
    })
  }

  async appendMessage(path: string, raw: Buffer, flags: string[], internalDate: Date): Promise<AppendResult> {
    return this.#pool.use(async (client) => {
      let response
      try {
        response = await client.append(path, raw, flags, internalDate)
      } catch (error) {
        throw translateAppendError(error, this.#where, path)
      }
      if (!response || this.#options.ignoreAppendUid) return {}
      return {
        uid: response.uid,
        uidValidity: response.uidValidity === undefined ? undefined : Number(response.uidValidity),
      }
    })
  }

  async setFlags(path: string, uid: number, add: string[], remove: string[]): Promise<void> {
    await this.#inFolder(path, async (client) => {
      if (add.length > 0) await client.messageFlagsAdd(String(uid), add, {uid: true})
      if (remove.length > 0) await client.messageFlagsRemove(String(uid), remove, {uid: true})
    })
  }

  async deleteMessages(path: string, uids: number[]): Promise<void> {
    if (uids.length === 0) return
    await this.#inFolder(path, async (client) => {
      for (const range of chunkUidSets(uids)) await client.messageDelete(range, {uid: true})
    })
  }

  async moveMessage(path: string, uid: number, toPath: string): Promise<AppendResult> {
    return this.#inFolder(path, async (client) => {
      // imapflow uses MOVE (RFC 6851) when offered, else COPY + \Deleted + expunge.
      const response = await client.messageMove(String(uid), toPath, {uid: true})
      const newUid = response && response.uidMap ? response.uidMap.get(uid) : undefined
      const uidValidity = response && response.uidValidity !== undefined ? Number(response.uidValidity) : undefined
      return {uid: newUid, uidValidity}
    })
  }

  async deleteFolder(path: string): Promise<void> {
    await this.#pool.use(async (client) => {
      try {
        await client.mailboxDelete(path)
      } catch (error) {
        throw translateFolderError(error, this.#where, path)
      }
    })
  }

  async close(): Promise<void> {
    await this.#pool.close()
  }

  /** Run fn with a session that has `path` selected (EXAMINE when read-only). */
  async #inFolder<T>(path: string, fn: (client: ImapClient) => Promise<T>): Promise<T> {
    return this.#pool.use(async (client) => {
      let lock
      try {
        lock = await client.getMailboxLock(path, {readOnly: this.#options.readOnly})
      } catch (error) {
        throw translateFolderError(error, this.#where, path)
      }
      try {
        return await fn(client)
      } catch (error) {
        throw translateFolderError(error, this.#where, path)
      } finally {
        lock.release()
      }
    }, path)
  }
}
