/**
 * The `dovecot-uidlist` file, pure (after Dovecot's maildir-uidlist.c), so that Dovecot keeps the
 * UIDs we give and we keep the ones Dovecot gave.
 *
 * Version 3 (Dovecot 1.1 and later):
 *   header:  3 V<uidvalidity> N<next uid> G<mailbox guid, 32 hex> [<key><value> ...]
 *   record:  <uid> [<key><value> ...] :<base file name>
 * Version 1 (Dovecot 1.0, Courier's courierimapuiddb), read only:
 *   header:  1 <uidvalidity> <next uid>
 *   record:  <uid> <base file name>
 *
 * Records are in ascending UID order. New records are appended without rewriting the header, so
 * the next UID is the larger of N and the last UID + 1 (as Dovecot reads it). A torn last line (no
 * line end: its writer was killed) is not a record.
 */

export interface UidlistHeader {
  version: number
  uidValidity: number
  /** N from the header (may lag behind appended records: see nextUid()). */
  nextUid: number
  /** Mailbox GUID (G), 32 hex digits, when present. */
  guid?: string
  /** Other header fields, kept as written ("Kxyz"). */
  extra: string[]
}

export interface UidlistRecord {
  uid: number
  /** File name up to its ':' (Dovecot matches files by this base). */
  base: string
  /** Extension fields ("W1234"), kept as written. */
  ext: string[]
}

export interface Uidlist {
  header: UidlistHeader
  records: UidlistRecord[]
}

export class UidlistError extends Error {}

export function parseUidlist(text: string): Uidlist {
  const lines = text.slice(0, completeLength(text) || text.length).split('\n')
  const header = parseHeader(lines[0] ?? '')
  const records: UidlistRecord[] = []
  let previous = 0
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n]
    if (line === '') continue
    const record = header.version === 1 ? parseV1Record(line) : parseV3Record(line)
    if (!record) throw new UidlistError(`line ${n + 1}: not a uidlist record: ${JSON.stringify(line.slice(0, 80))}`)
    // Out of order or repeated: Dovecot re-reads and rewrites such a file; we skip the line.
    if (record.uid <= previous) continue
    previous = record.uid
    records.push(record)
  }
  return {header, records}
}

function parseHeader(line: string): UidlistHeader {
  const fields = line.trim().split(/ +/)
  const version = Number(fields[0])
  if (version === 1) {
    const uidValidity = Number(fields[1])
    const nextUid = Number(fields[2])
    if (!isUid(uidValidity) || !Number.isInteger(nextUid)) throw new UidlistError(`bad version 1 header: ${JSON.stringify(line)}`)
    return {version, uidValidity, nextUid, extra: []}
  }
  if (version !== 3) throw new UidlistError(`unsupported uidlist version ${JSON.stringify(fields[0])}`)
  const header: UidlistHeader = {version, uidValidity: 0, nextUid: 1, extra: []}
  for (const field of fields.slice(1)) {
    const key = field[0]
    const value = field.slice(1)
    if (key === 'V') header.uidValidity = Number(value)
    else if (key === 'N') header.nextUid = Number(value)
    else if (key === 'G') header.guid = value
    else header.extra.push(field)
  }
  if (!isUid(header.uidValidity)) throw new UidlistError(`no valid UIDVALIDITY (V) in the header: ${JSON.stringify(line)}`)
  if (!Number.isInteger(header.nextUid) || header.nextUid < 1) header.nextUid = 1
  return header
}

const isUid = (value: number) => Number.isInteger(value) && value > 0 && value <= 0xffffffff

function parseV3Record(line: string): UidlistRecord | undefined {
  const match = /^(\d+) ((?:[^ :][^ ]* +)*):(.+)$/.exec(line)
  if (!match) return undefined
  const uid = Number(match[1])
  // Some writers keep the flags (":2,S") in the record; files are matched by their base anyway.
  const base = match[3].split(':')[0]
  if (!isUid(uid) || base === '' || base.includes('/')) return undefined
  return {uid, base, ext: match[2].trim() === '' ? [] : match[2].trim().split(/ +/)}
}

function parseV1Record(line: string): UidlistRecord | undefined {
  const match = /^(\d+) (.+)$/.exec(line)
  if (!match) return undefined
  const uid = Number(match[1])
  const base = match[2].split(':')[0]
  if (!isUid(uid) || base.includes('/')) return undefined
  return {uid, base, ext: []}
}

/**
 * Length of `text` up to and including its last line end (0 when it has none). A last line
 * without one was cut short by a killed writer: it is not a record (Dovecot reads whole lines
 * only), and it is cut off before the next append.
 */
export function completeLength(text: string | Buffer): number {
  return typeof text === 'string' ? text.lastIndexOf('\n') + 1 : text.lastIndexOf(0x0a) + 1
}

/** The UID the next message gets. */
export function nextUid(list: Uidlist): number {
  const last = list.records.length > 0 ? list.records[list.records.length - 1].uid : 0
  return Math.max(list.header.nextUid, last + 1)
}

export function formatHeader(header: Omit<UidlistHeader, 'version'>): string {
  const fields = [`3 V${header.uidValidity}`, `N${header.nextUid}`]
  if (header.guid) fields.push(`G${header.guid}`)
  return `${[...fields, ...header.extra].join(' ')}\n`
}

export function formatRecord(record: Pick<UidlistRecord, 'uid' | 'base'> & {ext?: string[]}): string {
  if (record.base.includes('\n') || record.base.includes('/')) throw new UidlistError(`bad file name ${JSON.stringify(record.base)}`)
  return record.ext && record.ext.length > 0 ? `${record.uid} ${record.ext.join(' ')} :${record.base}\n` : `${record.uid} :${record.base}\n`
}

/** The whole file, as version 3. */
export function formatUidlist(list: Uidlist): string {
  return formatHeader({...list.header, nextUid: nextUid(list)}) + list.records.map(formatRecord).join('')
}
