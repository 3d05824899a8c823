/**
 * The data items of FETCH responses (RFC 9051 7.5.2) as imapflow's parser leaves them, read into
 * plain fields, without imapflow's formatted message object (each item's key compiled back to text,
 * a promise and an iterator step per row). Shared by check's header scan on raw connections
 * (folder-scan.ts) and every UID FETCH on a session (fetch-rows.ts). The values mean what imapflow's
 * formatMessageResponse makes of them.
 */
import type {MessageMeta} from '../stores/store.js'
import {getStringList} from './imapflow.js'

type Attribute = any

/** One message's items (a server may split them over several rows: folder-scan.ts merges them by sequence number). */
export interface FetchRow {
  uid?: number
  flags?: string[]
  size?: number
  internalDate?: Date
  /** BODY[HEADER] or BODY[HEADER.FIELDS (...)] */
  header?: Buffer
  /** BODY[] */
  body?: Buffer
}

/** A row that names its message; rows without a UID are not handed on. */
export type Row = FetchRow & {uid: number}
export const hasUid = (row: FetchRow): row is Row => row.uid !== undefined

/** UID, flags, size and internal date of a row, as the listings hand them on (absent items: empty, 0, the epoch). */
export const metaOf = (row: Row): Omit<MessageMeta, 'messageId'> => ({
  uid: row.uid,
  flags: row.flags ?? [],
  size: row.size ?? 0,
  internalDate: row.internalDate ?? new Date(0),
})

/** The name/value pairs of one row (the attribute after "FETCH") into `row`. */
export function readFetchItems(items: Attribute[] | undefined, row: FetchRow): void {
  if (!Array.isArray(items)) return
  for (let i = 0; i + 1 < items.length; i += 2) {
    const key = items[i]
    const value = items[i + 1]
    const name = typeof key?.value === 'string' ? key.value.toUpperCase() : ''
    if (name === 'UID') row.uid = Number(value?.value) || undefined
    else if (name === 'FLAGS') row.flags = getStringList(value)
    else if (name === 'RFC822.SIZE') row.size = Number(value?.value) || 0
    else if (name === 'INTERNALDATE') row.internalDate = new Date(String(value?.value))
    else if (name === 'BODY' && !key.partial) {
      const section = key.section ?? []
      if (section.length === 0) row.body = asBuffer(value)
      else if (/^HEADER(\.FIELDS)?$/i.test(String(section[0]?.value))) row.header = asBuffer(value)
    }
  }
}

type Untagged = {tag?: string; command: string; attributes?: Attribute[]}

/** The number of a "* <n> FETCH" or "* <n> EXISTS" response (a row's sequence number, a folder's size), else undefined. */
export function untaggedNumber(response: Untagged, kind: 'FETCH' | 'EXISTS'): number | undefined {
  if (!/^\d+$/.test(response.command) || String(response.attributes?.[0]?.value).toUpperCase() !== kind) return undefined
  return Number(response.command)
}

/** The FETCH row's sequence number, or undefined when the untagged response is not a FETCH. */
export const fetchSeq = (response: Untagged): number | undefined => untaggedNumber(response, 'FETCH')

/** A literal arrives as a Buffer; a server may send a short section as a quoted string (imapflow's getBuffer). */
function asBuffer(value: Attribute): Buffer {
  if (Buffer.isBuffer(value?.value)) return value.value
  if (typeof value?.value === 'string') return Buffer.from(value.value)
  return Buffer.alloc(0)
}
