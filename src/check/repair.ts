/**
 * The opt-in repairs of a message a destination refused (`sync --repair`), pure functions over its
 * bytes. Each repair changes only what its problem needs (README "Repairs" shows every form):
 * - headers: a header-block line that is not a field becomes `X-Mailferry-Repaired-Header: <line>`
 *   (a field name followed by spaces before the colon only loses those spaces: RFC 5322 4.5.8
 *   obsolete syntax, same meaning); raw 8-bit bytes in a field are RFC 2047-encoded (B encoding;
 *   charset UTF-8 when the bytes are valid UTF-8, else windows-1252), the bytes themselves kept;
 * - nul: NUL bytes are removed, wherever they are;
 * - from-line: an mbox `From ` line at the top, or a `From ` line further down the header block,
 *   becomes `X-Mailferry-Mbox-From: <rest of the line>`;
 * - long-lines: lines over the limit (the destination's, else RFC 5322's 998) go: header lines are
 *   folded, body parts re-encoded, what a client shows unchanged (check/long-lines.ts).
 * A header repair never touches a byte after the header block's empty line.
 */
import {inspectMessage, type Problem} from './inspect.js'
import {repairLongLines} from './long-lines.js'
import type {RepairKind} from './repair-kinds.js'

/** RFC 5322 2.1.1: the longest line a message may have, without its CRLF. */
export const MAX_LINE = 998

export const REPAIRED_HEADER = 'X-Mailferry-Repaired-Header'
export const MBOX_FROM_HEADER = 'X-Mailferry-Mbox-From'

/** Which repair handles each problem inspect.ts finds. */
export const REPAIR_FOR: Record<Problem, RepairKind> = {
  'header-syntax': 'headers',
  'header-8bit': 'headers',
  nul: 'nul',
  'from-line': 'from-line',
  'from-header': 'from-line',
  'long-line': 'long-lines',
}

export interface Repaired {
  raw: Buffer
  /** The repairs that changed something, in the order applied. */
  applied: RepairKind[]
}

export interface RepairOutcome extends Repaired {
  /** Allowed repairs the message needs that could not be made, each with why (the message is left as it was for them). */
  unrepaired: Array<{repair: RepairKind; reason: string}>
}

export interface RepairOptions {
  /** The destination's longest line (without its line end), when known; RFC 5322's 998 otherwise. */
  maxLineLength?: number
}

/**
 * The allowed repairs this message needs, applied; undefined when none of them changes anything
 * (the message has no problem they fix, or they could not fix it: repairOutcome says why).
 */
export function repairMessage(raw: Buffer, allowed: readonly RepairKind[], options: RepairOptions = {}): Repaired | undefined {
  const {raw: out, applied} = repairOutcome(raw, allowed, options)
  return applied.length > 0 ? {raw: out, applied} : undefined
}

/** What the allowed repairs make of this message, and which of the needed ones could not be made. */
export function repairOutcome(raw: Buffer, allowed: readonly RepairKind[], options: RepairOptions = {}): RepairOutcome {
  const limit = options.maxLineLength ?? MAX_LINE
  const needed = new Set(inspectMessage(raw, {maxLineLength: limit}).map((f) => REPAIR_FOR[f.problem]))
  const applied: RepairKind[] = []
  const unrepaired: RepairOutcome['unrepaired'] = []
  let out = raw
  const step = (kind: RepairKind, fn: (data: Buffer) => Buffer | {unrepaired: string}) => {
    if (!allowed.includes(kind) || !needed.has(kind)) return
    const next = fn(out)
    if (!Buffer.isBuffer(next)) unrepaired.push({repair: kind, reason: next.unrepaired})
    else if (!next.equals(out)) {
      out = next
      applied.push(kind)
    }
  }
  // NUL first (it may sit in the header), the From line before the header lines (it is not a field).
  step('nul', removeNul)
  step('from-line', fromLineToHeader)
  step('headers', repairHeaders)
  step('long-lines', (data) => {
    const result = repairLongLines(data, limit)
    return result.raw ?? {unrepaired: result.unrepaired!}
  })
  return {raw: out, applied, unrepaired}
}

export function removeNul(raw: Buffer): Buffer {
  if (!raw.includes(0)) return raw
  return Buffer.from(raw.filter((byte) => byte !== 0))
}

interface Line {
  /** Without its line end. */
  text: Buffer
  /** '\r\n', '\n' or '' (the last line of a message without a final line end). */
  eol: string
}

/** The header block's lines (up to, not including, the empty line) and the rest, untouched. */
function splitHeader(raw: Buffer): {lines: Line[]; rest: Buffer} {
  const lines: Line[] = []
  let start = 0
  while (start < raw.length) {
    const lf = raw.indexOf(0x0a, start)
    const end = lf === -1 ? raw.length : lf
    const hasCr = end > start && raw[end - 1] === 0x0d
    const text = raw.subarray(start, hasCr ? end - 1 : end)
    if (text.length === 0 && lf !== -1) return {lines, rest: raw.subarray(start)}
    lines.push({text, eol: lf === -1 ? '' : hasCr ? '\r\n' : '\n'})
    start = lf === -1 ? raw.length : lf + 1
  }
  return {lines, rest: Buffer.alloc(0)}
}

function joinHeader(lines: Line[], rest: Buffer): Buffer {
  const parts: Buffer[] = []
  for (const line of lines) parts.push(line.text, Buffer.from(line.eol, 'latin1'))
  parts.push(rest)
  return Buffer.concat(parts)
}

/** The line end the message uses (its first line's), for the lines a repair adds. */
const eolOf = (lines: Line[]) => lines.find((line) => line.eol !== '')?.eol ?? '\r\n'

export function fromLineToHeader(raw: Buffer): Buffer {
  const {lines, rest} = splitHeader(raw)
  const eol = eolOf(lines)
  const prefix = Buffer.from(`${MBOX_FROM_HEADER}: `, 'latin1')
  const out = lines.map((line) =>
    line.text.subarray(0, 5).toString('latin1') === 'From ' ? {text: Buffer.concat([prefix, line.text.subarray(5)]), eol: line.eol || eol} : line,
  )
  return joinHeader(out, rest)
}

const isWsp = (byte: number | undefined) => byte === 0x20 || byte === 0x09

/** `name:` with a field name of printable US-ASCII except ':' (RFC 5322 2.2). */
function fieldNameEnd(text: Buffer): number {
  let i = 0
  while (i < text.length && text[i] >= 33 && text[i] <= 126 && text[i] !== 0x3a) i++
  return i > 0 && text[i] === 0x3a ? i : -1
}

/** `name WSP+ :` (obsolete syntax): the offset of the whitespace, or -1. */
function obsoleteNameEnd(text: Buffer): number {
  let i = 0
  while (i < text.length && text[i] >= 33 && text[i] <= 126 && text[i] !== 0x3a) i++
  if (i === 0) return -1
  let j = i
  while (isWsp(text[j])) j++
  return j > i && text[j] === 0x3a ? i : -1
}

/** Lines that are not fields become fields; raw 8-bit bytes of each field are RFC 2047-encoded. */
export function repairHeaders(raw: Buffer): Buffer {
  const {lines, rest} = splitHeader(raw)
  const eol = eolOf(lines)
  const fixed: Line[] = []
  for (const [index, line] of lines.entries()) {
    const text = line.text
    const continuation = index > 0 && isWsp(text[0])
    if (continuation || fieldNameEnd(text) !== -1) {
      fixed.push(line)
      continue
    }
    const obsolete = obsoleteNameEnd(text)
    if (obsolete !== -1) {
      let colon = obsolete
      while (text[colon] !== 0x3a) colon++
      fixed.push({text: Buffer.concat([text.subarray(0, obsolete), text.subarray(colon)]), eol: line.eol})
      continue
    }
    const separator = isWsp(text[0]) ? '' : ' '
    fixed.push({text: Buffer.concat([Buffer.from(`${REPAIRED_HEADER}:${separator}`, 'latin1'), text]), eol: line.eol || eol})
  }
  // Each field (its first line and continuations) with 8-bit bytes is encoded as a whole.
  const out: Line[] = []
  let i = 0
  while (i < fixed.length) {
    let j = i + 1
    while (j < fixed.length && isWsp(fixed[j].text[0])) j++
    const field = fixed.slice(i, j)
    if (field.some((line) => line.text.some((byte) => byte >= 0x80))) out.push(...encodeField(field, eol))
    else out.push(...field)
    i = j
  }
  return joinHeader(out, rest)
}

/**
 * One field with raw 8-bit bytes: the field body unfolded, each run of words holding 8-bit bytes
 * (with the spaces between them, and without the quotes around a quoted display name) becomes
 * RFC 2047 encoded-words; the field is written again folded between encoded-words.
 */
function encodeField(field: Line[], eol: string): Line[] {
  const first = field[0].text
  const colon = fieldNameEnd(first)
  const name = first.subarray(0, colon + 1)
  // Unfold: the continuation lines' line ends go, their leading whitespace stays (RFC 5322 2.2.3).
  const body = Buffer.concat([first.subarray(colon + 1), ...field.slice(1).map((line) => line.text)])
  const tokens = splitWords(body)
  const pieces: string[] = []
  let k = 0
  while (k < tokens.length) {
    const token = tokens[k]
    if (token.space || !has8bit(token.bytes)) {
      pieces.push(token.bytes.toString('latin1'))
      k++
      continue
    }
    // The run: 8-bit words and the spaces between them, up to the next word without 8-bit bytes.
    let end = k
    let m = k
    while (m < tokens.length && (tokens[m].space || has8bit(tokens[m].bytes))) {
      if (!tokens[m].space) end = m
      m++
    }
    let run = Buffer.concat(tokens.slice(k, end + 1).map((t) => t.bytes))
    // A quoted display name is encoded without its quotes (an encoded-word may not be quoted).
    if (run.length >= 2 && run[0] === 0x22 && run[run.length - 1] === 0x22) run = run.subarray(1, run.length - 1)
    pieces.push(encodedWords(run).join(`${eol} `))
    k = end + 1
  }
  const text = name.toString('latin1') + pieces.join('')
  const lines = text.split(eol)
  return lines.map((line, index) => ({text: Buffer.from(line, 'latin1'), eol: index === lines.length - 1 ? field[field.length - 1].eol || eol : eol}))
}

const has8bit = (bytes: Buffer) => bytes.some((byte) => byte >= 0x80)

/** Runs of whitespace, and words between them; a quoted string (RFC 5322 3.2.4) is one word, spaces and all. */
function splitWords(body: Buffer): Array<{bytes: Buffer; space: boolean}> {
  const out: Array<{bytes: Buffer; space: boolean}> = []
  let start = 0
  while (start < body.length) {
    const space = isWsp(body[start])
    let end = start
    let inQuote = false
    while (end < body.length && (inQuote || isWsp(body[end]) === space)) {
      if (!space && body[end] === 0x5c && inQuote) end++
      else if (!space && body[end] === 0x22) inQuote = !inQuote
      end++
    }
    out.push({bytes: body.subarray(start, Math.min(end, body.length)), space})
    start = end
  }
  return out
}

/** Valid UTF-8 (RFC 3629)? */
function isUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', {fatal: true}).decode(bytes)
    return true
  } catch {
    return false
  }
}

/** Bytes of text per encoded-word: 45 bytes = 60 base64 characters, within RFC 2047's 75 per word. */
const WORD_BYTES = 45

/** `=?charset?B?...?=` words for these bytes; UTF-8 is cut only between characters. */
export function encodedWords(bytes: Buffer): string[] {
  const utf8 = isUtf8(bytes)
  const charset = utf8 ? 'UTF-8' : 'windows-1252'
  const words: string[] = []
  let start = 0
  while (start < bytes.length) {
    let end = Math.min(bytes.length, start + WORD_BYTES)
    // Never inside a UTF-8 character: back off over continuation bytes (10xxxxxx).
    if (utf8) while (end < bytes.length && end > start + 1 && (bytes[end] & 0xc0) === 0x80) end--
    words.push(`=?${charset}?B?${bytes.subarray(start, end).toString('base64')}?=`)
    start = end
  }
  return words
}
