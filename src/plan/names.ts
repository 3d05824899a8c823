/**
 * Folder names, pure: a store's path <-> the normalised name the mapping rules work on.
 *
 * The normalised name of a folder is its list of hierarchy segments, without the store's personal
 * namespace prefix (RFC 2342) and independent of its separator: "INBOX.Lists.fork" on a Courier/Cyrus
 * style server (prefix "INBOX.", separator ".") and "Lists/fork" on a server without prefix
 * (separator "/") are both ["Lists", "fork"]. INBOX is always spelt "INBOX" (RFC 3501 5.1: the name
 * is case-insensitive) and never gets a prefix. In rule patterns and in `plan` output the segments
 * are written joined with "/", whatever separator the servers use.
 *
 * Names are Unicode strings: the IMAP layer (imapflow) encodes them as modified UTF-7 (RFC 3501
 * 5.1.3), or sends them as UTF-8 when UTF8=ACCEPT (RFC 6855) is enabled, and decodes them back.
 */
import type {FolderInfo} from '../stores/store.js'

/** A store's personal namespace: the prefix of its own folders and its hierarchy separator. */
export interface Namespace {
  /** "" or e.g. "INBOX." (ends with the separator when not empty). */
  prefix: string
  delimiter: string
}

/** The separator used when writing normalised names (rule patterns, `plan` output). */
export const NAME_SEPARATOR = '/'

/** Longest segment, in UTF-8 bytes (a file name on most file systems, where many servers keep folders). */
export const MAX_SEGMENT_BYTES = 255
/** Longest whole name, in UTF-8 bytes, prefix and separators included. */
export const MAX_NAME_BYTES = 1024

export const isInbox = (name: string): boolean => name.toUpperCase() === 'INBOX'

/** The delimiter a store uses: the one of its INBOX, else the first one it reports, else "/". */
export function storeDelimiter(folders: FolderInfo[]): string {
  const inbox = folders.find((folder) => isInbox(folder.path))
  return inbox?.delimiter ?? folders.find((folder) => folder.delimiter)?.delimiter ?? '/'
}

/**
 * The namespace to use for a store: what it reported (NAMESPACE), else no prefix and the
 * delimiter seen in its listing. A prefix is completed with the delimiter ("INBOX" -> "INBOX.").
 */
export function resolveNamespace(folders: FolderInfo[], reported?: {prefix: string; delimiter: string | null}): Namespace {
  const delimiter = reported?.delimiter || storeDelimiter(folders)
  let prefix = reported?.prefix ?? ''
  if (prefix !== '' && !prefix.endsWith(delimiter)) prefix += delimiter
  return {prefix, delimiter}
}

export function splitPath(path: string, delimiter: string): string[] {
  return delimiter ? path.split(delimiter) : [path]
}

/**
 * A store path -> normalised segments, or null when the folder lies outside the personal namespace
 * (it does not start with the prefix, and is not INBOX).
 */
export function toSegments(path: string, namespace: Namespace): string[] | null {
  // As spelt: the planner's inbox rule says so when it was not "INBOX".
  if (isInbox(path)) return [path]
  const {prefix, delimiter} = namespace
  if (prefix !== '') {
    if (!path.startsWith(prefix)) return null
    path = path.slice(prefix.length)
  }
  return splitPath(path, delimiter)
}

/**
 * Normalised segments -> a path in the store's syntax: the prefix added (not to INBOX itself),
 * segments joined with its delimiter. A child of INBOX keeps "INBOX" as its first segment, so
 * ["INBOX", "Sub"] becomes "INBOX.INBOX.Sub" under an "INBOX." prefix and maps back exactly.
 */
export function fromSegments(segments: string[], namespace: Namespace): string {
  if (segments.length === 1 && isInbox(segments[0])) return 'INBOX'
  return namespace.prefix + segments.join(namespace.delimiter)
}

/** Segments as rules and people see them: "Lists/fork". */
export function displayName(segments: string[]): string {
  return segments.join(NAME_SEPARATOR)
}

/** A normalised name written by a person ("Old/Name", "inbox/Sub") -> segments, INBOX spelt INBOX. */
export function parseName(name: string): string[] {
  const segments = name.split(NAME_SEPARATOR)
  if (isInbox(segments[0])) segments[0] = 'INBOX'
  return segments
}

const utf8Length = (text: string): number => new TextEncoder().encode(text).length

export function sameSegments(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((segment, i) => segment === b[i])
}

/**
 * Why these segments cannot name a folder, or undefined when they can: an empty segment (from
 * "a//b", a leading or trailing "/"), NUL, CR or LF (not allowed in IMAP mailbox names), or too long.
 */
export function invalidName(segments: string[], path: string): string | undefined {
  if (segments.length === 0 || segments.some((segment) => segment === '')) return 'empty name segment'
  if (segments.some((segment) => /[\u0000\r\n]/.test(segment))) return 'contains NUL, CR or LF'
  const long = segments.find((segment) => utf8Length(segment) > MAX_SEGMENT_BYTES)
  if (long !== undefined) return `segment longer than ${MAX_SEGMENT_BYTES} bytes`
  if (utf8Length(path) > MAX_NAME_BYTES) return `name longer than ${MAX_NAME_BYTES} bytes`
  return undefined
}
