/**
 * `mailferry status`: what one account's state database says, without connecting anywhere.
 * Opened read-only (state/reader.ts checks the file and its schema first; nothing is created,
 * migrated or locked, so a running sync may write beside it).
 */
import {formatBytes, renderTable} from '../report/format.js'
import {openStateReader, type LastRun} from '../state/reader.js'

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
  lastRun?: LastRun
  /** outcome of the last run: ok / partial / error / budget (stopped at a budget) / running-or-killed (started, never finished). */
  lastOutcome?: string
  folders: FolderStatus[]
  totals: {copied: number; pending: number; failed: number; bytes: number}
}

export function readAccountStatus(path: string): AccountStatus {
  const reader = openStateReader(path)
  if (!reader) return {statePath: path, exists: false, folders: [], totals: {copied: 0, pending: 0, failed: 0, bytes: 0}}
  try {
    const folders = reader.folderCounts().map((r): FolderStatus => {
      const unrecorded = r.sourceMessages === null ? 0 : Math.max(0, r.sourceMessages - r.copied - r.failed - r.pending)
      return {source: r.source, dest: r.dest, copied: r.copied, pending: r.pending + unrecorded, failed: r.failed, bytes: r.bytes, lastSyncedAt: r.lastSyncedAt}
    })
    const run = reader.lastRun()
    const sum = (pick: (f: FolderStatus) => number) => folders.reduce((n, f) => n + pick(f), 0)
    return {
      statePath: path,
      exists: true,
      ...(reader.accounts ? {source: reader.accounts.source, dest: reader.accounts.dest} : {}),
      ...(run ? {lastRun: run, lastOutcome: run.outcome ?? 'running or killed'} : {}),
      folders,
      totals: {copied: sum((f) => f.copied), pending: sum((f) => f.pending), failed: sum((f) => f.failed), bytes: sum((f) => f.bytes)},
    }
  } finally {
    reader.close()
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
