/**
 * The human report of `mailferry check`, rendered from its CheckResult. Pure: returns text.
 */
import type {FlaggedMessage} from '../check/inspector.js'
import type {CheckFolder, CheckResult, QuotaCheck} from '../sync/check.js'
import {formatBytes, renderTable} from './format.js'

/** How many likely refused messages the human report lists before "... and N more". */
export const MAX_LISTED_MESSAGES = 100

const PROBLEM_WORDS: Record<string, string> = {
  'header-syntax': 'a header line that is not a header field',
  'header-8bit': 'raw 8-bit bytes in the header',
  nul: 'NUL bytes',
  'from-line': 'an mbox "From " line at the top',
  'from-header': 'a "From " line inside the header',
  'long-line': 'a line over the limit',
}

function nameCell(row: CheckFolder): string {
  if (row.refusedName) return `refused: ${row.refusedName}`
  return row.create ? 'new' : 'exists'
}

function quotaLine(q: QuotaCheck): string[] {
  const out: string[] = []
  const root = q.root === '' ? '(unnamed root)' : `"${q.root}"`
  if (q.storage) {
    const left = q.storage.limit - q.storage.usage
    out.push(
      `  ${root} storage: ${formatBytes(q.storage.usage)} used of ${formatBytes(q.storage.limit)}, ${formatBytes(Math.max(0, left))} free, ` +
        `${formatBytes(q.storage.toCopy)} to copy: ${q.storage.fits ? 'fits' : 'DOES NOT FIT'}`,
    )
  }
  if (q.messages) {
    out.push(
      `  ${root} messages: ${q.messages.usage} of ${q.messages.limit}, ${q.messages.toCopy} to copy: ${q.messages.fits ? 'fits' : 'DOES NOT FIT'}`,
    )
  }
  return out
}

export function renderCheck(result: CheckResult): string {
  const out: string[] = []
  out.push(`Checked ${result.source} -> ${result.dest}${result.deep ? ' (deep: whole messages inspected)' : ' (header blocks and sizes)'}. Nothing was written.`)
  const server = result.destServer ? `${result.destServer}, ` : ''
  out.push(`Destination: ${server}APPENDLIMIT ${result.appendLimit === undefined ? 'not announced' : formatBytes(result.appendLimit)}`, '')

  const headers = ['Source folder', 'Destination folder', 'Folder', 'To copy', 'Size', 'Over limit', 'Refused', 'Altered', 'Flags lost']
  const align = ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'left'] as const
  const rows = result.folders.map((row) => [
    row.error ? `${row.source} (error)` : row.source,
    row.dest,
    nameCell(row),
    String(row.toCopy),
    formatBytes(row.toCopySize),
    String(row.overLimit.length),
    String(row.flagged.filter((m) => m.verdict !== 'altered').length),
    String(row.flagged.filter((m) => m.verdict === 'altered').length),
    row.droppedFlags.join(' ') || '-',
  ])
  const t = result.totals
  const footer = ['Total', `${t.folders} folders`, `${t.refusedNames} refused`, String(t.toCopy), formatBytes(t.toCopySize), String(t.overLimit), String(t.likelyRefused), String(t.altered), t.droppedFlags > 0 ? `${t.droppedFlags} kinds` : '-']
  out.push(renderTable(headers, rows, [...align], footer))
  if (t.alreadyThere > 0) {
    out.push(`${t.alreadyThere} more ${t.alreadyThere === 1 ? 'message is' : 'messages are'} already on the destination (found by content, as a sync finds them): a sync records them and copies nothing.`)
  }

  out.push('', result.quotaKnown ? 'Quota (GETQUOTAROOT):' : 'Quota: the destination does not report one (no QUOTA capability, or no limit).')
  for (const q of result.quota) out.push(...quotaLine(q))

  const messages = result.folders.flatMap((f) => f.flagged)
  if (messages.length > 0) {
    const kinds = Object.entries(result.problems).map(([problem, n]) => `${n} with ${PROBLEM_WORDS[problem] ?? problem}`)
    const server = result.destServer ? '' : ' (the destination does not say which server it is: any of them may be refused)'
    out.push('', `Messages the destination refuses or alters (${messages.length}: ${kinds.join(', ')})${server}; Repair: what \`sync --repair\` would make of each:`)
    for (const note of result.notes) out.push(`  ${note}`)
    const listed = messages.slice(0, MAX_LISTED_MESSAGES)
    out.push(
      renderTable(
        ['Folder', 'UID', 'Verdict', 'Repair', 'Problem', 'Line', 'Excerpt'],
        listed.flatMap((m) => m.findings.map((f, i) => [i === 0 ? m.folder : '', i === 0 ? String(m.uid) : '', i === 0 ? m.verdict : '', i === 0 ? repairCell(m) : '', f.problem, String(f.line), f.excerpt])),
        ['left', 'right', 'left', 'left', 'left', 'right', 'left'],
      ),
    )
    for (const m of listed) for (const u of m.unrepaired) out.push(`  ${m.folder} UID ${m.uid}: ${u.repair} cannot repair it: ${u.reason}`)
    if (messages.length > listed.length) out.push(`... and ${messages.length - listed.length} more (--json lists them all)`)
  }
  const over = result.folders.filter((f) => f.overLimit.length > 0)
  if (over.length > 0) {
    out.push('', `Over the destination's size limit (APPENDLIMIT or maxMessageSize; refused): ${over.map((f) => `${f.source} UIDs ${f.overLimit.join(',')}`).join('; ')}`)
  }
  if (t.overMaxSize > 0) out.push('', `${t.overMaxSize} messages are over --max-size and would not be copied.`)
  if (result.warnings.length > 0) out.push('', 'Warnings:', ...result.warnings.map((w) => `  ${w}`))
  if (result.conflicts.length > 0) out.push('', 'Conflicts (a sync stops before writing anything):', ...result.conflicts.map((c) => `  ${c}`))
  out.push('', `exit ${result.exitCode}: ${result.exitMeaning}`)
  return out.join('\n') + '\n'
}

/** The repairs that would change a flagged message, and those that could not (marked "!"). */
function repairCell(m: FlaggedMessage): string {
  return [...m.repairs, ...m.unrepaired.map((u) => `!${u.repair}`)].join(',') || '-'
}
