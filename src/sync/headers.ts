/**
 * The header block of a message and its hash, pure. Computed on the bytes an IMAP server returns
 * for BODY[] (CRLF line ends), it equals the hash of what the server returns for BODY[HEADER].
 */
import {sha256} from '../digest.js'

/** Everything up to and including the first empty line (the whole message when there is none). */
export function headerBlock(raw: Buffer): Buffer {
  const crlf = raw.indexOf('\r\n\r\n')
  // A bare-LF empty line only counts before the CRLF one: searching the whole body for it cost
  // ~20 us per 50 KB message, since a CRLF message has none.
  const lf = (crlf >= 0 ? raw.subarray(0, crlf) : raw).indexOf('\n\n')
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return raw.subarray(0, crlf + 4)
  if (lf >= 0) return raw.subarray(0, lf + 2)
  return raw
}

export function headerHash(raw: Buffer): string {
  return sha256(headerBlock(raw))
}

/**
 * True when `block` (a server's answer to BODY[HEADER]) ends exactly at the header's empty line.
 * A damaged server index can cut the header short or run into the body (Dovecot Maildir after a
 * killed save serves a header length cached for another message): then this is false.
 */
export function endsAtHeaderEnd(block: Buffer): boolean {
  // The first empty line must be the last thing in the block: not later (cut short), not earlier (body).
  if (headerBlock(block).length !== block.length) return false
  return block.subarray(-4).toString('latin1') === '\r\n\r\n' || block.subarray(-2).toString('latin1') === '\n\n'
}
