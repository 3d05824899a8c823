/**
 * What a session reads about an account and its folders, as the Store contract hands it on: the
 * folder list (LIST, RFC 9051 6.3.9, with RFC 6154 special-use attributes), quota (GETQUOTAROOT,
 * RFC 9208), a folder's status (STATUS, or what SELECT/EXAMINE reported) and its message listings
 * (UID FETCH of flags, metadata or header blocks, RFC 9051 6.4.5). The store (stores/imap-store.ts)
 * picks the session and selects the folder; every function here runs on that session.
 *
 * A listing may hold no more messages than the folder has (checkListingLength): a server that sends
 * rows without end would otherwise grow it until memory runs out.
 */
import type {FolderInfo, FolderPeek, FolderStatus, MessageFlags, MessageMeta, MessageSize, OnHeader, QuotaInfo, ScannedMeta} from '../stores/store.js'
import {parseMessageId} from '../stores/message-id.js'
import {sharedFlagLists} from '../sharing.js'
import {falseAnswer} from './errors.js'
import {metaOf, type Row} from './fetch-items.js'
import {fetchRows} from './fetch-rows.js'
import {checkListingLength} from './limits.js'
import type {ImapClient} from './session.js'
import {chunkUidSets} from './uidset.js'

/** Where a listing is from, for its errors: the store's "source alice@host:port" and the folder. */
export interface Place {
  where: string
  path: string
}

/**
 * The special-use attribute the server sent in LIST (RFC 6154, RFC 8457 \\Important), in its
 * canonical spelling. imapflow's own `specialUse` also guesses from names ("Entwürfe" -> \\Drafts);
 * the planner does its own, documented name matching, so only the server's word is passed on.
 */
const SPECIAL_USE_ATTRIBUTES = ['\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash', '\\Important']
function specialUseAttribute(flags: Set<string>): string | undefined {
  for (const flag of flags) {
    const known = SPECIAL_USE_ATTRIBUTES.find((attribute) => attribute.toLowerCase() === flag.toLowerCase())
    if (known) return known
  }
  return undefined
}

/** Every folder of the account (LIST "" "*"). */
export async function listFolders(client: ImapClient): Promise<FolderInfo[]> {
  const list = await client.list()
  return list.map((entry) => ({
    path: entry.path,
    delimiter: entry.delimiter || null,
    specialUse: specialUseAttribute(entry.flags),
    noSelect: entry.flags.has('\\Noselect') || entry.flags.has('\\NonExistent'),
    // imapflow leaves it undefined for an unsubscribed folder, and sets it on every folder
    // when the server cannot tell.
    subscribed: entry.subscribed === true,
  }))
}

/** The quota of the folder's quota root; undefined without QUOTA, when refused, or with no limit set. */
export async function quotaOf(client: ImapClient, path: string): Promise<QuotaInfo | undefined> {
  // imapflow sends GETQUOTAROOT (then GETQUOTA if needed); false: no QUOTA capability or refused.
  const answer = (await client.getQuota(path)) as
    | false
    | undefined
    | {quotaRoot?: string; storage?: {usage?: number; limit?: number}; message?: {usage?: number; limit?: number}}
  if (!answer) return undefined
  const resource = (r?: {usage?: number; limit?: number}) => (r && r.limit !== undefined ? {usage: r.usage ?? 0, limit: r.limit} : undefined)
  const storage = resource(answer.storage)
  const messages = resource(answer.message)
  if (!storage && !messages) return undefined
  return {root: answer.quotaRoot ?? '', storage, messages}
}

/** STATUS of a folder, without selecting it; HIGHESTMODSEQ only when CONDSTORE is used. */
export async function peekFolder(client: ImapClient, path: string, condstore: boolean): Promise<FolderPeek> {
  // Dovecot answers STATUS on the selected mailbox from the session's last view of it, which
  // misses changes made by others since; a NOOP brings the session up to date first.
  if (client.mailbox && client.mailbox.path === path) await client.noop()
  const status = await client.status(path, {uidValidity: true, uidNext: true, messages: true, highestModseq: condstore})
  if (!status) throw falseAnswer(client, 'STATUS')
  return {
    uidValidity: Number(status.uidValidity),
    uidNext: status.uidNext ?? 0,
    messages: status.messages ?? 0,
    highestModseq: status.highestModseq,
  }
}

/** The selected folder's status, as SELECT/EXAMINE reported it. */
export function selectedStatus(client: ImapClient): FolderStatus {
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
}

/** UID and RFC822.SIZE of every message of the selected folder. */
export async function listSizes(client: ImapClient): Promise<MessageSize[]> {
  if (!client.mailbox || client.mailbox.exists === 0) return []
  const out: MessageSize[] = []
  await fetchRows(client, '1:*', {size: true}, (row) => out.push({uid: row.uid, size: row.size ?? 0}))
  return out
}

/**
 * UID and flags of the selected folder's messages; with changedSince (RFC 7162 CONDSTORE) only those
 * changed since, and with QRESYNC the UIDs expunged since go to onVanished.
 */
export async function listFlags(
  client: ImapClient,
  place: Place,
  options: {changedSince?: bigint; onVanished?: (uid: number) => void},
): Promise<MessageFlags[]> {
  if (!client.mailbox || client.mailbox.exists === 0) return []
  const out: MessageFlags[] = []
  const {changedSince} = options
  // QRESYNC: UID FETCH ... (CHANGEDSINCE m VANISHED) also answers VANISHED (EARLIER) uids, which
  // imapflow emits as 'expunge' events; this session is ours alone while the task runs.
  const mailboxPath = client.mailbox.path
  const onExpunge = (event: {path?: string; uid?: number; vanished?: boolean; earlier?: boolean}) => {
    if (event.vanished && event.earlier && event.path === mailboxPath && event.uid !== undefined) options.onVanished?.(event.uid)
  }
  const reportVanished = changedSince !== undefined && options.onVanished !== undefined && client.enabled.has('QRESYNC')
  if (reportVanished) client.on('expunge', onExpunge)
  try {
    await fetchRows(client, '1:*', {flags: true, changedSince}, (row) => {
      checkListingLength(client, out.length + 1, place.where, place.path)
      out.push({uid: row.uid, flags: row.flags ?? []})
    })
  } finally {
    if (reportVanished) client.off('expunge', onExpunge)
  }
  return out
}

/**
 * UID, flags, size, internal date and Message-ID of the selected folder's messages (these UIDs, or
 * all). Each listed size goes into `sizes`.
 */
export async function listMeta(client: ImapClient, place: Place, uids: number[] | undefined, sizes: Map<number, number>): Promise<MessageMeta[]> {
  if (!client.mailbox || client.mailbox.exists === 0) return []
  const out: MessageMeta[] = []
  const query = {flags: true, size: true, internalDate: true, header: ['Message-ID']}
  for (const range of uids ? chunkUidSets(uids) : ['1:*']) {
    await fetchRows(client, range, query, (row) => {
      checkListingLength(client, out.length + 1, place.where, place.path)
      out.push(listedMeta(row))
      sizes.set(row.uid, row.size ?? 0)
    })
  }
  return out
}

/** A listing's row (UID, FLAGS, RFC822.SIZE, INTERNALDATE and the Message-ID header field) as the Store hands it on. */
export function listedMeta(row: Row): MessageMeta {
  return {...metaOf(row), messageId: row.header ? parseMessageId(row.header) : undefined}
}

/** A pipelined listing's rows (read-pipeline.ts) as listMeta's: flag lists shared, each listed size into `sizes`. */
export function metasOfRows(rows: Row[], sizes: Map<number, number>): MessageMeta[] {
  const flagList = sharedFlagLists()
  return rows.map((row) => {
    sizes.set(row.uid, row.size ?? 0)
    return listedMeta({...row, flags: row.flags && flagList(row.flags)})
  })
}

/**
 * Every message of the selected folder, its header block handed to `onHeader` as it comes (check,
 * verify: ImapListings.scanHeaders on a session). Each listed size goes into `sizes`.
 */
export async function listHeadered(client: ImapClient, place: Place, sizes: Map<number, number>, onHeader: OnHeader): Promise<{status: FolderStatus; messages: ScannedMeta[]}> {
  const status = selectedStatus(client)
  const messages: ScannedMeta[] = []
  if (status.messages === 0) return {status, messages}
  await fetchRows(client, '1:*', {flags: true, size: true, internalDate: true, header: true}, (row) => {
    checkListingLength(client, messages.length + 1, place.where, place.path)
    onHeader(row.uid, row.header ?? Buffer.alloc(0))
    messages.push(metaOf(row))
    sizes.set(row.uid, row.size ?? 0)
  })
  return {status, messages}
}

/** The header blocks of these messages of the selected folder, 500 UIDs per command. */
export async function fetchHeaderBlocks(client: ImapClient, uids: number[]): Promise<Map<number, Buffer>> {
  const out = new Map<number, Buffer>()
  for (const range of chunkUidSets(uids, 500)) {
    await fetchRows(client, range, {header: true}, (row) => out.set(row.uid, row.header ?? Buffer.alloc(0)))
  }
  return out
}
