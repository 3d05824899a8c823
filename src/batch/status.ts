/**
 * `mailferry status`: what one account's state database says, without connecting anywhere.
 * Opened read-only (state/reader.ts checks the file and its schema first; nothing is created,
 * migrated or locked, so a running sync may write beside it).
 */
import Database from 'better-sqlite3'

import {StateError} from '../errors.js'
import {formatBytes, renderTable} from '../report/format.js'
import {openStateReader} from '../state/reader.js'

export interface FolderStatus {
  source: string
  dest: string
  copied: number
  /** Rows written before an APPEND whose outcome is not known yet, plus source messages not yet recorded (when the last complete sync counted them). */
  pending: number
  failed: number
  bytes: number
  lastSyncedAt: string | null
}

export interface AccountStatus {
  statePath: string
  /** false: no state database yet (never run). */
  exists: boolean
  source?: string
  dest?: string
  lastRun?: {startedAt: string; finishedAt: string | null; outcome: string | null; copied: number; failed: number; error: string | null}
  /** outcome of the last run: ok / partial / error / running-or-killed (started, never finished). */
  lastOutcome?: string
  folders: FolderStatus[]
  totals: {copied: number; pending: number; failed: number; bytes: number}
}

export function readAccountStatus(path: string): AccountStatus {
  const empty: AccountStatus = {statePath: path, exists: false, folders: [], totals: {copied: 0, pending: 0, failed: 0, bytes: 0}}
  const reader = openStateReader(path)
  if (!reader) return empty
  const accounts = reader.accounts
  reader.close()
  let db: Database.Database
  try {
    db = new Database(path, {readonly: true, fileMustExist: true})
  } catch (error) {
    throw new StateError(`state database ${path}: ${(error as Error).message}`, {cause: error})
  }
  try {
    db.pragma('busy_timeout = 5000')
    const rows = db
      .prepare(
        `SELECT p.source_path AS source, p.dest_path AS dest, p.last_synced_at AS lastSyncedAt, p.source_messages AS sourceMessages,
                COALESCE(SUM(m.status = 'copied'), 0) AS copied, COALESCE(SUM(m.status = 'pending'), 0) AS pending,
                COALESCE(SUM(m.status = 'failed'), 0) AS failed, COALESCE(SUM(CASE WHEN m.status = 'copied' THEN m.size ELSE 0 END), 0) AS bytes
           FROM folder_pairs p LEFT JOIN messages m ON m.pair_id = p.id
          GROUP BY p.id ORDER BY p.source_path`,
      )
      .all() as Array<{source: string; dest: string; lastSyncedAt: string | null; sourceMessages: number | null; copied: number; pending: number; failed: number; bytes: number}>
    const folders = rows.map((r): FolderStatus => {
      const unrecorded = r.sourceMessages === null ? 0 : Math.max(0, r.sourceMessages - r.copied - r.failed - r.pending)
      return {source: r.source, dest: r.dest, copied: r.copied, pending: r.pending + unrecorded, failed: r.failed, bytes: r.bytes, lastSyncedAt: r.lastSyncedAt}
    })
    const run = db
      .prepare('SELECT started_at AS startedAt, finished_at AS finishedAt, outcome, copied, failed, error FROM runs ORDER BY id DESC LIMIT 1')
      .get() as AccountStatus['lastRun'] | undefined
    const sum = (pick: (f: FolderStatus) => number) => folders.reduce((n, f) => n + pick(f), 0)
    return {
      statePath: path,
      exists: true,
      ...(accounts ? {source: accounts.source, dest: accounts.dest} : {}),
      ...(run ? {lastRun: run, lastOutcome: run.outcome ?? 'running or killed'} : {}),
      folders,
      totals: {copied: sum((f) => f.copied), pending: sum((f) => f.pending), failed: sum((f) => f.failed), bytes: sum((f) => f.bytes)},
    }
  } finally {
    db.close()
  }
}

/** Plain text: one table per account (folders), then a summary line. */
export function renderStatus(statuses: Array<AccountStatus & {batchOutcome?: string; label?: string}>): string {
  const out: string[] = []
  for (const s of statuses) {
    const who = s.label ?? (s.source && s.dest ? `${s.source} -> ${s.dest}` : s.statePath)
    if (!s.exists) {
      out.push(`${who}: no state database at ${s.statePath}${s.batchOutcome ? `; batch: ${s.batchOutcome}` : ' (never run)'}`, '')
      continue
    }
    const last = s.lastRun
      ? `last run ${s.lastRun.startedAt}${s.lastRun.finishedAt ? ` - ${s.lastRun.finishedAt}` : ''}: ${s.lastOutcome}${s.lastRun.error ? ` (${s.lastRun.error})` : ''}`
      : 'no run recorded'
    out.push(`${who}: ${last}${s.batchOutcome ? `; batch: ${s.batchOutcome}` : ''}`)
    const rows = s.folders.map((f) => [f.source, f.dest, String(f.copied), String(f.pending), String(f.failed), formatBytes(f.bytes), f.lastSyncedAt ?? '-'])
    const t = s.totals
    out.push(
      renderTable(['Source folder', 'Destination folder', 'Copied', 'Pending', 'Failed', 'Size', 'Last synced'], rows, ['left', 'left', 'right', 'right', 'right', 'right', 'left'], [
        'Total',
        '',
        String(t.copied),
        String(t.pending),
        String(t.failed),
        formatBytes(t.bytes),
        '',
      ]),
      '',
    )
  }
  return out.join('\n').trimEnd()
}
