/**
 * What in a message's bytes strict servers refuse, found without a server: the building block of a
 * preflight check (headers only) and of opt-in repairs. Pure; works on the header block or the
 * whole message. Rules from RFC 5322 (2.2 header fields, 2.1.1 line length, 2.3 NUL) and what
 * servers are known to answer: Cyrus "Message contains invalid header" / "NUL characters",
 * Microsoft 365's 10,500-character line limit, an mbox `From ` line left at the top.
 */

import {isAscii} from 'node:buffer'

export type Problem =
  /** A line in the header block that is neither `name: value` nor a continuation (RFC 5322 2.2). */
  | 'header-syntax'
  /** A byte >= 0x80 in the header block, not RFC 2047-encoded (RFC 5322 allows US-ASCII only). */
  | 'header-8bit'
  /** A NUL byte anywhere looked at (RFC 5322 2.3 forbids it). */
  | 'nul'
  /** An mbox `From ` envelope line as the first line. */
  | 'from-line'
  /** A `From ` line (no colon right after From) further down the header block, as Outlook and Hotmail exports have. */
  | 'from-header'
  /** A line longer than the given limit (RFC 5322 2.1.1: 998 characters; servers vary). */
  | 'long-line'

export interface Finding {
  problem: Problem
  /** 1-based line number in what was inspected. */
  line: number
  /** A short, printable excerpt (never more than 60 characters). */
  excerpt: string
}

export interface InspectOptions {
  /** Longest line (without CRLF) the destination accepts; undefined: not checked. */
  maxLineLength?: number
}

const CR = 0x0d
const LF = 0x0a

const printable = (bytes: Buffer) => bytes.toString('latin1').replace(/[^\x20-\x7e]/g, '?').slice(0, 60)

/** RFC 5322 2.2: a field name is printable US-ASCII except ':' and space, then ':'. */
function isFieldLine(data: Buffer, start: number, stop: number): boolean {
  let i = start
  while (i < stop && data[i] >= 33 && data[i] <= 126 && data[i] !== 0x3a) i++
  return i > start && i < stop && data[i] === 0x3a
}

const isContinuation = (data: Buffer, start: number, stop: number) => stop > start && (data[start] === 0x20 || data[start] === 0x09)

/** "From " (an mbox envelope line, or a header written without its colon). */
const isFromLine = (data: Buffer, start: number, stop: number) =>
  stop - start >= 5 && data[start] === 0x46 && data[start + 1] === 0x72 && data[start + 2] === 0x6f && data[start + 3] === 0x6d && data[start + 4] === 0x20

/**
 * Problems in a message (or its header block alone). The header block ends at the first empty
 * line; a header block that never ends is all header. Each problem is reported at its first line.
 * Lines are walked as offsets (no copy per line), bytes checked natively where a whole range can be
 * (NUL, 8-bit): check runs this on every header block of an account.
 */
export function inspectMessage(data: Buffer, options: InspectOptions = {}): Finding[] {
  const found = new Map<Problem, Finding>()
  const note = (problem: Problem, line: number, start: number, stop: number) => {
    if (!found.has(problem)) found.set(problem, {problem, line, excerpt: printable(data.subarray(start, stop))})
  }
  const limit = options.maxLineLength
  const ascii = isAscii(data)
  // Only the first NUL is reported: its line is found as the walk reaches it.
  let nul = data.indexOf(0)
  let inHeader = true
  let start = 0
  let number = 1
  while (start < data.length) {
    // Past the header block only NUL and long lines are looked for.
    if (!inHeader && nul === -1 && limit === undefined) break
    let end = data.indexOf(LF, start)
    const next = end === -1 ? data.length : end + 1
    if (end === -1) end = data.length
    const stop = end > start && data[end - 1] === CR ? end - 1 : end
    if (nul !== -1 && nul < stop) {
      note('nul', number, start, stop)
      nul = -1
    }
    if (limit !== undefined && stop - start > limit) note('long-line', number, start, stop)
    if (inHeader) {
      if (stop === start) inHeader = false
      else if (isFromLine(data, start, stop)) note(number === 1 ? 'from-line' : 'from-header', number, start, stop)
      else {
        if (!ascii && !isAscii(data.subarray(start, stop))) note('header-8bit', number, start, stop)
        if (!isFieldLine(data, start, stop) && !(isContinuation(data, start, stop) && number > 1)) note('header-syntax', number, start, stop)
      }
    }
    start = next
    number++
  }
  return [...found.values()].sort((a, b) => a.line - b.line)
}
