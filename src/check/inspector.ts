/**
 * What `check` makes of one message's bytes (its header block, or the whole message with --deep):
 * the problems inspect.ts finds, what the destination server is known to do with them (servers.ts),
 * and what `sync --repair` would make of the message (repair.ts). Pure.
 */
import {inspectMessage, type Finding} from './inspect.js'
import {REPAIR_KINDS, type RepairKind} from './repair-kinds.js'
import {repairOutcome} from './repair.js'
import {serverVerdict, type Verdict} from './servers.js'

/** RFC 5322 2.1.1: a header line longer than this is refused by strict servers. */
export const HEADER_LINE_LIMIT = 998

/** A message with problems the destination does not simply accept. */
export interface FlaggedMessage {
  folder: string
  uid: number
  /** Each problem found, at its first line. */
  findings: Finding[]
  /** What the destination does with it (check/servers.ts): refused, altered, or may be refused (a server without known rules). */
  verdict: Exclude<Verdict, 'accepted'>
  /** The `--repair` kinds that would change it, as sync would apply them to what was inspected (the header block; the whole message with --deep). */
  repairs: RepairKind[]
  /** Needed repairs that could not be made, with why (a multipart without its boundary, a header line with no place to fold). */
  unrepaired: Array<{repair: RepairKind; reason: string}>
}

/** What check makes of one message's bytes: a FlaggedMessage when the destination does not simply accept them. */
export interface Inspector {
  /** Its header block. */
  header(uid: number, block: Buffer): FlaggedMessage | undefined
  /** The whole message (--deep). */
  whole(uid: number, raw: Buffer): FlaggedMessage | undefined
}

export function inspectorFor(path: string, options: {limits?: {maxLineLength?: number}}, server: string | undefined): Inspector {
  const lineLimit = options.limits?.maxLineLength
  const note = (uid: number, findings: Finding[], data: Buffer): FlaggedMessage | undefined => {
    let verdict = serverVerdict(server, findings.map((f) => f.problem))
    // A line over the configured maxLineLength: the store refuses the message before sending it.
    const overLimit = lineLimit === undefined ? undefined : inspectMessage(data, {maxLineLength: lineLimit}).find((f) => f.problem === 'long-line')
    if (overLimit) {
      verdict = 'refused'
      findings = [...findings.filter((f) => f.problem !== 'long-line'), overLimit].sort((a, b) => a.line - b.line)
    }
    if (verdict === 'accepted') return undefined
    // What `sync --repair` with every kind would do to these bytes (at the limit sync repairs to).
    const {applied, unrepaired} = repairOutcome(data, REPAIR_KINDS, {maxLineLength: lineLimit})
    return {folder: path, uid, findings, verdict, repairs: applied, unrepaired}
  }
  return {
    header: (uid, block) => note(uid, inspectMessage(block, {maxLineLength: HEADER_LINE_LIMIT}), block),
    whole: (uid, raw) => note(uid, inspectWhole(raw), raw),
  }
}

/** The header block against the header line limit, the whole message for NUL bytes. */
function inspectWhole(raw: Buffer): Finding[] {
  const found = inspectMessage(raw).filter((f) => f.problem !== 'long-line')
  const end = headerEnd(raw)
  for (const f of inspectMessage(raw.subarray(0, end), {maxLineLength: HEADER_LINE_LIMIT})) {
    if (f.problem === 'long-line') found.push(f)
  }
  return found.sort((a, b) => a.line - b.line)
}

/** The offset just past the header block's blank line (the whole message when there is none). */
export function headerEnd(raw: Buffer): number {
  const crlf = raw.indexOf('\r\n\r\n')
  const lf = raw.indexOf('\n\n')
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return crlf + 4
  if (lf !== -1) return lf + 2
  return raw.length
}
