/**
 * Checks the state's claims "source UID -> destination UID" against what the destination holds now.
 *
 * Why: after an APPEND was cut off, the server may have renumbered what it stored meanwhile (Dovecot
 * Maildir; the whole story is in docs/design.md, "Recorded UIDs are checked after a cut-off APPEND").
 * Trusting a stale claim hides the copy from recognition (a duplicate) and misdirects flag changes.
 *
 * A claim holds when the destination message at that UID has the row's size and Message-ID (the
 * level-1 key of match.ts: a copy is byte-exact, so both are preserved).
 */
import type {MessageRow} from '../state/rows.js'
import type {MessageMeta} from '../stores/store.js'
import {coarseKey} from './match.js'

export interface ClaimCheck {
  /** Destination UIDs held by a row whose claim holds. */
  held: Set<number>
  /** Source UIDs whose destination UID now holds a different message: the claim is wrong. */
  wrong: number[]
  /** Source UIDs whose destination UID no longer exists (renumbered, or deleted on the destination). */
  gone: number[]
}

export function checkClaims(rows: Iterable<MessageRow>, destMeta: MessageMeta[]): ClaimCheck {
  const destByUid = new Map(destMeta.map((m) => [m.uid, m]))
  const result: ClaimCheck = {held: new Set(), wrong: [], gone: []}
  for (const row of rows) {
    if (row.status === 'pending' || row.status === 'failed' || row.destUid === null) continue
    const dest = destByUid.get(row.destUid)
    // --move's rows ('moving', tombstones) hold their copy while it is there; they are never re-matched.
    if (row.status === 'moved' || row.status === 'moving') {
      if (dest && coarseKey(dest.size, dest.messageId) === coarseKey(row.size, row.messageId)) result.held.add(row.destUid)
      continue
    }
    if (!dest) result.gone.push(row.sourceUid)
    else if (coarseKey(dest.size, dest.messageId) !== coarseKey(row.size, row.messageId)) result.wrong.push(row.sourceUid)
    // Two rows claiming one UID: the first keeps it, the other is re-matched.
    else if (result.held.has(row.destUid)) result.wrong.push(row.sourceUid)
    else result.held.add(row.destUid)
  }
  return result
}
