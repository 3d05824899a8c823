/**
 * The human report of `mailferry verify`, rendered from its VerifyResult. Pure: returns text.
 */
import type {FolderVerdict} from '../verify/compare.js'
import type {VerifyResult} from '../verify/run.js'
import {formatBytes, formatDuration, renderTable} from './format.js'

/** How many differences the human report lists before "... and N more". */
export const MAX_LISTED_DIFFERENCES = 100

function status(v: FolderVerdict): string {
  if (v.error) return `error: ${v.error}`
  if (v.destMissing) return 'destination folder missing'
  const repaired = v.repaired ? `, repaired (${v.repaired})` : ''
  return (v.missing + v.extra + v.changed === 0 ? 'equal' : 'differs') + repaired
}

export function renderVerifyReport(result: VerifyResult): string {
  const out: string[] = []
  out.push(`Verified ${result.source} -> ${result.dest}${result.deep ? ' (deep: every message hashed)' : ''}`)
  out.push('')
  const headers = ['Source folder', 'Destination folder', 'Source', 'Destination', 'Missing', 'Extra', 'Changed', 'Result']
  const align = ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'left'] as const
  const rows = result.folders.map((v) => [
    v.source,
    v.dest,
    String(v.sourceMessages),
    v.destMissing ? '-' : String(v.destMessages),
    String(v.missing),
    String(v.extra),
    String(v.changed),
    status(v),
  ])
  const t = result.totals
  const footer = ['Total', '', String(t.sourceMessages), String(t.destMessages), String(t.missing), String(t.extra), String(t.changed), '']
  out.push(renderTable(headers, rows, [...align], footer))

  if (result.differences.length > 0) {
    out.push('', `Differences (${result.differences.length}); flags: +X = only the destination has X, -Y = the destination lacks Y:`)
    const listed = result.differences.slice(0, MAX_LISTED_DIFFERENCES)
    out.push(
      renderTable(
        ['Folder', 'Source UID', 'Destination UID', 'Difference'],
        listed.map((d) => [
          d.folder,
          d.sourceUid === null ? (d.kind === 'extra' ? 'extra' : '-') : String(d.sourceUid),
          d.destUid === null ? (d.kind === 'missing' ? 'missing' : '-') : String(d.destUid),
          d.text,
        ]),
        ['left', 'right', 'right', 'left'],
      ),
    )
    const more = result.differences.length - listed.length
    if (more > 0) out.push(`... and ${more} more (--json lists them all)`)
  }
  if (result.unmappedDestFolders.length > 0) {
    out.push('', `Not compared: destination folders no source folder maps to: ${result.unmappedDestFolders.join(', ')}`)
  }
  if (result.skippedSourceFolders.length > 0) {
    out.push(`Not compared: source folders the folder mapping leaves out: ${result.skippedSourceFolders.join(', ')}`)
  }
  for (const warning of result.warnings) out.push(`Warning: ${warning}`)
  out.push('')
  const hashed = result.deep ? `, ${formatBytes(t.bytesHashed)} hashed` : ''
  const repaired = t.repaired > 0 ? `, repaired (${t.repaired}) as the state database records${result.deep ? ' (stored SHA-256 checked)' : ''}` : ''
  out.push(`${t.folders} folder${t.folders === 1 ? '' : 's'}, ${t.equal} of ${t.sourceMessages} messages equal${repaired}${hashed}, ${formatDuration(result.durationMs)}`)
  out.push(`exit ${result.exitCode}: ${result.exitMeaning}`)
  return out.join('\n')
}
