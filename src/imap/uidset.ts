/**
 * UID sets (RFC 3501 sequence-set syntax), pure. Long sets are split so that no command line
 * grows past what servers accept (Dovecot's imap_max_line_length defaults to 64 KiB).
 */

/** "1:3,7,9:12" from any list of UIDs (order and duplicates do not matter). */
export function compactUids(uids: number[]): string {
  const sorted = [...new Set(uids)].sort((a, b) => a - b)
  const parts: string[] = []
  let start = sorted[0]
  let prev = start
  for (let i = 1; i <= sorted.length; i++) {
    const uid = sorted[i]
    if (uid === prev + 1) {
      prev = uid
      continue
    }
    parts.push(start === prev ? String(start) : `${start}:${prev}`)
    start = uid
    prev = uid
  }
  return parts.join(',')
}

/** Split UIDs into sets of at most maxUids UIDs and about maxChars characters each. */
export function chunkUidSets(uids: number[], maxUids = 2000, maxChars = 8000): string[] {
  const sorted = [...new Set(uids)].sort((a, b) => a - b)
  const sets: string[] = []
  let chunk: number[] = []
  let chars = 0
  for (const uid of sorted) {
    chunk.push(uid)
    chars += String(uid).length + 1
    if (chunk.length >= maxUids || chars >= maxChars) {
      sets.push(compactUids(chunk))
      chunk = []
      chars = 0
    }
  }
  if (chunk.length > 0) sets.push(compactUids(chunk))
  return sets
}

/**
 * Every UID but `uids`, as a set: "4:9,12:*" ("1:*" when `uids` is empty); undefined when that would
 * be longer than about maxChars. Its last range ends in "*", which also takes in the folder's last
 * message when its UID is below the range (RFC 9051 6.4.9): callers filter what they get.
 */
export function uidsOutside(uids: Iterable<number>, maxChars = 8000): string | undefined {
  const sorted = [...new Set(uids)].sort((a, b) => a - b)
  const parts: string[] = []
  let next = 1
  let chars = 0
  for (const uid of sorted) {
    if (uid > next) {
      const part = uid - 1 === next ? String(next) : `${next}:${uid - 1}`
      parts.push(part)
      chars += part.length + 1
      if (chars > maxChars) return undefined
    }
    next = Math.max(next, uid + 1)
  }
  parts.push(`${next}:*`)
  return parts.join(',')
}
