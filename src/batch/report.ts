/** The human batch report (pure): one row per account, totals, peak sessions per host, the exit line. */
import {formatBytes, formatDuration, renderTable} from '../report/format.js'
import type {BatchCheckReport} from './check.js'
import type {BatchReport} from './run.js'

export function renderBatchReport(report: BatchReport): string {
  const headers = ['Source', 'Destination', 'Outcome', 'Exit', 'Copied', 'Size', 'Time', 'Error']
  const rows = report.accounts.map((a) => [
    a.source,
    a.dest,
    a.outcome,
    a.outcome === 'skipped' ? '-' : String(a.exitCode),
    String(a.copied),
    formatBytes(a.bytes),
    formatDuration(a.durationMs),
    a.error ? `${a.exitMeaning}: ${a.error}` : '',
  ])
  const t = report.totals
  const footer = ['Total', `${t.accounts} accounts`, `${t.ok} ok, ${t.partial} partial, ${t.failed} failed, ${t.skipped} skipped`, '', String(t.copied), formatBytes(t.bytes), formatDuration(t.durationMs), '']
  const lines = [renderTable(headers, rows, ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'left'], footer), '']
  lines.push(...peaksLine(report))
  lines.push(`Batch state: ${report.batchState}`)
  lines.push(`exit ${report.exitCode}: ${report.exitMeaning}`)
  return lines.join('\n')
}

/** The human `batch --check` report (pure): one row per account with what stands in its way, totals, the exit line. */
export function renderBatchCheck(report: BatchCheckReport): string {
  const headers = ['Source', 'Destination', 'Outcome', 'To copy', 'Size', 'Already there', 'In the way']
  const rows = report.accounts.map((a) => [
    a.source,
    a.dest,
    a.outcome,
    a.outcome === 'failed' ? '-' : String(a.toCopy),
    a.outcome === 'failed' ? '-' : formatBytes(a.toCopySize),
    a.outcome === 'failed' ? '-' : String(a.alreadyThere),
    a.error ? `${a.exitMeaning}: ${a.error}` : a.inTheWay.join('; ') || '-',
  ])
  const t = report.totals
  const footer = ['Total', `${t.accounts} accounts`, `${t.clear} clear, ${t.blocked} blocked, ${t.failed} failed`, String(t.toCopy), formatBytes(t.toCopySize), String(t.alreadyThere), '']
  const lines = [renderTable(headers, rows, ['left', 'left', 'left', 'right', 'right', 'right', 'left'], footer), '']
  lines.push(...peaksLine(report))
  lines.push('Nothing was written: no state database was created and batch.json was left as it is. `mailferry check` with an account\'s settings lists its folders and messages.')
  lines.push(`exit ${report.exitCode}: ${report.exitMeaning}`)
  return lines.join('\n')
}

function peaksLine(report: Pick<BatchReport, 'peakConnectionsPerHost' | 'maxConnectionsPerHost'>): string[] {
  const peaks = Object.entries(report.peakConnectionsPerHost)
  if (peaks.length === 0) return []
  const cap = report.maxConnectionsPerHost === null ? 'no cap' : `cap ${report.maxConnectionsPerHost}`
  return [`Peak sessions per host (${cap}): ${peaks.map(([host, n]) => `${host} ${n}`).join(', ')}`]
}
