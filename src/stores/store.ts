/**
 * The store contract: everything the sync engine knows about a mailbox store (after mbsync's driver.h).
 *
 * The engine sees only these types, so a Maildir or mbox store can be added without touching it.
 * Folder paths are always given in the store's own syntax (its delimiter and namespace prefix);
 * translating between two stores is the planner's job.
 *
 * Concurrency: a store may be called concurrently from several tasks; an implementation spreads
 * the calls over its own connections (IMAP) or file handles. All memory returned belongs to the caller.
 *
 * Errors: methods throw MailferryError subclasses from src/errors.ts. A message-scoped failure
 * (MessageRejectedError) concerns only that message; anything else concerns the folder or the store.
 */
import {sha256} from '../digest.js'

export interface StoreCapabilities {
  /** The store returns the new UID from append() (IMAP UIDPLUS, RFC 4315). */
  uidplus: boolean
  /** CONDSTORE (RFC 7162) is available. */
  condstore: boolean
  /**
   * deleteMessages() removes exactly the given messages (IMAP: UIDPLUS UID EXPUNGE, RFC 4315).
   * Without it deleteMessages() throws rather than expunge every message flagged \Deleted.
   */
  expungeByUid: boolean
  /** Largest message the store accepts (IMAP APPENDLIMIT, RFC 7889), if it says. */
  appendLimit?: number
  /**
   * The personal namespace (IMAP NAMESPACE, RFC 2342): the prefix of the account's own folders ("" or
   * e.g. "INBOX.") and its separator. Undefined when the store does not say: no prefix, and the
   * separator of its folder listing.
   */
  namespace?: StoreNamespace
  /** Prefixes of the other-users and shared namespaces (RFC 2342): folders there are not the account's. */
  otherNamespaces?: string[]
  /** The server software's name as it says (IMAP ID, RFC 2971), for its known rules; undefined when it does not. */
  serverName?: string
  /** The longest line the store takes (a configured maxLineLength: longer ones are refused unsent), if set. */
  maxLineLength?: number
}

/** A quota root's limits (IMAP GETQUOTAROOT, RFC 2087/9208): storage in bytes, messages in count. */
export interface QuotaInfo {
  root: string
  storage?: {usage: number; limit: number}
  messages?: {usage: number; limit: number}
}

export interface StoreNamespace {
  prefix: string
  delimiter: string | null
}

export interface FolderInfo {
  /** Full path in the store's syntax, e.g. "INBOX.Lists.fork" or "Lists/fork". */
  path: string
  /** Hierarchy delimiter, or null for a flat store. */
  delimiter: string | null
  /**
   * Special-use attribute the store reports for it (RFC 6154: \\Sent, \\Trash, \\Drafts, \\Junk,
   * \\Archive, \\All, \\Flagged; RFC 8457: \\Important). Never guessed from the name: that is the planner's job.
   */
  specialUse?: string
  /** The folder cannot hold messages (\Noselect / \NonExistent): only a parent in the hierarchy. */
  noSelect: boolean
  subscribed?: boolean
}

export interface FolderStatus {
  uidValidity: number
  uidNext: number
  /** Number of messages in the folder. */
  messages: number
  /**
   * Flags and keywords the store keeps for good (IMAP PERMANENTFLAGS). Contains "\\*" when
   * any keyword can be created. Undefined when the store does not say (then every flag is tried).
   */
  permanentFlags?: string[]
  highestModseq?: bigint
}

/** What a folder looks like from outside, without selecting it (IMAP STATUS). */
export interface FolderPeek {
  uidValidity: number
  uidNext: number
  messages: number
  /** CONDSTORE (RFC 7162): changes with every new message, flag change and expunge. */
  highestModseq?: bigint
}

export interface MessageSize {
  uid: number
  /** RFC822.SIZE. */
  size: number
}

/** Cheap per-message data: what a full listing returns for every message. */
export interface MessageFlags {
  uid: number
  flags: string[]
}

/** Metadata of one message, without its body. */
export interface MessageMeta extends MessageFlags {
  /** RFC822.SIZE: bytes as the store would return them (CRLF line ends for IMAP). */
  size: number
  internalDate: Date
  /** The Message-ID header value, trimmed, or undefined when the message has none. */
  messageId?: string
}

/**
 * Whole-folder reads (scanHeaders, scanSizes) worth starting at once per connection of a side: an IMAP
 * store keeps several in flight on each of its scan connections (imap/scan-connections.ts), and
 * bounds its connections itself.
 */
export const FOLDER_READS_PER_CONNECTION = 4

/** UIDs a reader may leave out (scanHeaders), valid under the UIDVALIDITY they were taken under (null: unknown, taken as the folder's). */
export interface SkipUids {
  uidValidity: number | null
  uids: ReadonlySet<number>
}

/** A message as a whole-folder read lists it (scanHeaders): its header block went to the caller as it came. */
export type ScannedMeta = Omit<MessageMeta, 'messageId'>

/** Called with each message's header block as a whole-folder read meets it (scanHeaders). */
export type OnHeader = (uid: number, header: Buffer) => void

export interface FetchedMessage {
  uid: number
  /** The whole message, exactly as stored (IMAP BODY.PEEK[], so \Seen is never set). */
  raw: Buffer
  flags: string[]
  internalDate: Date
}

export interface AppendResult {
  /** UID of the new copy when the store can tell (UIDPLUS); undefined otherwise, as in mbsync's store_msg. */
  uid?: number
  /** UIDVALIDITY that uid belongs to, when the store reports it. */
  uidValidity?: number
}

/** What a store reports about its own work, for the run report (a store without reconnects says 0). */
export interface StoreStats {
  /** Operations tried again after a lost connection or server pushback. */
  retries: number
  /** Sessions closed by the server or the network, and replaced. */
  droppedSessions: number
  /**
   * Keywords a folder could not keep although its PERMANENTFLAGS allowed new ones when the run began,
   * by folder path (a Maildir folder has 26 keyword letters). The engine counts the rest itself.
   */
  droppedKeywords: Record<string, string[]>
}

/** A folder watch (Store.watch). */
export interface FolderWatch {
  stop(): Promise<void>
  /** The watch ended by itself (its session dropped): the caller re-syncs and sets it up again. */
  readonly closed: boolean
  /**
   * Set when the watch holds one of the store's connection places (within --connections): it ends
   * (closed) as soon as other work waits for a place, so the caller sets it up again after that
   * work, and compares `selected` with what the work saw.
   */
  readonly inTurns?: boolean
  /** The folder as the watch found it when it selected it. */
  readonly selected: FolderStatus
}

export interface Store {
  /** A short label for messages and reports ("source", "destination"). Never contains a secret. */
  readonly label: string
  /** Connect and authenticate. Throws AuthError or ConnectError. */
  open(): Promise<void>
  /** Capabilities; valid after open(). */
  capabilities(): StoreCapabilities
  listFolders(): Promise<FolderInfo[]>
  /** Create one folder (its parent must exist). Creating a folder that exists is not an error. */
  createFolder(path: string): Promise<void>
  /** UIDVALIDITY, UIDNEXT, count and permanent flags. Throws FolderError when the folder is missing. */
  status(path: string): Promise<FolderStatus>
  /**
   * Optional: UIDVALIDITY, UIDNEXT, count and HIGHESTMODSEQ without selecting the folder. Lets a
   * no-change run skip a folder after one command. Stores without it are always listed.
   */
  peek?(path: string): Promise<FolderPeek>
  /**
   * UID and flags of every message: the cheap listing a no-change run relies on. With changedSince
   * (CONDSTORE, RFC 7162 CHANGEDSINCE) a store may return only messages whose flags changed or that
   * arrived after that HIGHESTMODSEQ; a store that cannot filter returns them all. With changedSince,
   * a store that can (QRESYNC, RFC 7162 3.2.6: VANISHED (EARLIER)) calls onVanished for each UID
   * expunged since then (possibly UIDs the caller never knew); one that cannot never calls it.
   */
  listFlags(path: string, options?: {changedSince?: bigint; onVanished?: (uid: number) => void}): Promise<MessageFlags[]>
  /** Full metadata for the given UIDs (all messages when uids is undefined). Missing UIDs are left out. */
  listMeta(path: string, uids?: number[]): Promise<MessageMeta[]>
  /**
   * The header block (up to and including the blank line) of the given UIDs, as stored.
   * Used to tell apart messages that share a Message-ID and size. Missing UIDs are left out.
   */
  fetchHeaders(path: string, uids: number[]): Promise<Map<number, Buffer>>
  /**
   * Optional: the folder's status and every message's metadata, and its header block handed to
   * `onHeader` as it comes and not kept (so memory stays bounded whatever the folder holds), in one
   * pass (IMAP: EXAMINE, then one UID FETCH with BODY.PEEK[HEADER]), for `check` and `verify`. A
   * message may be handed more than once (its folder read again after a failure): the last one stands.
   * Messages of `skip.uids` may be left out (not read) when the folder's UIDVALIDITY is
   * `skip.uidValidity` or that is null; any other message is there. Stores without it are asked
   * status(), listMeta() and fetchHeaders().
   */
  scanHeaders?(path: string, onHeader: OnHeader, skip?: SkipUids): Promise<{status: FolderStatus; messages: ScannedMeta[]}>
  /**
   * One whole message, or null when it is gone (expunged under our feet: not an error).
   * `listedSize` (RFC822.SIZE from the listing) bounds what is read: a body far larger than listed
   * is refused with MessageRejectedError (imap/limits.ts).
   */
  fetchMessage(path: string, uid: number, options?: {listedSize?: number}): Promise<FetchedMessage | null>
  /**
   * Store a message with the given flags and internal date. Flags the folder does not accept must
   * already be filtered out by the caller (see sync/flags.ts). Not idempotent: never retry blindly.
   * Throws MessageRejectedError when the store refuses this message.
   */
  appendMessage(path: string, raw: Buffer, flags: string[], internalDate: Date): Promise<AppendResult>
  /**
   * Optional: `barrier` is called synchronously just before the first byte of any APPEND is sent
   * (one call may cover a whole batch). A caller that defers its commits (StateRepository.groupCommits)
   * commits there, so that what it recorded before appendMessage is on disk before the message is.
   * Stores without it get no deferred commits.
   */
  setAppendBarrier?(barrier: () => void): void
  /**
   * Add and remove the same flags on each of these messages (IMAP: one UID STORE per UID set, not
   * one per message). Messages that are gone are ignored. A refusal throws CommandRefusedError:
   * nothing may be recorded as synced then.
   */
  setFlags(path: string, uids: number[], add: string[], remove: string[]): Promise<void>
  /**
   * Remove exactly these messages for good (IMAP: UID STORE +FLAGS \Deleted then UID EXPUNGE).
   * Throws CommandRefusedError when refused, or when the store cannot delete by UID (expungeByUid).
   */
  deleteMessages(path: string, uids: number[]): Promise<void>
  /**
   * Optional: move one message to another folder inside the store, keeping its bytes, flags and
   * internal date (IMAP MOVE, RFC 6851, or COPY + UID EXPUNGE). Returns its UID there when known.
   * Throws CommandRefusedError when refused or not possible without a plain EXPUNGE.
   */
  moveMessage?(path: string, uid: number, toPath: string): Promise<AppendResult>
  /** Optional: call onChange when the folder changes (IMAP IDLE). Stores without it are polled. */
  watch?(path: string, onChange: () => void): Promise<FolderWatch>
  /** Optional: delete a folder (it should be empty). */
  deleteFolder?(path: string): Promise<void>
  /**
   * Optional: createFolder, subscribeFolder or unsubscribeFolder for several folders at once (IMAP:
   * the commands pipelined on one connection). Each folder's outcome, in order: undefined when done,
   * else the error the single call would have thrown for it.
   */
  folderCommands?(verb: 'create' | 'subscribe' | 'unsubscribe', paths: string[]): Promise<Array<Error | undefined>>
  /** Optional: subscribe a folder (IMAP SUBSCRIBE). Subscribing a subscribed folder is not an error. */
  subscribeFolder?(path: string): Promise<void>
  /**
   * Optional: unsubscribe a folder (IMAP UNSUBSCRIBE). createFolder() may subscribe what it creates
   * (imapflow does); the planner unsubscribes new folders that are not subscribed on the source.
   */
  unsubscribeFolder?(path: string): Promise<void>
  /**
   * Optional: the quota root of a folder and its limits (IMAP GETQUOTAROOT). Undefined when the
   * store has no quota or does not say.
   */
  quota?(path: string): Promise<QuotaInfo | undefined>
  /**
   * Optional: the folder's status and the UID and size (RFC822.SIZE) of every message, read-only, in
   * one pass (for `plan`; cheaper than listMeta). Stores without it are asked peek() or status(),
   * then listMeta().
   */
  scanSizes?(path: string): Promise<{status: FolderStatus; sizes: MessageSize[]}>
  /**
   * Optional: what is read from now on comes from new sessions (IMAP: pooled sessions are replaced).
   * Called before looking for a message whose APPEND was cut off: a surviving server process may
   * still serve a stale view of the mailbox.
   */
  renewSessions?(): void
  /**
   * Optional: the run is done with this folder for now. What the store remembers of its listings
   * (IMAP: the listed sizes, so that a large message is read alone) may go; later reads still work.
   */
  forgetFolder?(path: string): void
  /** Counters so far, for the report. */
  stats(): StoreStats
  /** Log out and release every connection. Safe to call twice. */
  close(): Promise<void>
}

/**
 * The folder's status (STATUS where the store can, so nothing is selected) and every message's
 * metadata; an empty folder is not listed. For a store without a one-pass read (scanHeaders, scanSizes).
 */
export async function statusAndListing(store: Pick<Store, 'peek' | 'status' | 'listMeta'>, path: string): Promise<{status: FolderPeek; listed: MessageMeta[]}> {
  const status = store.peek ? await store.peek(path) : await store.status(path)
  return {status, listed: status.messages === 0 ? [] : await store.listMeta(path)}
}

/** UIDs per header FETCH when the blocks are used as they come: one chunk held at a time, few round trips. */
const HEADER_CHUNK = 500

/**
 * Calls fn with the header block of each of `uids` that is there (Store.fetchHeaders, chunk by
 * chunk), so that a folder of tens of thousands of messages never has all its header blocks in memory.
 */
export async function eachHeader(store: Pick<Store, 'fetchHeaders'>, path: string, uids: number[], fn: (uid: number, block: Buffer) => void): Promise<void> {
  for (let i = 0; i < uids.length; i += HEADER_CHUNK) {
    for (const [uid, block] of await store.fetchHeaders(path, uids.slice(i, i + HEADER_CHUNK))) fn(uid, block)
  }
}

/**
 * The SHA-256 of each header block of `uids` that is there (the header hash: recognition, the proof
 * of copies, verify), read chunk by chunk as eachHeader; `inspect` also sees each block.
 */
export async function headerHashes(
  store: Pick<Store, 'fetchHeaders'>,
  path: string,
  uids: number[],
  inspect?: (uid: number, block: Buffer) => void,
): Promise<Map<number, string>> {
  const hashes = new Map<number, string>()
  await eachHeader(store, path, uids, (uid, block) => {
    inspect?.(uid, block)
    hashes.set(uid, sha256(block))
  })
  return hashes
}
