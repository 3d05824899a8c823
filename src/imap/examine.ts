/**
 * A folder looked at on a raw connection (wire.ts): what its EXAMINE reports, read into the Store's
 * FolderStatus as a session's EXAMINE would be (listings.ts selectedStatus): EXISTS and the
 * UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ codes (RFC 9051 6.3.2, RFC 7162 3.1.8); and the rows of a
 * `UID FETCH 1:*` of it. Used by the folder scans of check, plan and verify (folder-scan.ts) and the
 * pipelined listings (read-pipeline.ts).
 */
import type {FolderStatus} from '../stores/store.js'
import {fetchSeq, hasUid, readFetchItems, untaggedNumber, type FetchRow, type Row} from './fetch-items.js'
import {listingTooLong} from './limits.js'
import type {WireConnection, WireResponse} from './wire.js'

/** EXAMINE's attributes: the folder, and the CONDSTORE parameter where asked for, so that HIGHESTMODSEQ is reported. */
export function examineArguments(connection: WireConnection, path: string, condstore: boolean): unknown[] {
  const args: unknown[] = [connection.mailbox(path)]
  if (condstore && connection.capabilities.has('CONDSTORE')) args.push([{type: 'ATOM', value: 'CONDSTORE'}])
  return args
}

/** Collects an EXAMINE's (or SELECT's) untagged responses (pass `read` as its onUntagged) and says what they report. */
export class ExamineReport {
  exists = 0
  readonly #codes = new Map<string, unknown>()
  #permanentFlags?: string[]

  readonly read = (response: WireResponse): void => {
    this.exists = untaggedNumber(response, 'EXISTS') ?? this.exists
    const section = response.command.toUpperCase() === 'OK' ? response.attributes?.[0]?.section : undefined
    if (!section || typeof section[0]?.value !== 'string') return
    const code = section[0].value.toUpperCase()
    this.#codes.set(code, section[1]?.value)
    if (code === 'PERMANENTFLAGS' && Array.isArray(section[1])) {
      this.#permanentFlags = section[1].map((flag: {value?: unknown}) => String(flag?.value ?? '')).filter(Boolean)
    }
  }

  /** `selected`: the folder was SELECTed (read-write), so its PERMANENTFLAGS are the folder's. */
  status(selected = false): FolderStatus {
    const modseq = this.#codes.get('HIGHESTMODSEQ')
    return {
      uidValidity: Number(this.#codes.get('UIDVALIDITY')),
      uidNext: Number(this.#codes.get('UIDNEXT')) || 0,
      messages: this.exists,
      // EXAMINE: the folder is read-only to us, so what it says of PERMANENTFLAGS is not the folder's.
      permanentFlags: selected ? this.#permanentFlags : undefined,
      highestModseq: typeof modseq === 'string' && /^\d+$/.test(modseq) ? BigInt(modseq) : undefined,
    }
  }
}

/**
 * The rows of a listing (`UID FETCH 1:*`) as they come (pass `read` the FETCH's untagged responses), a
 * message's items merged by sequence number. A listing longer than the folder (`exists()`, or an
 * untagged EXISTS that came with it) is a broken or hostile server, as listings.ts checkListingLength
 * says: the connection is closed, and `failure` says why.
 */
export class ListingRows {
  readonly #rows = new Map<number, FetchRow>()
  readonly #connection: WireConnection
  readonly #exists: () => number
  readonly #place: {where: string; path: string}
  readonly #onHeader?: (row: Row) => void
  #grown = 0
  failure?: Error

  /** onHeader: each row with its header block, as it comes; the block is then dropped from the row. */
  constructor(connection: WireConnection, exists: () => number, place: {where: string; path: string}, onHeader?: (row: Row) => void) {
    this.#connection = connection
    this.#exists = exists
    this.#place = place
    this.#onHeader = onHeader
  }

  readonly read = (response: WireResponse): void => {
    if (this.failure) return
    this.#grown = Math.max(this.#grown, untaggedNumber(response, 'EXISTS') ?? 0)
    const seq = fetchSeq(response)
    if (seq === undefined) return
    const row = this.#rows.get(seq) ?? {}
    readFetchItems(response.attributes?.[1], row)
    this.#rows.set(seq, row)
    const exists = Math.max(this.#exists(), this.#grown)
    if (this.#rows.size > exists) {
      this.failure = listingTooLong(this.#place.where, this.#place.path, exists)
      this.#connection.close(this.failure)
      return
    }
    if (this.#onHeader && row.header && hasUid(row)) {
      this.#onHeader(row)
      row.header = undefined
    }
  }

  /** The rows that name their message. */
  rows(): Row[] {
    const listed: Row[] = []
    for (const row of this.#rows.values()) if (hasUid(row)) listed.push(row)
    return listed
  }
}

/** Waits for both commands (the first may be absent: no EXAMINE was needed) and throws the first one's failure first. */
export async function settleBoth(first: Promise<unknown> | undefined, second: Promise<unknown>): Promise<void> {
  try {
    await first
  } finally {
    await second.catch(() => undefined)
  }
  await second
}
