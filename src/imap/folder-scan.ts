/**
 * A folder read whole on a raw connection (wire.ts), for `check`, `plan` and `verify`: EXAMINE and,
 * right behind it, one UID FETCH of the messages, each row parsed by imapflow's own parser and read by
 * fetch-items.ts, on connections of their own (half of a side's --connections, several folders in
 * flight on each: scan-connections.ts) beside the pool's sessions (docs/design.md, "check"). check
 * and verify ask for UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER], plan for UID RFC822.SIZE.
 * The rows mean what the sessions' reads make of them (ImapListings' fallback paths).
 *
 * Other scans may be in flight on the connection before and after a folder's two commands, and each
 * command reads only the untagged responses that come while it is the oldest unanswered (wire.ts): a
 * server runs an EXAMINE only once the commands before it are done (RFC 9051 5.5), and a failed
 * EXAMINE deselects (RFC 9051 6.3.2), so the FETCH behind it never reads another folder.
 */
import type {FolderStatus, MessageSize, OnHeader, ScannedMeta, SkipUids} from '../stores/store.js'
import {ExamineReport, ListingRows, examineArguments, settleBoth} from './examine.js'
import {metaOf, type Row} from './fetch-items.js'
import {uidsOutside} from './uidset.js'
import type {WireConnection} from './wire.js'

const atom = (value: string) => ({type: 'ATOM', value})
const HEADERED = [...['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE'].map(atom), {type: 'ATOM', value: 'BODY.PEEK', section: [atom('HEADER')]}]
const SIZES = ['UID', 'RFC822.SIZE'].map(atom)

/**
 * The folder's status and its messages, each header block handed to `onHeader` as its row comes (and
 * not kept), those of `skip` left out where its UIDVALIDITY holds. `path` is the folder as listed
 * (imapflow's decoded name, namespace prefix included); it is sent in modified UTF-7 as imapflow does
 * without UTF8=ACCEPT. Throws the server's NO/BAD or the connection's error in imapflow's shapes.
 */
export async function scanFolder(
  connection: WireConnection,
  path: string,
  where: string,
  onHeader: OnHeader,
  skip?: SkipUids,
): Promise<{status: FolderStatus; messages: ScannedMeta[]}> {
  const set = (skip && uidsOutside(skip.uids)) ?? '1:*'
  const onRow = (row: Row) => onHeader(row.uid, row.header ?? Buffer.alloc(0))
  let scanned = await scanSet(connection, path, where, set, HEADERED, onRow)
  // Another UIDVALIDITY: the UIDs left out are not those messages, so every one is read.
  if (set !== '1:*' && skip?.uidValidity !== null && skip?.uidValidity !== scanned.status.uidValidity) scanned = await scanSet(connection, path, where, '1:*', HEADERED, onRow)
  return {status: scanned.status, messages: scanned.rows.map(metaOf)}
}

/** The folder's status and the UID and size of each of its messages (as scanFolder). */
export async function scanSizes(connection: WireConnection, path: string, where: string): Promise<{status: FolderStatus; sizes: MessageSize[]}> {
  const {status, rows} = await scanSet(connection, path, where, '1:*', SIZES)
  return {status, sizes: rows.map((row) => ({uid: row.uid, size: row.size ?? 0}))}
}

/** The folder's status and the rows of `items` for the UID set `set`; with onRow, each header block goes there, not into the rows. */
async function scanSet(
  connection: WireConnection,
  path: string,
  where: string,
  set: string,
  items: unknown[],
  onRow?: (row: Row) => void,
): Promise<{status: FolderStatus; rows: Row[]}> {
  const examined = new ExamineReport()
  let selected = false
  const examine = connection
    .command('EXAMINE', examineArguments(connection, path, false), {onUntagged: (response, oldest) => oldest && examined.read(response)})
    .then(() => (selected = true))
  const listing = new ListingRows(connection, () => examined.exists, {where, path}, onRow)
  const fetch = connection.command('UID FETCH', [{type: 'SEQUENCE', value: set}, items], {onUntagged: (response, oldest) => oldest && listing.read(response)})
  try {
    await settleBoth(examine, fetch)
  } catch (failure) {
    if (listing.failure) throw listing.failure
    // An empty folder: some servers refuse a UID set where there is no message.
    if (!selected || examined.exists !== 0) throw failure
  }
  return {status: examined.status(), rows: listing.rows()}
}
