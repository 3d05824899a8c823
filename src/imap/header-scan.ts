/**
 * `check`'s read of one folder on a raw connection (wire.ts): EXAMINE and, right behind it, one
 * UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER]), each row parsed by imapflow's
 * own parser and read by fetch-items.ts, on connections of their own (half of the source's
 * --connections, several folders in flight on each: scan-connections.ts) beside the pool's sessions
 * (docs/design.md, "check"). The rows mean what the sessions' reads make of them
 * (ImapStore.scanHeaders's fallback path).
 */
import type {FolderStatus, HeaderedMeta, SkipUids} from '../stores/store.js'
import {ExamineReport, ListingRows, examineArguments, settleBoth} from './examine.js'
import {metaOf} from './fetch-items.js'
import {uidsOutside} from './uidset.js'
import type {WireConnection} from './wire.js'

const FETCH_ITEMS = ['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE'].map((value) => ({type: 'ATOM', value}))
const HEADER_ITEM = {type: 'ATOM', value: 'BODY.PEEK', section: [{type: 'ATOM', value: 'HEADER'}]}

/**
 * The folder's status and its messages with their header blocks (those of `skip` left out where its
 * UIDVALIDITY holds), from an EXAMINE and a UID FETCH sent together: other scans may be in flight on the connection before and after them, and each command
 * reads only the untagged responses that come while it is the oldest unanswered (wire.ts): a server
 * runs an EXAMINE only once the commands before it are done (RFC 9051 5.5), and a failed EXAMINE
 * deselects (RFC 9051 6.3.2), so the FETCH behind it never reads another folder. `path` is the folder
 * as listed (imapflow's decoded name, namespace prefix included); it is sent in modified UTF-7 as
 * imapflow does without UTF8=ACCEPT. Throws the server's NO/BAD or the connection's error in
 * imapflow's shapes.
 */
export async function scanFolder(connection: WireConnection, path: string, where: string, skip?: SkipUids): Promise<{status: FolderStatus; messages: HeaderedMeta[]}> {
  const set = (skip && uidsOutside(skip.uids)) ?? '1:*'
  const scanned = await scanSet(connection, path, where, set)
  const {uidValidity} = scanned.status
  if (set === '1:*' || skip?.uidValidity === null || skip?.uidValidity === uidValidity) return scanned
  // Another UIDVALIDITY: the UIDs left out are not those messages, so every one is read.
  return scanSet(connection, path, where, '1:*')
}

/** The folder's status and the messages of the UID set `set`, with their header blocks. */
async function scanSet(connection: WireConnection, path: string, where: string, set: string): Promise<{status: FolderStatus; messages: HeaderedMeta[]}> {
  const examined = new ExamineReport()
  let selected = false
  const examine = connection
    .command('EXAMINE', examineArguments(connection, path, false), {onUntagged: (response, oldest) => oldest && examined.read(response)})
    .then(() => (selected = true))
  const listing = new ListingRows(connection, () => examined.exists, {where, path})
  const fetch = connection.command('UID FETCH', [{type: 'SEQUENCE', value: set}, [...FETCH_ITEMS, HEADER_ITEM]], {
    onUntagged: (response, oldest) => oldest && listing.read(response),
  })
  try {
    await settleBoth(examine, fetch)
  } catch (failure) {
    if (listing.failure) throw listing.failure
    // An empty folder: some servers refuse a UID set where there is no message.
    if (!selected || examined.exists !== 0) throw failure
  }
  const messages = listing.rows().map((row): HeaderedMeta => ({...metaOf(row), header: row.header ?? Buffer.alloc(0)}))
  return {status: examined.status(), messages}
}
