/**
 * `check`'s read of one folder on a raw connection (wire.ts): EXAMINE, then one
 * UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER]), each row parsed by imapflow's
 * own parser and read here. imapflow's FETCH path (a formatted object, a promise and an async
 * iterator step per message) costs about four times the CPU of the parse itself: 1.2 s against
 * 0.25 s for 3,930 header blocks of the real-mail corpus on loopback (docs/design.md, "check").
 * The rows mean what imapflow makes of them (ImapStore.scanHeaders's fallback path).
 */
import {encodePath} from 'imapflow/lib/tools.js'

import {FolderError} from '../errors.js'
import type {FolderStatus, HeaderedMeta} from '../stores/store.js'
import type {WireConnection, WireResponse} from './wire.js'

type Attribute = any

const FETCH_ITEMS = ['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE'].map((value) => ({type: 'ATOM', value}))
const HEADER_ITEM = {type: 'ATOM', value: 'BODY.PEEK', section: [{type: 'ATOM', value: 'HEADER'}]}

/** One FETCH row's data items, merged by sequence number (a server may split a message's items over rows). */
interface Row {
  uid?: number
  flags?: string[]
  size?: number
  internalDate?: Date
  header?: Buffer
}

/**
 * The folder's status and its messages with their header blocks. `path` is the folder as listed
 * (imapflow's decoded name, namespace prefix included); it is sent in modified UTF-7 as imapflow does
 * without UTF8=ACCEPT. Throws the server's NO/BAD or the connection's error in imapflow's shapes.
 */
export async function scanFolder(connection: WireConnection, path: string, where: string): Promise<{status: FolderStatus; messages: HeaderedMeta[]}> {
  const mailbox = {type: 'ATOM', value: encodePath({enabled: new Set<string>(), capabilities: connection.capabilities} as never, path.toUpperCase() === 'INBOX' ? 'INBOX' : path)}
  let exists = 0
  const codes: Record<string, unknown> = {}
  const onSelect = (response: WireResponse) => {
    if (isExists(response)) exists = Number(response.command)
    const section = response.command.toUpperCase() === 'OK' ? response.attributes?.[0]?.section : undefined
    if (section && typeof section[0]?.value === 'string') codes[section[0].value.toUpperCase()] = section[1]?.value
  }
  await connection.command('EXAMINE', [mailbox], {onUntagged: onSelect})
  const status: FolderStatus = {
    uidValidity: Number(codes.UIDVALIDITY),
    uidNext: Number(codes.UIDNEXT) || 0,
    messages: exists,
    // EXAMINE: the folder is read-only to us, so what it says of PERMANENTFLAGS is not the folder's.
    permanentFlags: undefined,
  }
  if (exists === 0) return {status, messages: []}

  const rows = new Map<number, Row>()
  let error: Error | undefined
  const onFetch = (response: WireResponse) => {
    if (isExists(response)) exists = Math.max(exists, Number(response.command))
    if (error || !/^\d+$/.test(response.command) || String(response.attributes?.[0]?.value).toUpperCase() !== 'FETCH') return
    const seq = Number(response.command)
    const row = rows.get(seq) ?? {}
    readItems(response.attributes[1], row)
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
  for (const row of rows.values()) {
    if (row.uid === undefined) continue
    messages.push({
      uid: row.uid,
      flags: row.flags ?? [],
      size: row.size ?? 0,
      internalDate: row.internalDate ?? new Date(0),
      header: row.header ?? Buffer.alloc(0),
    })
  }
  return {status, messages}
}

const isExists = (response: WireResponse) => response.tag === '*' && /^\d+$/.test(response.command) && String(response.attributes?.[0]?.value).toUpperCase() === 'EXISTS'

/** The data items of one FETCH row (name, value pairs) into `row`. */
function readItems(items: Attribute[] | undefined, row: Row): void {
  if (!Array.isArray(items)) return
  for (let i = 0; i + 1 < items.length; i += 2) {
    const key = items[i]
    const value = items[i + 1]
    const name = typeof key?.value === 'string' ? key.value.toUpperCase() : ''
    if (name === 'UID') row.uid = Number(value?.value) || undefined
    else if (name === 'FLAGS') row.flags = Array.isArray(value) ? value.map((flag: Attribute) => String(flag?.value)) : []
    else if (name === 'RFC822.SIZE') row.size = Number(value?.value) || 0
    else if (name === 'INTERNALDATE') row.internalDate = new Date(String(value?.value))
    else if (name === 'BODY' && key.section?.[0]?.value?.toUpperCase?.() === 'HEADER') row.header = asBuffer(value)
  }
}

/** A literal arrives as a Buffer; a server may send a short header block as a quoted string (imapflow's getBuffer). */
function asBuffer(value: Attribute): Buffer {
  if (Buffer.isBuffer(value?.value)) return value.value
  if (typeof value?.value === 'string') return Buffer.from(value.value)
  return Buffer.alloc(0)
}
