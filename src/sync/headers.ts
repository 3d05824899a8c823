/**
 * The header block of a message and its hash, pure. Computed on the bytes an IMAP server returns
 * for BODY[] (CRLF line ends), it equals the hash of what the server returns for BODY[HEADER].
 */
import {createHash} from 'node:crypto'

/** Everything up to and including the first empty line (the whole message when there is none). */
export function headerBlock(raw: Buffer): Buffer {
  const crlf = raw.indexOf('\r\n\r\n')
  const lf = raw.indexOf('\n\n')
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return raw.subarray(0, crlf + 4)
  if (lf >= 0) return raw.subarray(0, lf + 2)
  return raw
}

export function headerHash(raw: Buffer): string {
  return createHash('sha256').update(headerBlock(raw)).digest('hex')
}
