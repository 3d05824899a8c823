/**
 * UID FETCH on an imapflow session, rows read straight from its parser (fetch-items.ts).
 *
 * imapflow's own fetch() formats every row into a message object (each item's key compiled back to
 * text), wraps it in a promise and hands it out through an async iterator: on a loopback first sync
 * of 2,000 messages that was 0.25 s of the main thread's 2.4 s, for the listing and the body reads.
 * Here the command goes through imapflow's command queue (exec, the call its own FETCH makes), so
 * the session's login, TLS, trace, limits and reconnects are unchanged; only the rows' handling is
 * ours. A throttled answer (imapflow's ETHROTTLE, Microsoft 365's "Request is throttled") goes back
 * to imapflow's fetch() for what is still missing: it waits as the server asks and retries.
 */
import type {FetchMessageObject, FetchQueryObject} from 'imapflow'

import {fetchSeq, readFetchItems, type FetchRow} from './fetch-items.js'
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
}

export type Row = FetchRow & {uid: number}

const atom = (value: string) => ({type: 'ATOM', value})

/**
 * Runs `UID FETCH <uids> (UID ...)` on the selected folder and calls onRow for each FETCH row that
 * carries a UID, as it is parsed: one call per row, as imapflow's fetch() yields them (a server that
 * splits a message's items over rows gives several). onRow may throw (a listing longer than the
 * folder closes the session): fetchRows then rejects with that error and delivers nothing more.
 */
export async function fetchRows(client: ImapClient, uids: string, query: RowQuery, onRow: (row: Row) => void): Promise<void> {
  let failure: unknown
  let highest = 0
  const deliver = (row: FetchRow) => {
    if (failure !== undefined || row.uid === undefined) return
    highest = Math.max(highest, row.uid)
    try {
      onRow(row as Row)
    } catch (error) {
      failure = error
    }
  }
  const mailbox = client.mailbox || undefined
  const onFetch = (response: {command: string; attributes?: unknown[]}) => {
    if (fetchSeq(response) === undefined) return
    const row: FetchRow = {}
    readFetchItems(response.attributes?.[1] as unknown[], row)
    // As imapflow does: a UID at or past the folder's UIDNEXT moves it on.
    if (mailbox && row.uid !== undefined && mailbox.uidNext <= row.uid) mailbox.uidNext = row.uid + 1
    deliver(row)
  }
  try {
    const exec = (client as unknown as ExecClient).exec.bind(client)
    const response = await exec('UID FETCH', [{type: 'SEQUENCE', value: uids}, items(query)], {untagged: {FETCH: onFetch}})
    response.next()
  } catch (error) {
    // onRow's error first: it may have closed the session.
    if (failure !== undefined) throw failure
    if ((error as {code?: string}).code !== 'ETHROTTLE') throw error
    // Servers answer in ascending UID order: what came before the refusal is not handed out twice.
    const before = highest
    for await (const msg of client.fetch(uids, imapflowQuery(query), {uid: true})) if (msg.uid > before) deliver(rowOf(msg, query))
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

function imapflowQuery(query: RowQuery): FetchQueryObject {
  return {uid: true, flags: query.flags, size: query.size, internalDate: query.internalDate, source: query.body, headers: query.header}
}

function rowOf(msg: FetchMessageObject, query: RowQuery): Row {
  const date = msg.internalDate
  return {
    uid: msg.uid,
    flags: query.flags ? [...(msg.flags ?? [])] : undefined,
    size: msg.size,
    internalDate: query.internalDate ? (date instanceof Date ? date : new Date(date ?? 0)) : undefined,
    header: msg.headers,
    body: msg.source,
  }
}

/** imapflow's command queue, as its own commands use it (not in its typings). */
interface ExecClient {
  exec(command: string, attributes: unknown[], options: {untagged: Record<string, (response: any) => void>}): Promise<{next: () => void}>
}
