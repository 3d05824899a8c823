/**
 * The root's `subscriptions` file, pure (after Dovecot's subscription-file.c). Version 2, as
 * Dovecot 2.3 writes it:
 *
 *   V<TAB>2<LF><LF>
 *   Entw&APw-rfe<LF>
 *   Lists<TAB>a&-b list<LF>          one folder per line, levels separated by TAB
 *
 * Levels are stored as in directory names (modified UTF-7, listescape escapes: names.ts) and
 * tab-escaped (\x01 + 1/t/r/n). A file without the header is version 1: one name per line, with
 * the hierarchy delimiter itself. INBOX counts as subscribed without a line.
 */
import {decodeModifiedUtf7, encodeModifiedUtf7, escapeSegment, MAILDIR_DELIMITER, unescapeSegment} from './names.js'

export const SUBSCRIPTIONS = 'subscriptions'
const HEADER = 'V\t2\n\n'

const TAB_ESCAPES: Record<string, string> = {'\x01': '\x011', '\t': '\x01t', '\r': '\x01r', '\n': '\x01n'}
const TAB_UNESCAPES: Record<string, string> = {1: '\x01', t: '\t', r: '\r', n: '\n'}

const tabEscape = (text: string) => text.replace(/[\x01\t\r\n]/g, (char) => TAB_ESCAPES[char])
const tabUnescape = (text: string) => text.replace(/\x01(.)/g, (escaped, code: string) => TAB_UNESCAPES[code] ?? escaped)

function decodeLevel(stored: string): string {
  let decoded: string
  try {
    decoded = decodeModifiedUtf7(stored)
  } catch {
    decoded = stored
  }
  return unescapeSegment(decoded)
}

/** Folder paths ('.'-delimited), in file order. */
export function parseSubscriptions(text: string): string[] {
  const version2 = text.startsWith(HEADER)
  const lines = (version2 ? text.slice(HEADER.length) : text).split('\n').filter((line) => line !== '')
  return lines.map((line) => {
    const levels = version2 ? line.split('\t').map(tabUnescape) : line.split(MAILDIR_DELIMITER)
    return levels.map(decodeLevel).join(MAILDIR_DELIMITER)
  })
}

export function subscriptionLine(path: string): string {
  return path
    .split(MAILDIR_DELIMITER)
    .map((segment, i) => tabEscape(encodeModifiedUtf7(escapeSegment(segment, i === 0))))
    .join('\t')
}

export function formatSubscriptions(paths: string[]): string {
  return HEADER + paths.map((path) => `${subscriptionLine(path)}\n`).join('')
}
