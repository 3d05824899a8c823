/**
 * Finds which source messages are already on the destination among the destination messages that no
 * state row claims (see match.ts for the three levels). Fetches only what each level needs:
 * headers of messages whose size and Message-ID collide, whole bodies only where headers collide too.
 */
import {sha256} from '../digest.js'
import {parseMessageId} from '../stores/message-id.js'
import {headerHashes, type MessageMeta, type Store} from '../stores/store.js'
import {normalizeFlags} from './flags.js'
import {endsAtHeaderEnd} from './headers.js'
import {coarseKey, matchLevel, openUids, rekey, type Affinity, type UidGroup} from './match.js'

export interface RecogniseInput {
  source: Store
  dest: Store
  sourcePath: string
  destPath: string
  /** Source messages that may already be there. */
  candidates: MessageMeta[]
  /** Destination messages no state row claims. */
  unclaimed: MessageMeta[]
  /**
   * Only for APPENDs that were cut off: a destination message whose header, read whole, has another
   * Message-ID than its listing says, or does not end at the header's empty line (cut short, or run
   * into the body), contradicts itself: the server's index and files disagree (Dovecot Maildir after
   * a process was killed mid-save, until its next save repairs it). Such a
   * message is taken as the candidate's copy when its listing (size, Message-ID, internal date)
   * is the candidate's: the listing comes from the index, which the repair keeps, and sending the
   * message again would leave two copies once it does. Called for each such pairing.
   */
  onSelfContradiction?: (sourceUid: number, destUid: number) => void
}

/** Returns source UID -> destination UID for every message found on the destination. */
export async function recognise(input: RecogniseInput): Promise<Map<number, number>> {
  const found = new Map<number, number>()
  if (input.candidates.length === 0 || input.unclaimed.length === 0) return found
  const keyed = (list: MessageMeta[]) => list.map((m) => ({uid: m.uid, key: coarseKey(m.size, m.messageId)}))

  const level1 = matchLevel(keyed(input.candidates), keyed(input.unclaimed), 'narrow')
  if (level1.open.length === 0) return found

  const contradicting = new Set<number>()
  // Only looked for when the caller would act on it (after a cut-off APPEND).
  const listedId = input.onSelfContradiction ? new Map(input.unclaimed.map((m) => [m.uid, m.messageId])) : undefined
  const headerKeys = await hashBoth(input, level1.open, (store, path, uids) =>
    headerHashes(store, path, uids, (uid, block) => {
      if (listedId && store === input.dest && (parseMessageId(block) !== listedId.get(uid) || !endsAtHeaderEnd(block))) contradicting.add(uid)
    }),
  )
  const level2 = matchLevel(...spread(rekey(level1.open, headerKeys)), 'unique')
  for (const [s, d] of level2.matched) found.set(s, d)
  if (input.onSelfContradiction && contradicting.size > 0) trustListings(input, found, contradicting, input.onSelfContradiction)
  if (level2.open.every((group) => group.source.every((uid) => found.has(uid)))) return found

  const bodyKeys = await hashBoth(input, level2.open, async (store, path, uids) => {
    const hashes = new Map<number, string>()
    // One body at a time: memory stays bounded whatever the group size.
    for (const uid of uids) {
      const message = await store.fetchMessage(path, uid)
      if (message) hashes.set(uid, sha256(message.raw))
    }
    return hashes
  })
  // Byte-identical copies are interchangeable: pair each with the copy that has its date and flags.
  const tier = (key: (m: MessageMeta) => string): Affinity => ({
    source: new Map(input.candidates.map((m) => [m.uid, key(m)])),
    dest: new Map(input.unclaimed.map((m) => [m.uid, key(m)])),
  })
  const date = (m: MessageMeta) => m.internalDate.toISOString()
  const dateAndFlags = (m: MessageMeta) => `${date(m)} ${normalizeFlags(m.flags).join(' ')}`
  const level3 = matchLevel(...spread(rekey(level2.open, bodyKeys)), 'exact', [tier(dateAndFlags), tier(date)])
  const taken = new Set(found.values())
  for (const [s, d] of level3.matched) if (!found.has(s) && !taken.has(d)) found.set(s, d)
  return found
}

/** Pairs candidates not found with self-contradicting destination messages listed exactly like them. */
function trustListings(
  input: RecogniseInput,
  found: Map<number, number>,
  contradicting: Set<number>,
  report: (sourceUid: number, destUid: number) => void,
): void {
  const listing = (m: MessageMeta) => `${coarseKey(m.size, m.messageId)}\u0000${m.internalDate.toISOString()}`
  const taken = new Set(found.values())
  const open = input.unclaimed.filter((m) => contradicting.has(m.uid))
  for (const candidate of input.candidates) {
    if (found.has(candidate.uid)) continue
    const dest = open.find((m) => !taken.has(m.uid) && listing(m) === listing(candidate))
    if (!dest) continue
    found.set(candidate.uid, dest.uid)
    taken.add(dest.uid)
    report(candidate.uid, dest.uid)
  }
}

type Hasher = (store: Store, path: string, uids: number[]) => Promise<Map<number, string>>

async function hashBoth(input: RecogniseInput, groups: UidGroup[], hasher: Hasher) {
  const [source, dest] = await Promise.all([
    hasher(input.source, input.sourcePath, openUids(groups, 'source')),
    hasher(input.dest, input.destPath, openUids(groups, 'dest')),
  ])
  return {source, dest}
}

function spread<T>(pair: {source: T; dest: T}): [T, T] {
  return [pair.source, pair.dest]
}
