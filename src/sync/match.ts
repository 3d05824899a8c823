/**
 * Recognising source messages that are already on the destination, without a state row (first run
 * onto a non-empty folder, a deleted state DB, an APPEND that landed just before a kill, a UIDVALIDITY
 * change). Pure functions; the engine does the fetching between the levels.
 *
 * Matching counts copies (a multiset) and must never merge distinct messages, so it narrows in
 * three levels, each more expensive and more exact, and only for what the previous level left open:
 *   1. size + Message-ID          (from the metadata listing; never decides a match on its own)
 *   2. size + SHA-256 of the header block  (decides when exactly one message on each side has it)
 *   3. SHA-256 of the whole message        (decides everything left: byte-identical copies pair up one to one)
 * Distinct messages that share Message-ID and size (mailing-list copies, test fixtures, resends)
 * differ in their headers (Received, Date...) or, failing that, in their bytes.
 */

export interface Keyed {
  uid: number
  key: string
}

/**
 * narrow: only partition (no match is decided);
 * unique: a key held by exactly one message on each side is a match;
 * exact:  the key identifies content, so pair as many as both sides hold.
 */
export type MatchMode = 'narrow' | 'unique' | 'exact'

export interface UidGroup {
  source: number[]
  dest: number[]
}

export interface LevelResult {
  /** [source UID, destination UID] pairs decided at this level. */
  matched: Array<[number, number]>
  /** Source UIDs with no possible counterpart: to be copied. */
  unmatched: number[]
  /** Groups this level could not decide: pass them to the next level. */
  open: UidGroup[]
}

function groupByKey(source: Keyed[], dest: Keyed[]): Map<string, UidGroup> {
  const groups = new Map<string, UidGroup>()
  const groupOf = (key: string) => {
    let group = groups.get(key)
    if (!group) groups.set(key, (group = {source: [], dest: []}))
    return group
  }
  for (const item of source) groupOf(item.key).source.push(item.uid)
  for (const item of dest) groupOf(item.key).dest.push(item.uid)
  return groups
}

/**
 * affinity: optional secondary keys per UID, strongest first (internal date + flags, then internal
 * date). Within a decided group, members with an equal key pair first, tier by tier: two copies that
 * are byte-identical on the server (say, one stored with LF and one with CRLF line ends) are paired
 * with the copy that has their own date and flags, so no flags are needlessly swapped.
 */
export function matchLevel(source: Keyed[], dest: Keyed[], mode: MatchMode, affinity: Affinity[] = []): LevelResult {
  const result: LevelResult = {matched: [], unmatched: [], open: []}
  for (const group of groupByKey(source, dest).values()) {
    if (group.source.length === 0) continue
    if (group.dest.length === 0) {
      result.unmatched.push(...group.source)
      continue
    }
    const decidable = mode === 'exact' || (mode === 'unique' && group.source.length === 1 && group.dest.length === 1)
    if (!decidable) {
      result.open.push(group)
      continue
    }
    const {pairs, leftover} = pairUp(group, affinity)
    result.matched.push(...pairs)
    result.unmatched.push(...leftover)
  }
  return result
}

export interface Affinity {
  source: Map<number, string>
  dest: Map<number, string>
}

/** Pair a group's members: equal affinity first (tier by tier), then the rest in UID order. */
function pairUp(group: UidGroup, affinity: Affinity[]): {pairs: Array<[number, number]>; leftover: number[]} {
  let rest = [...group.source].sort((a, b) => a - b)
  const dst = [...group.dest].sort((a, b) => a - b)
  const pairs: Array<[number, number]> = []
  const usedDest = new Set<number>()
  for (const tier of affinity) {
    const unpaired: number[] = []
    for (const uid of rest) {
      const wanted = tier.source.get(uid)
      const partner = wanted === undefined ? undefined : dst.find((d) => !usedDest.has(d) && tier.dest.get(d) === wanted)
      if (partner === undefined) {
        unpaired.push(uid)
        continue
      }
      usedDest.add(partner)
      pairs.push([uid, partner])
    }
    rest = unpaired
  }
  const freeDest = dst.filter((d) => !usedDest.has(d))
  const count = Math.min(rest.length, freeDest.length)
  for (let i = 0; i < count; i++) pairs.push([rest[i], freeDest[i]])
  return {pairs, leftover: rest.slice(count)}
}

/** Level 1 key: size and Message-ID (messages without one share the empty Message-ID). */
export function coarseKey(size: number, messageId: string | undefined | null): string {
  return `${size}\u0000${messageId ?? ''}`
}

/** Every UID of the open groups on one side, to fetch what the next level needs. */
export function openUids(groups: UidGroup[], side: 'source' | 'dest'): number[] {
  return groups.flatMap((group) => group[side])
}

/** Re-key the open groups' members for the next level. A UID without a key (gone) is left out. */
export function rekey(groups: UidGroup[], keys: {source: Map<number, string>; dest: Map<number, string>}) {
  const source: Keyed[] = []
  const dest: Keyed[] = []
  // The group index keeps members of different earlier groups apart even if the next key collides.
  groups.forEach((group, index) => {
    for (const uid of group.source) {
      const key = keys.source.get(uid)
      if (key !== undefined) source.push({uid, key: `${index}\u0000${key}`})
    }
    for (const uid of group.dest) {
      const key = keys.dest.get(uid)
      if (key !== undefined) dest.push({uid, key: `${index}\u0000${key}`})
    }
  })
  return {source, dest}
}
