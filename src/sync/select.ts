/**
 * Which source messages a run copies at all: imapsync's --maxage, --minage and --maxsize. Messages
 * outside the selection are left alone: not copied, not recognised, not counted as present. Ages are
 * counted from the INTERNALDATE (the date the server received the message), in days of 24 hours.
 */
export interface MessageSelection {
  /** Only messages younger than this many days (--max-age). */
  maxAgeDays?: number
  /** Only messages older than this many days (--min-age). */
  minAgeDays?: number
  /** Only messages of at most this many bytes (--max-size). */
  maxSize?: number
}

const DAY_MS = 24 * 60 * 60 * 1000

export function isSelecting(selection: MessageSelection | undefined): selection is MessageSelection {
  return selection !== undefined && Object.values(selection).some((value) => value !== undefined)
}

export function isSelected(selection: MessageSelection, message: {size: number; internalDate: Date}, now: Date): boolean {
  const ageMs = now.getTime() - message.internalDate.getTime()
  if (selection.maxAgeDays !== undefined && ageMs > selection.maxAgeDays * DAY_MS) return false
  if (selection.minAgeDays !== undefined && ageMs < selection.minAgeDays * DAY_MS) return false
  if (selection.maxSize !== undefined && message.size > selection.maxSize) return false
  return true
}

/** "younger than 30 days, at most 10000000 bytes", for the report. */
export function describeSelection(selection: MessageSelection): string {
  const parts: string[] = []
  if (selection.maxAgeDays !== undefined) parts.push(`younger than ${selection.maxAgeDays} days`)
  if (selection.minAgeDays !== undefined) parts.push(`older than ${selection.minAgeDays} days`)
  if (selection.maxSize !== undefined) parts.push(`at most ${selection.maxSize} bytes`)
  return parts.join(', ')
}
