/**
 * What `mailferry verify` compares, as pure functions over listings: no I/O, no state database.
 *
 * Messages are paired across the two sides by content, never by UID (UIDs differ between servers):
 *   1. identity: size + Message-ID + SHA-256 of the header block (+ SHA-256 of the whole message with
 *      --deep). Members of one identity group are interchangeable as far as we can tell, so they pair
 *      up as many as both sides hold, preferring partners with the same internal date and flags, then
 *      the same internal date, then UID order: a pairing that shows the fewest differences.
 *   2. what identity left over on both sides is paired when exactly one message on each side has the
 *      same Message-ID, or failing that the same header block: the same message, changed (its size,
 *      headers or body differ).
 *   3. the rest is missing (on the source only) or extra (on the destination only).
 * Each pair is then compared: flags (normalised, without \Recent), internal date, size, headers, body.
 */
import {flagDelta, normalizeFlags} from '../sync/flags.js'

/** One message as verify sees it. */
export interface VerifyMessage {
  uid: number
  size: number
  messageId?: string
  flags: string[]
  internalDate: Date
  /** SHA-256 (hex) of the header block; undefined when it could not be fetched. */
  headerHash?: string
  /** SHA-256 (hex) of the whole message; only with --deep. */
  bodyHash?: string
}

export type Difference =
  /** add: flags only the destination copy has; remove: flags the destination copy lacks. */
  | {kind: 'flags'; add: string[]; remove: string[]}
  | {kind: 'internalDate'; source: string; dest: string}
  | {kind: 'size'; source: number; dest: number}
  | {kind: 'headers'; source: string; dest: string}
  | {kind: 'body'; source: string; dest: string}

export interface MessageDifference {
  /** Source folder path. */
  folder: string
  destFolder: string
  /**
   * missing: on the source only; extra: on the destination only; changed: on both, but different;
   * folder-missing: the destination folder does not exist (its messages are not listed one by one).
   */
  kind: 'missing' | 'extra' | 'changed' | 'folder-missing'
  sourceUid: number | null
  destUid: number | null
  messageId?: string
  /** For 'changed': what differs. */
  differences: Difference[]
  /** One line for humans, e.g. "flags: +\\Flagged -\\Seen; internal date a vs b". */
  text: string
}

/** What a folder's comparison counts; verify's totals are their sums over the folders. */
export interface VerifyCounts {
  sourceMessages: number
  destMessages: number
  /** Pairs with no difference. */
  equal: number
  missing: number
  extra: number
  changed: number
}

/** Every count zero, in the order the reports list them (also the list of the counts). */
export const NO_VERIFY_COUNTS: Readonly<VerifyCounts> = {sourceMessages: 0, destMessages: 0, equal: 0, missing: 0, extra: 0, changed: 0}

export interface FolderVerdict extends VerifyCounts {
  source: string
  dest: string
  /** The destination folder does not exist. */
  destMissing: boolean
  /** Copies stored repaired (--repair, recorded in the state database) that are as recorded: not a difference. */
  repaired?: number
  /** Set when the folder could not be compared (it could not be opened...). */
  error?: string
}

export interface Pairing {
  pairs: Array<[VerifyMessage, VerifyMessage]>
  /** On the source only. */
  missing: VerifyMessage[]
  /** On the destination only. */
  extra: VerifyMessage[]
}

const dateKey = (m: VerifyMessage) => String(m.internalDate.getTime())
const flagsKey = (m: VerifyMessage) => normalizeFlags(m.flags).join(' ')

/** Level 1 key: everything known about the content. */
export function identityKey(m: VerifyMessage): string {
  return [m.size, m.messageId ?? '', m.headerHash ?? '', m.bodyHash ?? ''].join('\u0000')
}

function groupBy(messages: VerifyMessage[], key: (m: VerifyMessage) => string | undefined): Map<string, VerifyMessage[]> {
  const groups = new Map<string, VerifyMessage[]>()
  for (const m of messages) {
    const k = key(m)
    if (k === undefined) continue
    const list = groups.get(k)
    if (list) list.push(m)
    else groups.set(k, [m])
  }
  return groups
}

/**
 * Pair two lists of interchangeable messages: equal date and flags first, then equal date,
 * then the rest in UID order. Returns the pairs and what is left on each side.
 */
export function pairGroup(source: VerifyMessage[], dest: VerifyMessage[]): Pairing {
  const byUid = (a: VerifyMessage, b: VerifyMessage) => a.uid - b.uid
  let src = [...source].sort(byUid)
  let dst = [...dest].sort(byUid)
  const pairs: Array<[VerifyMessage, VerifyMessage]> = []
  for (const affinity of [(m: VerifyMessage) => `${dateKey(m)} ${flagsKey(m)}`, dateKey, () => '']) {
    const free = groupBy(dst, affinity)
    const rest: VerifyMessage[] = []
    for (const m of src) {
      const partner = free.get(affinity(m))?.shift()
      if (partner) pairs.push([m, partner])
      else rest.push(m)
    }
    const used = new Set(pairs.map(([, d]) => d))
    src = rest
    dst = dst.filter((d) => !used.has(d))
  }
  return {pairs, missing: src, extra: dst}
}

/** Pairs source and destination messages of one folder (see the levels at the top). */
export function pairMessages(source: VerifyMessage[], dest: VerifyMessage[]): Pairing {
  const result: Pairing = {pairs: [], missing: [], extra: []}
  const destGroups = groupBy(dest, identityKey)
  for (const [key, group] of groupBy(source, identityKey)) {
    const level = pairGroup(group, destGroups.get(key) ?? [])
    destGroups.delete(key)
    result.pairs.push(...level.pairs)
    result.missing.push(...level.missing)
    result.extra.push(...level.extra)
  }
  for (const group of destGroups.values()) result.extra.push(...group)

  // Level 2: the same message, changed. Only where exactly one message on each side qualifies.
  for (const key of [(m: VerifyMessage) => m.messageId || undefined, (m: VerifyMessage) => m.headerHash]) {
    const sourceGroups = groupBy(result.missing, key)
    const destLeft = groupBy(result.extra, key)
    const paired = new Set<VerifyMessage>()
    for (const [k, group] of sourceGroups) {
      const partners = destLeft.get(k)
      if (group.length !== 1 || partners?.length !== 1) continue
      result.pairs.push([group[0], partners[0]])
      paired.add(group[0]).add(partners[0])
    }
    result.missing = result.missing.filter((m) => !paired.has(m))
    result.extra = result.extra.filter((m) => !paired.has(m))
  }
  const byUid = (a: VerifyMessage, b: VerifyMessage) => a.uid - b.uid
  result.pairs.sort((a, b) => byUid(a[0], b[0]))
  result.missing.sort(byUid)
  result.extra.sort(byUid)
  return result
}

/** What differs between a source message and its destination copy (empty: equal). */
export function compareMessages(source: VerifyMessage, dest: VerifyMessage): Difference[] {
  const out: Difference[] = []
  const flags = flagDelta(normalizeFlags(source.flags), normalizeFlags(dest.flags))
  if (flags.add.length > 0 || flags.remove.length > 0) out.push({kind: 'flags', ...flags})
  if (source.internalDate.getTime() !== dest.internalDate.getTime()) {
    out.push({kind: 'internalDate', source: iso(source.internalDate), dest: iso(dest.internalDate)})
  }
  if (source.size !== dest.size) out.push({kind: 'size', source: source.size, dest: dest.size})
  if (source.headerHash && dest.headerHash && source.headerHash !== dest.headerHash) {
    out.push({kind: 'headers', source: source.headerHash, dest: dest.headerHash})
  }
  if (source.bodyHash && dest.bodyHash && source.bodyHash !== dest.bodyHash) {
    out.push({kind: 'body', source: source.bodyHash, dest: dest.bodyHash})
  }
  return out
}

const iso = (date: Date) => (Number.isNaN(date.getTime()) ? 'invalid date' : date.toISOString())
const short = (hash: string) => hash.slice(0, 12)

export function describeDifference(d: Difference): string {
  switch (d.kind) {
    case 'flags':
      return `flags: ${[...d.add.map((f) => `+${f}`), ...d.remove.map((f) => `-${f}`)].join(' ')}`
    case 'internalDate':
      return `internal date ${d.source} vs ${d.dest}`
    case 'size':
      return `size ${d.source} vs ${d.dest}`
    case 'headers':
      return `header block differs (SHA-256 ${short(d.source)} vs ${short(d.dest)})`
    case 'body':
      return `message SHA-256 ${short(d.source)} vs ${short(d.dest)}`
  }
}

export interface FolderComparison {
  verdict: FolderVerdict
  differences: MessageDifference[]
}

/** Compares one folder pair whose both sides exist. */
/** A copy the state database records as stored repaired: the destination UID and the SHA-256 of what was stored. */
export interface RepairedRecord {
  sourceUid: number
  destUid: number | null
  storedSha256: string
  repairs: string[]
}

export function compareFolder(
  pair: {source: string; dest: string},
  source: VerifyMessage[],
  dest: VerifyMessage[],
  repairedRecords: RepairedRecord[] = [],
): FolderComparison {
  const base = {folder: pair.source, destFolder: pair.dest}
  const differences: MessageDifference[] = []
  // A repaired copy differs from its source by design: it is paired by the recorded UIDs, and only
  // its flags, internal date and (with --deep) the recorded SHA-256 of what was stored are compared.
  const recorded = new Map(repairedRecords.filter((r) => r.destUid !== null).map((r) => [r.sourceUid, r]))
  const destByUid = new Map(dest.map((m) => [m.uid, m]))
  const repairedPairs: Array<[VerifyMessage, VerifyMessage, RepairedRecord]> = []
  for (const m of source) {
    const record = recorded.get(m.uid)
    const copy = record && destByUid.get(record.destUid!)
    if (record && copy) {
      repairedPairs.push([m, copy, record])
      destByUid.delete(copy.uid)
    }
  }
  const inRepaired = new Set(repairedPairs.flatMap(([s, d]) => [s, d]))
  const {pairs, missing, extra} = pairMessages(
    source.filter((m) => !inRepaired.has(m)),
    dest.filter((m) => !inRepaired.has(m)),
  )
  let repaired = 0
  let changed = 0
  for (const [s, d, record] of repairedPairs) {
    const diffs: Difference[] = compareMessages(s, d).filter((diff) => diff.kind === 'flags' || diff.kind === 'internalDate')
    if (d.bodyHash !== undefined && d.bodyHash !== record.storedSha256) diffs.push({kind: 'body', source: record.storedSha256, dest: d.bodyHash})
    if (diffs.length === 0) {
      repaired++
      continue
    }
    changed++
    differences.push({...base, kind: 'changed', sourceUid: s.uid, destUid: d.uid, messageId: s.messageId ?? d.messageId,
      differences: diffs, text: `repaired copy (${record.repairs.join(', ')}, SHA-256 as recorded vs as stored): ${diffs.map(describeDifference).join('; ')}`})
  }
  let equal = 0
  for (const m of missing) {
    differences.push({...base, kind: 'missing', sourceUid: m.uid, destUid: null, messageId: m.messageId, differences: [],
      text: `not on the destination${describeMessage(m)}`})
  }
  for (const m of extra) {
    differences.push({...base, kind: 'extra', sourceUid: null, destUid: m.uid, messageId: m.messageId, differences: [],
      text: `only on the destination${describeMessage(m)}`})
  }
  for (const [s, d] of pairs) {
    const diffs = compareMessages(s, d)
    if (diffs.length === 0) {
      equal++
      continue
    }
    changed++
    differences.push({...base, kind: 'changed', sourceUid: s.uid, destUid: d.uid, messageId: s.messageId ?? d.messageId,
      differences: diffs, text: diffs.map(describeDifference).join('; ')})
  }
  differences.sort((a, b) => (a.sourceUid ?? Infinity) - (b.sourceUid ?? Infinity) || (a.destUid ?? 0) - (b.destUid ?? 0))
  return {
    verdict: {
      source: pair.source,
      dest: pair.dest,
      destMissing: false,
      sourceMessages: source.length,
      destMessages: dest.length,
      equal,
      missing: missing.length,
      extra: extra.length,
      changed,
      repaired,
    },
    differences,
  }
}

/** A source folder whose destination folder does not exist: one difference, every message missing. */
export function missingFolder(pair: {source: string; dest: string}, sourceMessages: number): FolderComparison {
  return {
    verdict: {source: pair.source, dest: pair.dest, destMissing: true, ...NO_VERIFY_COUNTS, sourceMessages, missing: sourceMessages},
    differences: [{
      folder: pair.source,
      destFolder: pair.dest,
      kind: 'folder-missing',
      sourceUid: null,
      destUid: null,
      differences: [],
      text: `destination folder "${pair.dest}" does not exist (${sourceMessages} message${sourceMessages === 1 ? '' : 's'} on the source)`,
    }],
  }
}

function describeMessage(m: VerifyMessage): string {
  const parts = [`${m.size} bytes`, iso(m.internalDate)]
  if (m.messageId) parts.unshift(`Message-ID ${m.messageId}`)
  return ` (${parts.join(', ')})`
}

/** True when the folder shows no difference at all. */
export function folderEqual(v: FolderVerdict): boolean {
  return !v.error && !v.destMissing && v.missing === 0 && v.extra === 0 && v.changed === 0
}
