/**
 * Folder names <-> Maildir++ directory names, pure (Dovecot's default Maildir++ layout).
 *
 *   INBOX              -> the root itself (its cur/ new/ tmp/)
 *   Lists.a&b list     -> ".Lists.a&-b list"      (hierarchy delimiter '.', names in IMAP modified UTF-7)
 *   Entwürfe           -> ".Entw&APw-rfe"         (what Dovecot 2.3 writes)
 *   a/b                -> ".a\2fb"                (Dovecot's listescape form: '\' + two hex digits)
 *
 * Escapes, in the form Dovecot's listescape plugin reads (so such names come back unchanged there;
 * a plain Dovecot shows them escaped): '/' (a path separator on disk), control characters, a
 * leading '~' (Dovecot refuses it), and a '\' that is followed by two hex digits (so that decoding is
 * unambiguous; any other '\' stays as it is, as Dovecot keeps it).
 */

export const MAILDIR_DELIMITER = '.'

/** Longest directory name most file systems allow (bytes). */
const MAX_NAME_BYTES = 255

export class FolderNameError extends Error {}

// ---------------------------------------------------------------------------------------------
// IMAP modified UTF-7 (RFC 3501 5.1.3)

/** Printable US-ASCII stands for itself ('&' as "&-"); everything else is "&" + base64(UTF-16BE) + "-", ',' for '/'. */
export function encodeModifiedUtf7(text: string): string {
  let out = ''
  let i = 0
  while (i < text.length) {
    const code = text.charCodeAt(i)
    if (code >= 0x20 && code <= 0x7e) {
      out += code === 0x26 ? '&-' : text[i]
      i++
      continue
    }
    let end = i
    while (end < text.length && (text.charCodeAt(end) < 0x20 || text.charCodeAt(end) > 0x7e)) end++
    const utf16be = Buffer.from(text.slice(i, end), 'utf16le').swap16()
    out += `&${utf16be.toString('base64').replace(/=+$/, '').replace(/\//g, ',')}-`
    i = end
  }
  return out
}

/** Inverse of encodeModifiedUtf7. Throws FolderNameError on text that is not valid modified UTF-7. */
export function decodeModifiedUtf7(text: string): string {
  let out = ''
  let i = 0
  while (i < text.length) {
    const char = text[i]
    const code = text.charCodeAt(i)
    if (code < 0x20 || code > 0x7e) throw new FolderNameError(`not modified UTF-7: ${JSON.stringify(text)}`)
    if (char !== '&') {
      out += char
      i++
      continue
    }
    const end = text.indexOf('-', i + 1)
    if (end === -1) throw new FolderNameError(`unterminated "&" in ${JSON.stringify(text)}`)
    const encoded = text.slice(i + 1, end)
    if (encoded === '') {
      out += '&'
    } else {
      if (!/^[A-Za-z0-9+,]+$/.test(encoded)) throw new FolderNameError(`bad modified base64 in ${JSON.stringify(text)}`)
      const bytes = Buffer.from(encoded.replace(/,/g, '/'), 'base64')
      if (bytes.length % 2 !== 0 || bytes.length === 0) throw new FolderNameError(`bad UTF-16 in ${JSON.stringify(text)}`)
      out += Buffer.from(bytes).swap16().toString('utf16le')
    }
    i = end + 1
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Escapes for what a file name cannot hold

const hex = (char: string) => `\\${char.charCodeAt(0).toString(16).padStart(2, '0')}`

/** One hierarchy level's name -> the form stored on disk (before modified UTF-7). */
export function escapeSegment(segment: string, first: boolean): string {
  let out = ''
  for (let i = 0; i < segment.length; i++) {
    const char = segment[i]
    const code = segment.charCodeAt(i)
    if (char === '/' || code < 0x20 || code === 0x7f) out += hex(char)
    else if (char === '~' && i === 0 && first) out += hex(char)
    else if (char === '\\' && /^[0-9a-fA-F]{2}/.test(segment.slice(i + 1, i + 3))) out += hex(char)
    else out += char
  }
  return out
}

/**
 * Inverse of escapeSegment: "\XX" (two hex digits) is the character XX; any other '\' is itself.
 * "\2e" stays as it is: a '.' inside a level would read as one more level.
 */
export function unescapeSegment(segment: string): string {
  return segment.replace(/\\([0-9a-fA-F]{2})/g, (escaped, code: string) =>
    code === '2e' || code === '2E' ? escaped : String.fromCharCode(Number.parseInt(code, 16)),
  )
}

// ---------------------------------------------------------------------------------------------
// Folder path <-> directory name

export const isInbox = (path: string) => path.toUpperCase() === 'INBOX'

/**
 * The directory (relative to the root) that holds folder `path` ('.'-delimited): "" for INBOX,
 * ".Lists.a&-b list" for "Lists.a&b list". Throws FolderNameError for names that cannot be stored.
 */
export function folderDirName(path: string): string {
  if (isInbox(path)) return ''
  const segments = path.split(MAILDIR_DELIMITER)
  if (segments.some((segment) => segment === '')) {
    throw new FolderNameError(`folder name ${JSON.stringify(path)} has an empty level`)
  }
  const name = `.${encodeModifiedUtf7(segments.map((segment, i) => escapeSegment(segment, i === 0)).join(MAILDIR_DELIMITER))}`
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    throw new FolderNameError(`folder name ${JSON.stringify(path)} is too long for a Maildir++ directory name (${MAX_NAME_BYTES} bytes)`)
  }
  return name
}

/**
 * The folder a root entry stands for, or undefined when the entry is not a Maildir++ folder
 * ("." and "..", names without the leading dot, empty levels). Names that are not valid modified
 * UTF-7 are taken as they are (Dovecot lists them that way too).
 */
export function folderFromDirName(name: string): string | undefined {
  if (!name.startsWith('.') || name === '.' || name === '..') return undefined
  const stored = name.slice(1)
  if (stored.split(MAILDIR_DELIMITER).some((segment) => segment === '')) return undefined
  let decoded: string
  try {
    decoded = decodeModifiedUtf7(stored)
  } catch {
    decoded = stored
  }
  return decoded.split(MAILDIR_DELIMITER).map(unescapeSegment).join(MAILDIR_DELIMITER)
}
