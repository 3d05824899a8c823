/**
 * `check`'s read of one folder on a raw connection (wire.ts): EXAMINE, then one
 * UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER]), each row parsed by imapflow's
 * own parser and read by fetch-items.ts, on connections of their own (half of the source's
 * --connections) beside the pool's sessions (docs/design.md, "check"). The rows mean what the
 * sessions' reads make of them (ImapStore.scanHeaders's fallback path).
 */
import type {FolderStatus, HeaderedMeta} from '../stores/store.js'
import {ExamineReport, ListingRows, examineArguments} from './examine.js'
import {metaOf} from './fetch-items.js'
import type {WireConnection} from './wire.js'

const FETCH_ITEMS = ['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE'].map((value) => ({type: 'ATOM', value}))
const HEADER_ITEM = {type: 'ATOM', value: 'BODY.PEEK', section: [{type: 'ATOM', value: 'HEADER'}]}

/**
 * The folder's status and its messages with their header blocks. `path` is the folder as listed
 * (imapflow's decoded name, namespace prefix included); it is sent in modified UTF-7 as imapflow does
 * without UTF8=ACCEPT. Throws the server's NO/BAD or the connection's error in imapflow's shapes.
 */
export async function scanFolder(connection: WireConnection, path: string, where: string): Promise<{status: FolderStatus; messages: HeaderedMeta[]}> {
  const examined = new ExamineReport()
  await connection.command('EXAMINE', examineArguments(connection, path, false), {onUntagged: examined.read})
  const status = examined.status()
  if (status.messages === 0) return {status, messages: []}

  const listing = new ListingRows(connection, () => status.messages, {where, path})
  try {
    await connection.command('UID FETCH', [{type: 'SEQUENCE', value: '1:*'}, [...FETCH_ITEMS, HEADER_ITEM]], {onUntagged: listing.read})
  } catch (failure) {
    throw listing.failure ?? failure
  }
  const messages = listing.rows().map((row): HeaderedMeta => ({...metaOf(row), header: row.header ?? Buffer.alloc(0)}))
  return {status, messages}
}
