/**
 * UID FETCH on an imapflow session, rows read straight from its parser (fetch-items.ts).
 *
 * imapflow's own fetch() formats every row into a message object (each item's key compiled back to
 * text), wraps it in a promise and hands it out through an async iterator: on a loopback first sync
 * of 2,000 messages that was 0.25 s of the main thread's 2.4 s, for the listing and the body reads.
 * Here the command goes through imapflow's command queue (exec, the call its own FETCH makes), so
 * the session's login, TLS, trace, limits and reconnects are unchanged; only the rows' handling is
 * ours. Errors are imapflow's: a throttled answer (ETHROTTLE) is pushback to the store, which waits
 * and tries again (imap/errors.ts), as for any other command.
 */

import {sharedFlagLists} from '../sharing.js'
import {fetchSeq, hasUid, readFetchItems, type FetchRow, type Row} from './fetch-items.js'
import type {ImapClient} from './session.js'

/** What to fetch besides the UID. */
export interface RowQuery {
  flags?: boolean
  size?: boolean
  internalDate?: boolean
  /** BODY.PEEK[] */
  body?: boolean
  /** BODY.PEEK[HEADER] (true) or BODY.PEEK[HEADER.FIELDS (names)] */
  header?: true | string[]
  /**
   * Only messages changed since this MODSEQ (RFC 7162 CONDSTORE), when the session enabled it; with
   * QRESYNC the server also answers VANISHED (EARLIER), which imapflow emits as 'expunge' events.
   */
  changedSince?: bigint
}


const atom = (value: string) => ({type: 'ATOM', value})

/**
 * Runs `UID FETCH <uids> (UID ...)` on the selected folder and calls onRow for each FETCH row that
 * carries a UID, as it is parsed: one call per row, as imapflow's fetch() yields them (a server that
 * splits a message's items over rows gives several). onRow may throw (a listing longer than the
 * folder closes the session): fetchRows then rejects with that error and delivers nothing more.
 */
export async function fetchRows(client: ImapClient, uids: string, query: RowQuery, onRow: (row: Row) => void): Promise<void> {
  let failure: unknown
  const deliver = (row: FetchRow) => {
    if (failure !== undefined || !hasUid(row)) return
    try {
      onRow(row)
    } catch (error) {
      failure = error
    }
  }
  const mailbox = client.mailbox || undefined
  // A listing of 100,000 messages holds 100,000 flag lists, nearly all alike.
  const flagList = sharedFlagLists()
  const onFetch = (response: {command: string; attributes?: unknown[]}) => {
    if (fetchSeq(response) === undefined) return
    const row: FetchRow = {}
    readFetchItems(response.attributes?.[1] as unknown[], row)
    if (row.flags) row.flags = flagList(row.flags)
    // As imapflow does: a UID at or past the folder's UIDNEXT moves it on.
    if (mailbox && row.uid !== undefined && mailbox.uidNext <= row.uid) mailbox.uidNext = row.uid + 1
    deliver(row)
  }
  try {
    const exec = (client as unknown as ExecClient).exec.bind(client)
    const response = await exec('UID FETCH', [{type: 'SEQUENCE', value: uids}, items(query), ...modifiers(client, query)], {untagged: {FETCH: onFetch}})
    response.next()
  } catch (error) {
    // onRow's error first: it may have closed the session.
    throw failure ?? error
  }
  if (failure !== undefined) throw failure
}

function items(query: RowQuery): unknown[] {
  const list: unknown[] = [atom('UID')]
  if (query.flags) list.push(atom('FLAGS'))
  if (query.size) list.push(atom('RFC822.SIZE'))
  if (query.internalDate) list.push(atom('INTERNALDATE'))
  if (query.header === true) list.push({type: 'ATOM', value: 'BODY.PEEK', section: [atom('HEADER')]})
  else if (query.header) list.push({type: 'ATOM', value: 'BODY.PEEK', section: [atom('HEADER.FIELDS'), query.header.map((name) => atom(name.toUpperCase()))]})
  if (query.body) list.push({type: 'ATOM', value: 'BODY.PEEK', section: []})
  return list
}

/** As imapflow's FETCH: CHANGEDSINCE only where CONDSTORE is enabled and the folder has MODSEQs. */
function modifiers(client: ImapClient, query: RowQuery): unknown[] {
  if (!query.changedSince || !client.enabled.has('CONDSTORE') || (client.mailbox && client.mailbox.noModseq)) return []
  const list = [atom('CHANGEDSINCE'), atom(query.changedSince.toString())]
  if (client.enabled.has('QRESYNC')) list.push(atom('VANISHED'))
  return [list]
}

/** imapflow's command queue, as its own commands use it (not in its typings). */
interface ExecClient {
  exec(command: string, attributes: unknown[], options: {untagged: Record<string, (response: any) => void>}): Promise<{next: () => void}>
}
