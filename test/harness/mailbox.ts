/**
 * Raw IMAP helpers for tests, on imapflow only (never mailferry code), so that they can judge
 * what mailferry did. Folder paths are always given and returned with '/' as the separator
 * and without the `INBOX.` namespace prefix; "INBOX" is INBOX.
 */
import {createHash} from 'node:crypto'
import {connect, type Socket} from 'node:net'
import {ImapFlow, type ImapFlowOptions, type ListResponse} from 'imapflow'
import type {DovecotInstance} from './dovecot.js'
import type {SeedMessage} from './messages.js'

/** What the helpers need to know about a server (a DovecotInstance fits). */
export type ImapServer = Pick<DovecotInstance, 'host' | 'port' | 'password' | 'separator' | 'inboxPrefix'>

export interface SnapshotMessage {
  /** sha256 (hex) of BODY[] as the server returns it. */
  sha256: string
  /** RFC822.SIZE. */
  size: number
  /** Sorted, without \Recent. */
  flags: string[]
  /** INTERNALDATE as ISO 8601 (UTC). */
  internalDate: string
}

/** Normalised folder path -> its messages, sorted (so equal mailboxes give deep-equal snapshots). */
export type Snapshot = Record<string, SnapshotMessage[]>

/** Fetch bodies in UID batches of at most this many bytes (by RFC822.SIZE) or messages. */
const BATCH_BYTES = 8 * 1024 * 1024
const BATCH_MESSAGES = 500

/** A connected, logged-in client: plaintext on `server.port` unless `options` says otherwise. */
export async function openClient(server: ImapServer, user: string, options: Partial<ImapFlowOptions> = {}): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: server.host,
    port: server.port,
    secure: false,
    doSTARTTLS: false,
    auth: {user, pass: server.password},
    logger: false,
    ...options,
  })
  await client.connect()
  return client
}

/** Runs `fn` with a fresh connection and always logs out. */
export async function withClient<T>(server: ImapServer, user: string, fn: (client: ImapFlow) => Promise<T>): Promise<T> {
  const client = await openClient(server, user)
  try {
    return await fn(client)
  } finally {
    await client.logout().catch(() => client.close())
  }
}

/** '/'-separated test path -> the server's mailbox name. */
export function serverPath(server: Pick<ImapServer, 'separator' | 'inboxPrefix'>, path: string): string {
  if (path.toUpperCase() === 'INBOX') return 'INBOX'
  return (server.inboxPrefix ? 'INBOX.' : '') + path.split('/').join(server.separator)
}

/** The server's mailbox name -> '/'-separated test path (inverse of serverPath). */
export function normalPath(server: Pick<ImapServer, 'separator' | 'inboxPrefix'>, name: string): string {
  if (name.toUpperCase() === 'INBOX') return 'INBOX'
  const local = server.inboxPrefix && name.startsWith('INBOX.') ? name.slice('INBOX.'.length) : name
  return local.split(server.separator).join('/')
}

/**
 * Creates the listed folders (in sorted order; existing ones are kept) and subscribes them,
 * then APPENDs each message with its flags and internal date, in order. Unlisted parents are
 * not created: Dovecot lists them as \Noselect (list a parent to make it a real folder). A '/'
 * path part must not contain the server's separator (on a '.' server "v1.2" is two levels).
 * Messages go in MULTIAPPEND batches when the server offers MULTIAPPEND and LITERAL+ (Dovecot's
 * maildir costs ~2 ms per APPEND command, ~0.3 ms per message in a batch); else one by one.
 */
export async function seed(server: ImapServer, user: string, folders: Record<string, SeedMessage[]>): Promise<void> {
  const paths = Object.keys(folders).sort()
  const batched = await withClient(server, user, async (client) => {
    for (const path of paths) await ensureFolder(client, serverPath(server, path))
    return client.capabilities.has('MULTIAPPEND') && client.capabilities.has('LITERAL+')
  })
  if (!batched) {
    await withClient(server, user, async (client) => {
      for (const path of paths) for (const message of folders[path]) await append(client, serverPath(server, path), message)
    })
    return
  }
  const raw = await RawImap.login(server, user)
  try {
    for (const path of paths) {
      for (const batch of appendBatches(folders[path])) await raw.multiAppend(serverPath(server, path), batch)
    }
  } finally {
    raw.close()
  }
}

function* appendBatches(messages: SeedMessage[]): Generator<SeedMessage[]> {
  let batch: SeedMessage[] = []
  let bytes = 0
  for (const message of messages) {
    if (batch.length > 0 && (bytes + message.raw.length > BATCH_BYTES || batch.length >= BATCH_MESSAGES)) {
      yield batch
      batch = []
      bytes = 0
    }
    batch.push(message)
    bytes += message.raw.length
  }
  if (batch.length > 0) yield batch
}

/** APPENDs one message; returns its UID (UIDPLUS). */
export async function appendOne(server: ImapServer, user: string, folder: string, message: SeedMessage): Promise<number> {
  return withClient(server, user, (client) => append(client, serverPath(server, folder), message))
}

async function append(client: ImapFlow, mailbox: string, message: SeedMessage): Promise<number> {
  const result = await client.append(mailbox, message.raw, message.flags, message.internalDate)
  if (!result || !result.uid) throw new Error(`APPEND to ${mailbox} gave no UID${message.name ? ` (${message.name})` : ''}`)
  return result.uid
}

async function ensureFolder(client: ImapFlow, mailbox: string): Promise<void> {
  if (mailbox === 'INBOX') return
  // imapflow resolves {created: false} when the mailbox already exists.
  await client.mailboxCreate(mailbox)
  await client.mailboxSubscribe(mailbox)
}

export async function createFolder(server: ImapServer, user: string, folder: string): Promise<void> {
  await withClient(server, user, (client) => ensureFolder(client, serverPath(server, folder)))
}

export async function deleteFolder(server: ImapServer, user: string, folder: string): Promise<void> {
  await withClient(server, user, async (client) => {
    await client.mailboxDelete(serverPath(server, folder))
  })
}

export async function renameFolder(server: ImapServer, user: string, from: string, to: string): Promise<void> {
  await withClient(server, user, async (client) => {
    await client.mailboxRename(serverPath(server, from), serverPath(server, to))
  })
}

/**
 * Every folder, selectable or not (\Noselect parents included), as sorted normalised paths.
 * \NonExistent entries (names that only exist as a hierarchy step) are included too.
 */
export async function folderTree(server: ImapServer, user: string): Promise<string[]> {
  return withClient(server, user, async (client) => (await listAll(client)).map((entry) => normalPath(server, entry.path)).sort())
}

async function listAll(client: ImapFlow): Promise<ListResponse[]> {
  // Not {listOnly: true}: with a namespace prefix imapflow lists under "INBOX." and only its
  // follow-up LIST (skipped by listOnly) adds INBOX itself.
  return client.list()
}

const isSelectable = (entry: ListResponse) => !entry.flags.has('\\Noselect') && !entry.flags.has('\\NonExistent')

/** Message count of one folder (STATUS MESSAGES). */
export async function countMessages(server: ImapServer, user: string, folder: string): Promise<number> {
  return withClient(server, user, async (client) => {
    const status = await client.status(serverPath(server, folder), {messages: true})
    if (!status || status.messages === undefined) throw new Error(`STATUS ${folder} gave no message count`)
    return status.messages
  })
}

/** UIDs of a folder, ascending. */
export async function listUids(server: ImapServer, user: string, folder: string): Promise<number[]> {
  return withClient(server, user, async (client) => {
    const mailbox = await client.mailboxOpen(serverPath(server, folder), {readOnly: true})
    if (mailbox.exists === 0) return []
    const uids: number[] = []
    for await (const message of client.fetch('1:*', {uid: true})) uids.push(message.uid)
    return uids.sort((a, b) => a - b)
  })
}

/** Sets, adds or removes flags on messages given by UID ('all' = every message). */
export async function setFlags(server: ImapServer, user: string, folder: string, uids: number[] | 'all', flags: string[], mode: 'set' | 'add' | 'remove' = 'set'): Promise<void> {
  await withClient(server, user, async (client) => {
    await client.mailboxOpen(serverPath(server, folder))
    const range = uids === 'all' ? '1:*' : uidSet([...uids].sort((a, b) => a - b))
    const options = {uid: uids !== 'all'}
    if (mode === 'set') await client.messageFlagsSet(range, flags, options)
    else if (mode === 'add') await client.messageFlagsAdd(range, flags, options)
    else await client.messageFlagsRemove(range, flags, options)
  })
}

/** Marks the messages \Deleted and expunges exactly them (UID EXPUNGE). */
export async function expunge(server: ImapServer, user: string, folder: string, uids: number[]): Promise<void> {
  if (uids.length === 0) return
  await withClient(server, user, async (client) => {
    await client.mailboxOpen(serverPath(server, folder))
    await client.messageDelete(uidSet([...uids].sort((a, b) => a - b)), {uid: true})
  })
}

/**
 * Every selectable folder with its messages. Read-only (EXAMINE + BODY.PEEK[]): flags,
 * including \Seen, are not changed. Bodies are fetched in UID batches and hashed as they
 * arrive, so big folders do not have to fit in memory.
 */
export async function snapshot(server: ImapServer, user: string): Promise<Snapshot> {
  return withClient(server, user, async (client) => {
    const result: Snapshot = {}
    const folders = (await listAll(client)).filter(isSelectable).map((entry) => ({path: normalPath(server, entry.path), mailbox: entry.path}))
    // Keys in sorted order, so printed snapshots of different servers line up.
    for (const {path, mailbox} of folders.sort((a, b) => (a.path < b.path ? -1 : 1))) {
      result[path] = await snapshotFolder(client, mailbox)
    }
    return result
  })
}

/** Messages of one folder, sorted; on an already connected client. */
export async function snapshotFolder(client: ImapFlow, mailbox: string): Promise<SnapshotMessage[]> {
  const opened = await client.mailboxOpen(mailbox, {readOnly: true})
  if (opened.exists === 0) return []
  const meta = new Map<number, Omit<SnapshotMessage, 'sha256'>>()
  for await (const message of client.fetch('1:*', {uid: true, flags: true, internalDate: true, size: true})) {
    meta.set(message.uid, {
      size: message.size ?? -1,
      flags: [...(message.flags ?? [])].filter((flag) => flag !== '\\Recent').sort(),
      internalDate: new Date(message.internalDate ?? 0).toISOString(),
    })
  }
  const hashes = new Map<number, string>()
  for (const batch of uidBatches(meta)) {
    for await (const message of client.fetch(uidSet(batch), {uid: true, source: true}, {uid: true})) {
      hashes.set(message.uid, createHash('sha256').update(message.source ?? Buffer.alloc(0)).digest('hex'))
    }
  }
  const messages = [...meta].map(([uid, data]) => {
    const sha256 = hashes.get(uid)
    if (!sha256) throw new Error(`no body fetched for UID ${uid} in ${mailbox}`)
    return {sha256, ...data}
  })
  return messages.sort(compareMessages)
}

function* uidBatches(meta: Map<number, {size: number}>): Generator<number[]> {
  let batch: number[] = []
  let bytes = 0
  for (const [uid, {size}] of meta) {
    if (batch.length > 0 && (bytes + size > BATCH_BYTES || batch.length >= BATCH_MESSAGES)) {
      yield batch
      batch = []
      bytes = 0
    }
    batch.push(uid)
    bytes += size
  }
  if (batch.length > 0) yield batch
}

/**
 * The snapshot that seeding `folders` into an empty Dovecot account gives (for comparisons
 * without a server). Dovecot stores LF line ends and serves CRLF, so every bare LF in a seed
 * message comes back as CRLF, and RFC822.SIZE counts the CRLF form.
 */
export function expectedSnapshot(folders: Record<string, SeedMessage[]>): Snapshot {
  const result: Snapshot = {}
  for (const path of Object.keys(folders).sort()) {
    result[path] = folders[path].map((message) => {
      const served = crlfOnly(message.raw)
      return {
        sha256: createHash('sha256').update(served).digest('hex'),
        size: served.length,
        flags: [...message.flags].sort(),
        internalDate: message.internalDate.toISOString(),
      }
    }).sort(compareMessages)
  }
  return result
}

/** Every bare LF as CRLF. */
export function crlfOnly(raw: Buffer): Buffer {
  return Buffer.from(raw.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1')
}

/** Ascending UIDs as a compact IMAP set: 1,2,3,7 -> "1:3,7". */
export function uidSet(uids: number[]): string {
  const parts: string[] = []
  for (let i = 0; i < uids.length; i++) {
    const start = uids[i]
    while (i + 1 < uids.length && uids[i + 1] === uids[i] + 1) i++
    parts.push(start === uids[i] ? String(start) : `${start}:${uids[i]}`)
  }
  return parts.join(',')
}

function compareMessages(a: SnapshotMessage, b: SnapshotMessage): number {
  const keyA = `${a.sha256} ${a.internalDate} ${a.flags.join(' ')}`
  const keyB = `${b.sha256} ${b.internalDate} ${b.flags.join(' ')}`
  return keyA < keyB ? -1 : keyA > keyB ? 1 : 0
}

// ---------------------------------------------------------------------------------------------
// A minimal raw IMAP connection, only for MULTIAPPEND (which imapflow does not offer).

class RawImap {
  private text = ''
  private tag = 0
  private waiting?: {tag: string; resolve: (line: string) => void; reject: (error: Error) => void}
  private failure?: Error

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      this.text += chunk.toString('latin1')
      this.check()
    })
    const fail = (error: Error) => {
      this.failure ??= error
      this.waiting?.reject(error)
      this.waiting = undefined
    }
    socket.on('error', fail)
    socket.on('close', () => fail(new Error('IMAP connection closed')))
  }

  static async login(server: ImapServer, user: string): Promise<RawImap> {
    const raw = new RawImap(connect({host: server.host, port: server.port}))
    await raw.wait('*')
    await raw.run([`LOGIN ${quote(user)} ${quote(server.password)}`])
    return raw
  }

  /** One APPEND command carrying all `messages` as non-synchronizing literals (LITERAL+). */
  async multiAppend(mailbox: string, messages: SeedMessage[]): Promise<void> {
    const parts: (string | Buffer)[] = [`APPEND ${quote(encodeMailbox(mailbox))}`]
    for (const message of messages) {
      parts.push(` (${message.flags.join(' ')}) "${imapDate(message.internalDate)}" {${message.raw.length}+}\r\n`, message.raw)
    }
    await this.run(parts)
  }

  close(): void {
    this.socket.destroy()
  }

  private async run(parts: (string | Buffer)[]): Promise<string> {
    const tag = `s${++this.tag}`
    this.socket.write(`${tag} `)
    for (const part of parts) this.socket.write(part)
    this.socket.write('\r\n')
    const line = await this.wait(tag)
    if (!line.startsWith(`${tag} OK`)) throw new Error(`IMAP server refused: ${line}`)
    return line
  }

  /** Resolves with the first line starting with `tag ` ('*' for the greeting), dropping lines before it. */
  private wait(tag: string): Promise<string> {
    if (this.failure) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      this.waiting = {tag, resolve, reject}
      this.check()
    })
  }

  private check(): void {
    let end: number
    while (this.waiting && (end = this.text.indexOf('\r\n')) >= 0) {
      const line = this.text.slice(0, end)
      this.text = this.text.slice(end + 2)
      if (line.startsWith(`${this.waiting.tag} `)) {
        const {resolve} = this.waiting
        this.waiting = undefined
        resolve(line)
      }
    }
  }
}

const quote = (text: string) => `"${text.replace(/["\\]/g, '\\$&')}"`

/** IMAP modified UTF-7 (RFC 3501 5.1.3), as imapflow encodes mailbox names. */
export function encodeMailbox(name: string): string {
  return name.replace(/&/g, '&-').replace(/[^\x20-\x7e]+/g, (run) => {
    const utf16be = Buffer.from(run, 'utf16le').swap16()
    return `&${utf16be.toString('base64').replace(/=+$/, '').replace(/\//g, ',')}-`
  })
}

/** IMAP date-time, in UTC: "05-Jun-2019 12:00:30 +0000". */
function imapDate(date: Date): string {
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][date.getUTCMonth()]
  const two = (n: number) => String(n).padStart(2, '0')
  return `${two(date.getUTCDate())}-${month}-${date.getUTCFullYear()} ${date.toISOString().slice(11, 19)} +0000`
}
