/**
 * Flag arithmetic, pure. IMAP system flags start with a backslash; anything else is a keyword.
 */

/** Set by the server, never storable by a client (RFC 3501 2.3.2). */
const UNSETTABLE = new Set(['\\recent'])

const SYSTEM_FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft']
const SYSTEM_BY_LOWER = new Map(SYSTEM_FLAGS.map((flag) => [flag.toLowerCase(), flag]))

/** Canonical spelling (system flags are case-insensitive), without \Recent, sorted, no duplicates. */
export function normalizeFlags(flags: Iterable<string>): string[] {
  const out = new Set<string>()
  for (const flag of flags) {
    if (!flag || UNSETTABLE.has(flag.toLowerCase())) continue
    out.add(SYSTEM_BY_LOWER.get(flag.toLowerCase()) ?? flag)
  }
  return [...out].sort()
}

export interface FlagFilter {
  kept: string[]
  /** Flags the destination folder cannot store permanently. */
  dropped: string[]
}

/**
 * Keep what the destination's PERMANENTFLAGS allows. `\*` allows any keyword; system flags are
 * kept only when listed. Undefined permanentFlags (the store does not say) keeps everything and
 * lets the server decide (RFC 9051 7.1: absent PERMANENTFLAGS means all flags are permanent).
 */
export function filterFlags(flags: string[], permanentFlags: string[] | undefined): FlagFilter {
  if (permanentFlags === undefined) return {kept: [...flags], dropped: []}
  const allowed = new Set(permanentFlags.map((flag) => flag.toLowerCase()))
  const anyKeyword = allowed.has('\\*')
  const kept: string[] = []
  const dropped: string[] = []
  for (const flag of flags) {
    const lower = flag.toLowerCase()
    const ok = allowed.has(lower) || (anyKeyword && !flag.startsWith('\\'))
    if (ok) kept.push(flag)
    else dropped.push(flag)
  }
  return {kept, dropped}
}

export interface FlagChange {
  add: string[]
  remove: string[]
}

/** What to add and remove to turn `from` into `to`. */
export function flagDelta(from: string[], to: string[]): FlagChange {
  const before = new Set(from)
  const after = new Set(to)
  return {
    add: to.filter((flag) => !before.has(flag)),
    remove: from.filter((flag) => !after.has(flag)),
  }
}

export function sameFlags(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false
  const set = new Set(a)
  return b.every((flag) => set.has(flag))
}

/** One message's flag change on the destination. */
export interface MessageFlagChange extends FlagChange {
  uid: number
}

/**
 * Changes that are the same for several messages, together: one UID STORE per group instead of one
 * per message. Each message still gets exactly its own change. Groups and their UIDs are sorted.
 */
export function groupFlagChanges(changes: MessageFlagChange[]): Array<{uids: number[]; add: string[]; remove: string[]}> {
  const groups = new Map<string, {uids: number[]; add: string[]; remove: string[]}>()
  for (const {uid, add, remove} of changes) {
    const a = normalizeFlags(add)
    const r = normalizeFlags(remove)
    const key = `${a.join(' ')}\u0000${r.join(' ')}`
    const group = groups.get(key) ?? {uids: [], add: a, remove: r}
    group.uids.push(uid)
    groups.set(key, group)
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, group]) => ({...group, uids: group.uids.sort((x, y) => x - y)}))
}
