/**
 * Proves, on the servers and at the moment of acting, that a source message's copy is on the
 * destination. Every destructive step of --move asks this first: the state database says what was
 * copied once, not what is there now (a retention policy, a user or a restored snapshot may have
 * removed the copy since). See docs/design.md, "Deletions prove their precondition".
 *
 * A copy is proven when, under the UIDVALIDITY the row was recorded with, its destination UID holds
 * a message with the row's size and Message-ID whose header block is byte-identical to the source
 * message's (and to the recorded header hash, where there is one). A row without a destination UID
 * (a server without UIDPLUS, or a UID lost to renumbering) is proven only by a byte-exact match of
 * the whole message with a destination message no other row claims.
 */
import {sha256} from '../digest.js'
import type {MessageRow} from '../state/rows.js'
import {headerHashes, type MessageMeta, type Store} from '../stores/store.js'
import {coarseKey} from './match.js'

export interface ProofInput {
  source: Store
  dest: Store
  sourcePath: string
  destPath: string
  /** The destination UIDVALIDITY the rows' UIDs belong to. */
  destUidValidity: number | null
  /** Destination UIDs claimed by rows not being proven (never taken for a row without a UID). */
  claimedElsewhere: Set<number>
  /** The hashes recorded for a message stored repaired (--repair), whose copy differs from it by design. */
  repaired?: (sourceUid: number) => {originalSha256: string; storedSha256: string; stored: boolean} | undefined
}

export interface CopyProof {
  /** Rows whose copy is there now; destUid is filled in for rows that had none. */
  proven: MessageRow[]
  /** Rows whose copy is not (or not provably) there, with why. */
  unproven: Array<{row: MessageRow; reason: string}>
}

export async function proveCopies(input: ProofInput, rows: MessageRow[]): Promise<CopyProof> {
  const proof: CopyProof = {proven: [], unproven: []}
  if (rows.length === 0) return proof
  const status = await input.dest.status(input.destPath)
  if (status.uidValidity !== input.destUidValidity) {
    const reason = `the destination folder's UIDVALIDITY changed (${input.destUidValidity} -> ${status.uidValidity})`
    return {proven: [], unproven: rows.map((row) => ({row, reason}))}
  }
  const isRepaired = (row: MessageRow) => row.destUid !== null && input.repaired?.(row.sourceUid)?.stored === true
  const withUid = rows.filter((row) => row.destUid !== null && !isRepaired(row))
  const withoutUid = rows.filter((row) => row.destUid === null)
  await proveRepaired(input, rows.filter(isRepaired), proof)
  await proveByUid(input, withUid, proof)
  if (withoutUid.length > 0) await proveByContent(input, withoutUid, proof)
  return proof
}

/** The recorded UID holds the same size, Message-ID and header block. */
async function proveByUid(input: ProofInput, rows: MessageRow[], proof: CopyProof): Promise<void> {
  if (rows.length === 0) return
  const destMeta = new Map((await input.dest.listMeta(input.destPath, rows.map((row) => row.destUid!))).map((m) => [m.uid, m]))
  const listed: MessageRow[] = []
  for (const row of rows) {
    const meta = destMeta.get(row.destUid!)
    if (!meta) proof.unproven.push({row, reason: `its copy (destination UID ${row.destUid}) is no longer on the destination`})
    else if (coarseKey(meta.size, meta.messageId) !== coarseKey(row.size, row.messageId)) {
      proof.unproven.push({row, reason: `destination UID ${row.destUid} now holds another message (size or Message-ID differ)`})
    } else listed.push(row)
  }
  if (listed.length === 0) return
  const [sourceHashes, destHashes] = await Promise.all([
    headerHashes(input.source, input.sourcePath, listed.map((row) => row.sourceUid)),
    headerHashes(input.dest, input.destPath, listed.map((row) => row.destUid!)),
  ])
  for (const row of listed) {
    const source = sourceHashes.get(row.sourceUid)
    const dest = destHashes.get(row.destUid!)
    if (!source) proof.unproven.push({row, reason: 'the source message vanished while its copy was checked'})
    else if (!dest) proof.unproven.push({row, reason: `its copy (destination UID ${row.destUid}) vanished while it was checked`})
    else if (source !== dest || (row.headerHash !== null && row.headerHash !== dest)) {
      proof.unproven.push({row, reason: `destination UID ${row.destUid} has other headers than the source message`})
    } else proof.proven.push(row)
  }
}

/**
 * A repaired copy: its destination UID holds exactly the bytes recorded as stored, and the source
 * message is still the one that was repaired (both whole messages hashed).
 */
async function proveRepaired(input: ProofInput, rows: MessageRow[], proof: CopyProof): Promise<void> {
  for (const row of rows) {
    const record = input.repaired!(row.sourceUid)!
    const [source, copy] = await Promise.all([
      input.source.fetchMessage(input.sourcePath, row.sourceUid),
      input.dest.fetchMessage(input.destPath, row.destUid!),
    ])
    if (!source) proof.unproven.push({row, reason: 'the source message vanished while its copy was checked'})
    else if (!copy) proof.unproven.push({row, reason: `its repaired copy (destination UID ${row.destUid}) is no longer on the destination`})
    else if (sha256(copy.raw) !== record.storedSha256 || sha256(source.raw) !== record.originalSha256) {
      proof.unproven.push({row, reason: `destination UID ${row.destUid} is not the repaired copy recorded for it`})
    } else proof.proven.push(row)
  }
}

/** No UID recorded: a destination message nobody claims, byte-identical to the source message. */
async function proveByContent(input: ProofInput, rows: MessageRow[], proof: CopyProof): Promise<void> {
  const taken = new Set([...input.claimedElsewhere, ...proof.proven.map((row) => row.destUid!)])
  const open = (await input.dest.listMeta(input.destPath)).filter((m) => !taken.has(m.uid))
  const byKey = new Map<string, MessageMeta[]>()
  for (const meta of open) {
    const key = coarseKey(meta.size, meta.messageId)
    byKey.set(key, [...(byKey.get(key) ?? []), meta])
  }
  for (const row of rows) {
    const reason = 'no byte-identical copy found on the destination (its destination UID is not known)'
    const candidates = (byKey.get(coarseKey(row.size, row.messageId)) ?? []).filter((m) => !taken.has(m.uid))
    if (candidates.length === 0) {
      proof.unproven.push({row, reason})
      continue
    }
    const source = await input.source.fetchMessage(input.sourcePath, row.sourceUid)
    if (!source) {
      proof.unproven.push({row, reason: 'the source message vanished while its copy was checked'})
      continue
    }
    const want = sha256(source.raw)
    let found: number | undefined
    for (const candidate of candidates) {
      const copy = await input.dest.fetchMessage(input.destPath, candidate.uid)
      if (copy && sha256(copy.raw) === want) {
        found = candidate.uid
        break
      }
    }
    if (found === undefined) proof.unproven.push({row, reason})
    else {
      taken.add(found)
      proof.proven.push({...row, destUid: found})
    }
  }
}
