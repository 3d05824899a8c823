/**
 * `check`'s read of one folder on a raw connection (wire.ts): EXAMINE, then one
 * UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER]), each row parsed by imapflow's
 * own parser and read by fetch-items.ts, on connections of their own (half of the source's
 * --connections) beside the pool's sessions (docs/design.md, "check"). The rows mean what the
 * sessions' reads make of them (ImapStore.scanHeaders's fallback path).
 */
import {FolderError} from '../errors.js'
import type {FolderStatus, HeaderedMeta} from '../stores/store.js'
import {ExamineReport, examineArguments} from './examine.js'
import {fetchSeq, hasUid, metaOf, readFetchItems, untaggedNumber, type FetchRow} from './fetch-items.js'
import type {WireConnection, WireResponse} from './wire.js'

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
  let exists = status.messages
  if (exists === 0) return {status, messages: []}

  const rows = new Map<number, FetchRow>()
  let error: Error | undefined
  const onFetch = (response: WireResponse) => {
    exists = Math.max(exists, untaggedNumber(response, 'EXISTS') ?? 0)
    const seq = fetchSeq(response)
    if (error || seq === undefined) return
    const row = rows.get(seq) ?? {}
    readFetchItems(response.attributes?.[1], row)
    rows.set(seq, row)
    // As checkListingLength: a listing longer than the folder is a broken or hostile server.
    if (rows.size > exists) {
      error = new FolderError(`${where}: folder "${path}": the server listed more messages than the folder holds (${exists}); the session was closed`, {
        hint: 'the server is broken or not what it claims to be; the other folders were synced',
      })
      connection.close(error)
    }
  }
  try {
    await connection.command('UID FETCH', [{type: 'SEQUENCE', value: '1:*'}, [...FETCH_ITEMS, HEADER_ITEM]], {onUntagged: onFetch})
  } catch (failure) {
    throw error ?? failure
  }
  const messages: HeaderedMeta[] = []
  for (const row of rows.values()) if (hasUid(row)) messages.push({...metaOf(row), header: row.header ?? Buffer.alloc(0)})
  return {status, messages}
}
