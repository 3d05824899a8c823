/**
 * Finds which source messages are already on the destination among the destination messages that no
 * state row claims (see match.ts for the three levels). Fetches only what each level needs:
 * headers of messages whose size and Message-ID collide, whole bodies only where headers collide too.
 */
import {createHash} from 'node:crypto'

import type {MessageMeta, Store} from '../stores/store.js'
import {normalizeFlags} from './flags.js'
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
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/** Returns source UID -> destination UID for every message found on the destination. */
export async function recognise(input: RecogniseInput): Promise<Map<number, number>> {
  const found = new Map<number, number>()
  if (input.candidates.length === 0 || input.unclaimed.length === 0) return found
  const keyed = (list: MessageMeta[]) => list.map((m) => ({uid: m.uid, key: coarseKey(m.size, m.messageId)}))

  const level1 = matchLevel(keyed(input.candidates), keyed(input.unclaimed), 'narrow')
  if (level1.open.length === 0) return found

  const headerKeys = await hashBoth(input, level1.open, async (store, path, uids) => {
    const headers = await store.fetchHeaders(path, uids)
    return new Map([...headers].map(([uid, block]) => [uid, sha256(block)]))
  })
  const level2 = matchLevel(...spread(rekey(level1.open, headerKeys)), 'unique')
  for (const [s, d] of level2.matched) found.set(s, d)
  if (level2.open.length === 0) return found

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
  for (const [s, d] of level3.matched) found.set(s, d)
  return found
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
