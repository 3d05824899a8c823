/**
 * What in a message's bytes strict servers refuse, found without a server: the building block of a
 * preflight check (headers only) and of opt-in repairs. Pure; works on the header block or the
 * whole message. Rules from RFC 5322 (2.2 header fields, 2.1.1 line length, 2.3 NUL) and what
 * servers are known to answer: Cyrus "Message contains invalid header" / "NUL characters",
 * Microsoft 365's 10,500-character line limit, an mbox `From ` line left at the top.
 */

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

/** Lines of `data` without their line ends, with their 1-based numbers; stops after the header block when headersOnly. */
function* lines(data: Buffer): Generator<{bytes: Buffer; number: number}> {
  let start = 0
  let number = 1
  while (start < data.length) {
    let end = data.indexOf(LF, start)
    const next = end === -1 ? data.length : end + 1
    if (end === -1) end = data.length
    const stop = end > start && data[end - 1] === CR ? end - 1 : end
    yield {bytes: data.subarray(start, stop), number}
    start = next
    number++
  }
}

const printable = (bytes: Buffer) => bytes.toString('latin1').replace(/[^\x20-\x7e]/g, '?').slice(0, 60)

/** RFC 5322 2.2: a field name is printable US-ASCII except ':' and space, then ':'. */
function isFieldLine(bytes: Buffer): boolean {
  let i = 0
  while (i < bytes.length && bytes[i] >= 33 && bytes[i] <= 126 && bytes[i] !== 0x3a) i++
  return i > 0 && i < bytes.length && bytes[i] === 0x3a
}

const isContinuation = (bytes: Buffer) => bytes.length > 0 && (bytes[0] === 0x20 || bytes[0] === 0x09)

/**
 * Problems in a message (or its header block alone). The header block ends at the first empty
 * line; a header block that never ends is all header. Each problem is reported at its first line.
 */
export function inspectMessage(data: Buffer, options: InspectOptions = {}): Finding[] {
  const found = new Map<Problem, Finding>()
  const note = (problem: Problem, line: number, bytes: Buffer) => {
    if (!found.has(problem)) found.set(problem, {problem, line, excerpt: printable(bytes)})
  }
  let inHeader = true
  for (const {bytes, number} of lines(data)) {
    if (bytes.includes(0)) note('nul', number, bytes)
    if (options.maxLineLength !== undefined && bytes.length > options.maxLineLength) note('long-line', number, bytes)
    if (!inHeader) continue
    if (bytes.length === 0) {
      inHeader = false
      continue
    }
    if (bytes.subarray(0, 5).toString('latin1') === 'From ') {
      note(number === 1 ? 'from-line' : 'from-header', number, bytes)
      continue
    }
    if (bytes.some((byte) => byte >= 0x80)) note('header-8bit', number, bytes)
    if (!isFieldLine(bytes) && !(isContinuation(bytes) && number > 1)) note('header-syntax', number, bytes)
  }
  return [...found.values()].sort((a, b) => a.line - b.line)
}
