/**
 * Maildir file names and message bytes, pure (after Dovecot's maildir-filename.c and
 * maildir-filename-flags.c).
 *
 *   1795640004.M521541P22030Q7.host,S=40,W=45:2,DFRSTabc
 *   └──────────────── base ───────────────┘ └─ info ─┘
 *
 * - base: unique name; `,S=<size>` is the file's size and `,W=<vsize>` its size with CRLF line ends
 *   (RFC822.SIZE), so neither Dovecot nor we need to read the file to know them;
 * - info: after the last ':'; "2," then flag letters sorted by ASCII code: D \Draft, F \Flagged,
 *   R \Answered, S \Seen, T \Deleted, a-z = keywords 0-25 of dovecot-keywords. Other letters (such
 *   as P, "passed", which Dovecot ignores too) are kept when the flags change.
 */

const SYSTEM_LETTERS: ReadonlyArray<[string, string]> = [
  ['D', '\\Draft'],
  ['F', '\\Flagged'],
  ['R', '\\Answered'],
  ['S', '\\Seen'],
  ['T', '\\Deleted'],
]
const FLAG_BY_LETTER = new Map(SYSTEM_LETTERS)
const LETTER_BY_FLAG = new Map(SYSTEM_LETTERS.map(([letter, flag]) => [flag.toLowerCase(), letter]))

export const KEYWORD_LETTERS = 'abcdefghijklmnopqrstuvwxyz'

/** The IMAP system flags a Maildir file name can hold. */
export const MAILDIR_SYSTEM_FLAGS = SYSTEM_LETTERS.map(([, flag]) => flag)

export interface SplitName {
  /** Everything before the last ':' (the whole name when there is none). */
  base: string
  /** Everything after the last ':' ("2,FS"), or null. */
  info: string | null
}

export function splitFileName(name: string): SplitName {
  const colon = name.lastIndexOf(':')
  return colon === -1 ? {base: name, info: null} : {base: name.slice(0, colon), info: name.slice(colon + 1)}
}

/** `,S=` (file size) or `,W=` (size with CRLF line ends) from a base name, when present and well-formed. */
export function sizeField(base: string, key: 'S' | 'W'): number | undefined {
  const match = new RegExp(`,${key}=(\\d+)(?=,|$)`).exec(base)
  return match ? Number(match[1]) : undefined
}

/** The first flag set of "2,<letters>[,<more>]", or "" for anything else (no info, or experimental "1,"). */
function letters(info: string | null): string {
  if (info === null || !info.startsWith('2,')) return ''
  const rest = info.slice(2)
  const comma = rest.indexOf(',')
  return comma === -1 ? rest : rest.slice(0, comma)
}

/**
 * IMAP flags of a file's info. `keywordAt(index)` names keyword letters (a = 0); letters without a
 * name, and letters Dovecot does not know, are left out.
 */
export function flagsFromInfo(info: string | null, keywordAt: (index: number) => string | undefined): string[] {
  const flags: string[] = []
  for (const letter of letters(info)) {
    const system = FLAG_BY_LETTER.get(letter)
    if (system) {
      flags.push(system)
      continue
    }
    const index = KEYWORD_LETTERS.indexOf(letter)
    if (index === -1) continue
    const keyword = keywordAt(index)
    if (keyword !== undefined) flags.push(keyword)
  }
  return [...new Set(flags)]
}

export interface InfoResult {
  /** "2," + sorted letters (+ an unknown second flag set, kept). */
  info: string
  /** Keywords without a letter (the folder's 26 keyword letters are taken). */
  dropped: string[]
}

/**
 * The info for `flags`, keeping what the old info holds that is not a flag we manage (letters other
 * than DFRST and a-z, and a second flag set). `letterOf(keyword)` gives a keyword's letter, or
 * undefined when none is left. \Recent and unknown system flags are ignored.
 */
export function infoWithFlags(oldInfo: string | null, flags: string[], letterOf: (keyword: string) => string | undefined): InfoResult {
  const chars = new Set<string>()
  const dropped: string[] = []
  for (const letter of letters(oldInfo)) {
    if (!FLAG_BY_LETTER.has(letter) && !KEYWORD_LETTERS.includes(letter)) chars.add(letter)
  }
  for (const flag of flags) {
    if (flag.startsWith('\\')) {
      const letter = LETTER_BY_FLAG.get(flag.toLowerCase())
      if (letter) chars.add(letter)
      continue
    }
    const letter = letterOf(flag)
    if (letter === undefined) dropped.push(flag)
    else chars.add(letter)
  }
  const sorted = [...chars].sort((a, b) => a.charCodeAt(0) - b.charCodeAt(0)).join('')
  let tail = ''
  if (oldInfo !== null && oldInfo.startsWith('2,')) {
    const comma = oldInfo.indexOf(',', 2)
    if (comma !== -1) tail = oldInfo.slice(comma)
  }
  return {info: `2,${sorted}${tail}`, dropped}
}

/** The name with a new info. */
export function withInfo(base: string, info: string): string {
  return `${base}:${info}`
}

/** A host name as it may appear in a file name: no '/', ':' or ',' (maildir spec: \057 and \072). */
export function safeHostName(host: string): string {
  return (
    host
      .replace(/\//g, '\\057')
      .replace(/:/g, '\\072')
      .replace(/,/g, '\\054')
      .replace(/[^\x21-\x7e]/g, '_') || 'localhost'
  )
}

export interface BaseNameInput {
  /** Delivery time. */
  time: Date
  /** Counter that makes names unique within this process. */
  sequence: number
  pid: number
  host: string
  size: number
  vsize: number
}

/** "<secs>.M<usecs>P<pid>Q<seq>.<host>,S=<size>,W=<vsize>" (Dovecot's form plus a qmail-style counter). */
export function newBaseName(input: BaseNameInput): string {
  const ms = input.time.getTime()
  const seconds = Math.floor(ms / 1000)
  const micros = (ms - seconds * 1000) * 1000
  return `${seconds}.M${micros}P${input.pid}Q${input.sequence}.${safeHostName(input.host)},S=${input.size},W=${input.vsize}`
}

// ---------------------------------------------------------------------------------------------
// Bytes

const LF = 0x0a
const CR = 0x0d

/** Number of LF bytes not preceded by CR. */
export function bareLfCount(data: Buffer, previousByte = -1): number {
  let count = 0
  let from = 0
  for (;;) {
    const at = data.indexOf(LF, from)
    if (at === -1) return count
    const before = at === 0 ? previousByte : data[at - 1]
    if (before !== CR) count++
    from = at + 1
  }
}

/** RFC822.SIZE of stored bytes: every bare LF counts as CRLF. */
export function virtualSize(data: Buffer): number {
  return data.length + bareLfCount(data)
}

/**
 * The message as an IMAP server serves it: every bare LF as CRLF (Dovecot does the same for the
 * same file). The buffer is returned unchanged when it has no bare LF.
 */
export function toCrlf(data: Buffer): Buffer {
  const extra = bareLfCount(data)
  if (extra === 0) return data
  const out = Buffer.allocUnsafe(data.length + extra)
  let written = 0
  let from = 0
  for (;;) {
    const at = data.indexOf(LF, from)
    if (at === -1) break
    written += data.copy(out, written, from, at)
    if (at === 0 || data[at - 1] !== CR) out[written++] = CR
    out[written++] = LF
    from = at + 1
  }
  written += data.copy(out, written, from)
  return out
}

/**
 * The header block of CRLF bytes as IMAP BODY[HEADER] gives it (checked against Dovecot): up to and
 * including the first empty line, or everything when there is none. Undefined when more bytes
 * are needed to tell (`complete` false and no empty line yet).
 */
export function headerBlock(data: Buffer, complete: boolean): Buffer | undefined {
  if (data.length >= 2 && data[0] === CR && data[1] === LF) return data.subarray(0, 2)
  const end = data.indexOf('\r\n\r\n')
  if (end !== -1) return data.subarray(0, end + 4)
  return complete ? data : undefined
}
