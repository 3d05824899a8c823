/** The human batch report (pure): one row per account, totals, peak sessions per host, the exit line. */
import {formatBytes, formatDuration, renderTable} from '../report/format.js'
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
  const peaks = Object.entries(report.peakConnectionsPerHost)
  if (peaks.length > 0) {
    const cap = report.maxConnectionsPerHost === null ? 'no cap' : `cap ${report.maxConnectionsPerHost}`
    lines.push(`Peak sessions per host (${cap}): ${peaks.map(([host, n]) => `${host} ${n}`).join(', ')}`)
  }
  lines.push(`Batch state: ${report.batchState}`)
  lines.push(`exit ${report.exitCode}: ${report.exitMeaning}`)
  return lines.join('\n')
}
