/**
 * The long-lines repair, a pure function over a message's bytes: every line over the limit goes,
 * and what a mail client shows stays (README "Repairs" shows the exact form). Header lines (of the
 * message and of its MIME parts) are folded at a space or tab; a body part with a line over the limit
 * gets another transfer encoding whose lines are at most 76 characters, its decoded content byte for
 * byte the same. Only the MIME entities on the way to an over-long line are parsed; every other byte
 * (other parts, boundaries, preambles) is copied as it was. All or nothing: when a line cannot be
 * brought under the limit (no place to fold, a multipart whose boundary is missing, an encoding it
 * does not know), the message is left as it was and the reason is given.
 */
import {ENCODED_LINE, encodeBase64, encodeQuotedPrintable, refoldQuotedPrintable, rewrapBase64} from './transfer-encoding.js'

export type LongLinesResult = {raw: Buffer; unrepaired?: undefined} | {raw?: undefined; unrepaired: string}

/** Why the message cannot be repaired; thrown inside the walk, caught once at the top. */
class Unrepairable extends Error {}

const CR = 0x0d
const LF = 0x0a
const isWsp = (byte: number | undefined) => byte === 0x20 || byte === 0x09

interface Line {
  start: number
  /** Where the line's text ends (before CR LF or LF). */
  textEnd: number
  /** Where the next line starts (after the line end). */
  next: number
}

/** The lines of raw[start, end), each with its line end's position; a last line without a line end ends at `end`. */
function* linesOf(raw: Buffer, start: number, end: number): Generator<Line> {
  let at = start
  while (at < end) {
    const lf = raw.indexOf(LF, at)
    if (lf === -1 || lf >= end) {
      yield {start: at, textEnd: end, next: end}
      return
    }
    yield {start: at, textEnd: lf > at && raw[lf - 1] === CR ? lf - 1 : lf, next: lf + 1}
    at = lf + 1
  }
}

const longestIn = (raw: Buffer, start: number, end: number) => {
  let longest = 0
  for (const line of linesOf(raw, start, end)) longest = Math.max(longest, line.textEnd - line.start)
  return longest
}

/**
 * Every line of the message brought to at most `limit` characters (without its line end), or why it
 * cannot be. A message without such a line is returned as it is.
 */
export function repairLongLines(raw: Buffer, limit: number): LongLinesResult {
  if (longestIn(raw, 0, raw.length) <= limit) return {raw}
  if (limit < ENCODED_LINE) return {unrepaired: `a limit of ${limit} characters is below the ${ENCODED_LINE} of an encoded line`}
  // The message's own line end (its first line's), for the lines a repair writes.
  const firstLf = raw.indexOf(LF)
  const eol = firstLf !== -1 && raw[firstLf - 1] !== CR ? '\n' : '\r\n'
  try {
    const out = Buffer.concat(entity({raw, eol, limit}, 0, raw.length, 'text/plain', []))
    if (longestIn(out, 0, out.length) > limit) throw new Unrepairable('a line is still over the limit after repair')
    return {raw: out}
  } catch (error) {
    if (error instanceof Unrepairable) return {unrepaired: error.message}
    throw error
  }
}

interface Walk {
  raw: Buffer
  eol: string
  limit: number
}

interface Field {
  /** Lower-case name. */
  name: string
  /** The unfolded value, trimmed. */
  value: string
  /** The field's bytes, first line to the end of its last continuation's line end. */
  start: number
  next: number
}

/** The header block of raw[start, end): its fields, where it ends, where the body starts (end when there is no blank line). */
function header(raw: Buffer, start: number, end: number): {fields: Field[]; lines: Line[]; headerEnd: number; bodyStart: number} {
  const fields: Field[] = []
  const lines: Line[] = []
  for (const line of linesOf(raw, start, end)) {
    if (line.textEnd === line.start && line.next > line.textEnd) return {fields, lines, headerEnd: line.start, bodyStart: line.next}
    lines.push(line)
    const text = raw.subarray(line.start, line.textEnd).toString('latin1')
    const last = fields[fields.length - 1]
    if (isWsp(raw[line.start]) && last) {
      last.value = `${last.value}${text}`
      last.next = line.next
      continue
    }
    const colon = text.indexOf(':')
    fields.push({name: colon === -1 ? '' : text.slice(0, colon).trim().toLowerCase(), value: colon === -1 ? text : text.slice(colon + 1), start: line.start, next: line.next})
  }
  return {fields, lines, headerEnd: end, bodyStart: end}
}

/** `type/subtype` in lower case and the boundary parameter of a Content-Type value. */
function contentType(value: string | undefined, fallback: string): {type: string; boundary?: string} {
  if (value === undefined) return {type: fallback}
  const type = /^\s*([^\s;/]+\/[^\s;]+)/.exec(value)?.[1]?.toLowerCase() ?? fallback
  const param = /;\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s"]+))/i.exec(value)
  const boundary = param ? (param[1] !== undefined ? param[1].replace(/\\(.)/g, '$1') : param[2]) : undefined
  return {type, boundary}
}

/**
 * One MIME entity, raw[start, end): its header lines folded where needed, its body repaired by its
 * kind. Returns the pieces of its new bytes. `fallback` is its default type (message/rfc822 in a
 * multipart/digest); `boundaries` are the enclosing multiparts' (no new line may start with one).
 */
function entity(walk: Walk, start: number, end: number, fallback: string, boundaries: string[]): Buffer[] {
  const {raw, limit} = walk
  const {fields, lines, headerEnd, bodyStart} = header(raw, start, end)
  const bodyLong = longestIn(raw, bodyStart, end) > limit
  const headLong = lines.some((line) => line.textEnd - line.start > limit)
  if (!bodyLong && !headLong) return [raw.subarray(start, end)]
  const find = (name: string) => fields.filter((field) => field.name === name)
  const {type, boundary} = contentType(find('content-type')[0]?.value, fallback)
  const cteFields = find('content-transfer-encoding')
  // The mechanism without RFC 822 comments ("7bit (plain)").
  const cte = cteFields[0]?.value.replace(/\([^)]*\)/g, '').trim().toLowerCase()
  let body: Buffer[] = [raw.subarray(bodyStart, end)]
  let newCte: string | undefined
  if (bodyLong) {
    if (type.startsWith('multipart/')) {
      if (cte !== undefined && !['7bit', '8bit', 'binary'].includes(cte)) throw new Unrepairable(`a ${type} part has Content-Transfer-Encoding ${cte}`)
      body = multipart(walk, bodyStart, end, type, boundary, boundaries)
    } else if (type === 'message/rfc822' || type === 'message/global') {
      if (cte !== undefined && !['7bit', '8bit', 'binary'].includes(cte)) throw new Unrepairable(`a ${type} part has Content-Transfer-Encoding ${cte}`)
      body = entity(walk, bodyStart, end, 'text/plain', boundaries)
    } else if (type.startsWith('message/')) {
      throw new Unrepairable(`a ${type} part may not be re-encoded (RFC 2046 5.2)`)
    } else {
      if (cteFields.length > 1) throw new Unrepairable('a part has two Content-Transfer-Encoding fields')
      const region = raw.subarray(bodyStart, end)
      if (cte === undefined || cte === '7bit' || cte === '8bit' || cte === 'binary') {
        const text = type.startsWith('text/')
        newCte = text ? 'quoted-printable' : 'base64'
        body = [text ? encodeQuotedPrintable(region, walk.eol) : encodeBase64(region, walk.eol)]
      } else if (cte === 'base64') {
        body = [rewrapBase64(region, walk.eol)]
      } else if (cte === 'quoted-printable') {
        body = [refoldQuotedPrintable(region, walk.eol, limit)]
      } else {
        throw new Unrepairable(`a part's Content-Transfer-Encoding ${cte} is not one it re-encodes`)
      }
      // Encoded text never holds a delimiter line ('-' starting a new line is =2D; base64 has none) unless the original did.
      const clash = boundaries.find((b) => startsALine(Buffer.concat(body), `--${b}`))
      if (clash !== undefined) throw new Unrepairable(`a re-encoded line would read as the boundary "${clash}"`)
    }
  }
  return [...headerBlock(walk, start, lines, newCte === undefined ? undefined : {field: cteFields[0], value: newCte}), raw.subarray(headerEnd, bodyStart), ...body]
}

/** The header block (its lines from `start`) with long lines folded, and the transfer encoding replaced (or added at its end). */
function headerBlock(walk: Walk, start: number, lines: Line[], cte?: {field: Field | undefined; value: string}): Buffer[] {
  const {raw, eol, limit} = walk
  const out: Buffer[] = []
  const cteLine = cte && Buffer.from(`Content-Transfer-Encoding: ${cte.value}${eol}`, 'latin1')
  let at = start
  for (const line of lines) {
    if (line.start < at) continue
    if (cte?.field && line.start === cte.field.start) {
      out.push(cteLine!)
      at = cte.field.next
      continue
    }
    if (line.textEnd - line.start > limit) out.push(...foldLine(raw.subarray(line.start, line.textEnd), limit, eol), raw.subarray(line.textEnd, line.next))
    else out.push(raw.subarray(line.start, line.next))
    at = line.next
  }
  // Only a part with a body gets a new encoding: its header block ends with a line end.
  if (cteLine && !cte.field) out.push(cteLine)
  return out
}

/** One header line over the limit folded at its last space or tab before the limit, repeatedly (the value is unchanged). */
export function foldLine(text: Buffer, limit: number, eol: string): Buffer[] {
  const out: Buffer[] = []
  let rest = text
  while (rest.length > limit) {
    let cut = -1
    // A fold needs text before it on this line: never at the line's first character.
    for (let i = limit; i > 0; i--) {
      if (isWsp(rest[i])) {
        cut = i
        break
      }
    }
    if (cut === -1) throw new Unrepairable(`a header line over ${limit} characters has no space or tab to fold at`)
    out.push(rest.subarray(0, cut), Buffer.from(eol, 'latin1'))
    rest = rest.subarray(cut)
  }
  out.push(rest)
  return out
}

/**
 * A multipart body raw[start, end): preamble, parts, epilogue (RFC 2046 5.1.1). The line end before
 * a delimiter line belongs to the delimiter. Each part is repaired as an entity; the rest is copied.
 */
function multipart(walk: Walk, start: number, end: number, type: string, boundary: string | undefined, outer: string[]): Buffer[] {
  const {raw, limit} = walk
  if (!boundary) throw new Unrepairable(`a ${type} part has no boundary parameter`)
  const dash = Buffer.from(`--${boundary}`, 'latin1')
  const delimiters: Array<{line: Line; close: boolean}> = []
  for (const line of linesOf(raw, start, end)) {
    if (line.textEnd - line.start < dash.length || !raw.subarray(line.start, line.start + dash.length).equals(dash)) continue
    let at = line.start + dash.length
    const close = raw[at] === 0x2d && raw[at + 1] === 0x2d
    if (close) at += 2
    while (at < line.textEnd && isWsp(raw[at])) at++
    if (at !== line.textEnd) throw new Unrepairable(`a line starts with the boundary "${boundary}" but is no delimiter`)
    delimiters.push({line, close})
    if (close) break
  }
  if (delimiters.length === 0) throw new Unrepairable(`the boundary "${boundary}" of a ${type} part never occurs`)
  // Never closed (a message cut short): its last part runs to the end of the body, as mail clients
  // read it; no close delimiter is added.
  const closed = delimiters[delimiters.length - 1].close
  // Where the line end before a delimiter line starts (the part ends there).
  const before = (line: Line, floor: number) => {
    if (line.start === start) return line.start
    const lfAt = line.start - 1
    const cut = lfAt > start && raw[lfAt - 1] === CR ? lfAt - 1 : lfAt
    return Math.max(cut, floor)
  }
  const firstStart = before(delimiters[0].line, start)
  if (longestIn(raw, start, firstStart) > limit) throw new Unrepairable(`a line over ${limit} characters in the preamble of a ${type} part`)
  const lastLine = delimiters[delimiters.length - 1].line
  if (closed && longestIn(raw, lastLine.next, end) > limit) throw new Unrepairable(`a line over ${limit} characters in the epilogue of a ${type} part`)
  const inner = [...outer, boundary]
  const fallback = type === 'multipart/digest' ? 'message/rfc822' : 'text/plain'
  const out: Buffer[] = [raw.subarray(start, delimiters[0].line.next)]
  for (let i = 0; i + 1 < delimiters.length; i++) {
    const partStart = delimiters[i].line.next
    const partEnd = before(delimiters[i + 1].line, partStart)
    out.push(...entity(walk, partStart, partEnd, fallback, inner), raw.subarray(partEnd, delimiters[i + 1].line.next))
  }
  out.push(...(closed ? [raw.subarray(lastLine.next, end)] : entity(walk, lastLine.next, end, fallback, inner)))
  return out
}

/** Does a line of `data` start with `prefix`? */
function startsALine(data: Buffer, prefix: string): boolean {
  const needle = Buffer.from(prefix, 'latin1')
  if (data.subarray(0, needle.length).equals(needle)) return true
  for (let lf = data.indexOf(LF); lf !== -1; lf = data.indexOf(LF, lf + 1)) {
    if (data.subarray(lf + 1, lf + 1 + needle.length).equals(needle)) return true
  }
  return false
}
