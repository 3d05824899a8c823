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
 * Runs `UID FETCH <uids> (UID ...)` on the selected folder and calls onRow once per message, as soon
 * as its requested items have arrived (a server may split them over rows: those come at the end).
 * onRow may throw: the command's answer is still read to its end, then fetchRows rejects with it.
 */
export async function fetchRows(client: ImapClient, uids: string, query: RowQuery, onRow: (row: Row) => void): Promise<void> {
  const rows = new Map<number, FetchRow>()
  const delivered = new Set<number>()
  let failure: unknown
  const deliver = (row: Row) => {
    if (failure !== undefined || delivered.has(row.uid)) return
    delivered.add(row.uid)
    try {
      onRow(row)
    } catch (error) {
      failure = error
    }
  }
  const complete = (row: FetchRow): row is Row =>
    row.uid !== undefined &&
    (!query.flags || row.flags !== undefined) &&
    (!query.size || row.size !== undefined) &&
    (!query.internalDate || row.internalDate !== undefined) &&
    (!query.body || row.body !== undefined) &&
    (!query.header || row.header !== undefined)
  const mailbox = client.mailbox || undefined
  const onFetch = (response: {command: string; attributes?: unknown[]}) => {
    const seq = fetchSeq(response)
    if (seq === undefined) return
    const row = rows.get(seq) ?? {}
    readFetchItems(response.attributes?.[1] as unknown[], row)
    // As imapflow does: a UID at or past the folder's UIDNEXT moves it on.
    if (mailbox && row.uid !== undefined && mailbox.uidNext <= row.uid) mailbox.uidNext = row.uid + 1
    if (!complete(row)) return void rows.set(seq, row)
    rows.delete(seq)
    deliver(row)
  }
  try {
    const exec = (client as unknown as ExecClient).exec.bind(client)
    const response = await exec('UID FETCH', [{type: 'SEQUENCE', value: uids}, items(query)], {untagged: {FETCH: onFetch}})
    response.next()
    for (const row of rows.values()) if (row.uid !== undefined) deliver(row as Row)
  } catch (error) {
    // onRow's error first: it may have closed the session (a listing longer than the folder).
    if (failure !== undefined) throw failure
    if ((error as {code?: string}).code !== 'ETHROTTLE') throw error
    for await (const msg of client.fetch(uids, imapflowQuery(query), {uid: true})) deliver(rowOf(msg, query))
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
