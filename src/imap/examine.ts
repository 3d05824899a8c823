/**
 * What an EXAMINE on a raw connection (wire.ts) reports of its folder, read into the Store's
 * FolderStatus as a session's EXAMINE would be (listings.ts selectedStatus): EXISTS and the
 * UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ codes (RFC 9051 6.3.2, RFC 7162 3.1.8). Used by check's
 * header scan (header-scan.ts) and the pipelined listings (read-pipeline.ts).
 */
import type {FolderStatus} from '../stores/store.js'
import {untaggedNumber} from './fetch-items.js'
import type {WireConnection, WireResponse} from './wire.js'

/** EXAMINE's attributes: the folder, and the CONDSTORE parameter where asked for, so that HIGHESTMODSEQ is reported. */
export function examineArguments(connection: WireConnection, path: string, condstore: boolean): unknown[] {
  const args: unknown[] = [connection.mailbox(path)]
  if (condstore && connection.capabilities.has('CONDSTORE')) args.push([{type: 'ATOM', value: 'CONDSTORE'}])
  return args
}

/** Collects an EXAMINE's untagged responses (pass `read` as its onUntagged) and says what they report. */
export class ExamineReport {
  exists = 0
  readonly #codes = new Map<string, unknown>()

  readonly read = (response: WireResponse): void => {
    this.exists = untaggedNumber(response, 'EXISTS') ?? this.exists
    const section = response.command.toUpperCase() === 'OK' ? response.attributes?.[0]?.section : undefined
    if (section && typeof section[0]?.value === 'string') this.#codes.set(section[0].value.toUpperCase(), section[1]?.value)
  }

  status(): FolderStatus {
    const modseq = this.#codes.get('HIGHESTMODSEQ')
    return {
      uidValidity: Number(this.#codes.get('UIDVALIDITY')),
      uidNext: Number(this.#codes.get('UIDNEXT')) || 0,
      messages: this.exists,
      // EXAMINE: the folder is read-only to us, so what it says of PERMANENTFLAGS is not the folder's.
      permanentFlags: undefined,
      highestModseq: typeof modseq === 'string' && /^\d+$/.test(modseq) ? BigInt(modseq) : undefined,
    }
  }
}
