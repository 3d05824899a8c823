/**
 * The human end-of-run report, rendered from the engine's RunResult. Pure: returns text, prints nothing.
 */
import {ExitCode} from '../errors.js'
import type {FolderResult, RunResult} from '../sync/events.js'
import type {BudgetReport} from '../sync/quota.js'
import {formatByteRate, formatBytes, formatDuration, formatRate, renderTable} from './format.js'

/** How many message failures are listed before "... and N more". */
export const MAX_LISTED_FAILURES = 50

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

function exitLine(result: RunResult): string {
  const failed = result.totals.failed
  if (result.exitCode === ExitCode.partial && failed > 0) {
    return `exit 1: ${plural(failed, 'message')} failed, see above; re-run to retry them`
  }
  return `exit ${result.exitCode}: ${result.exitMeaning}`
}

function folderTable(result: RunResult): string {
  const headers = ['Source folder', 'Destination folder', 'Copied', 'Already there', 'Failed', 'Flags updated', 'Size']
  const align = ['left', 'left', 'right', 'right', 'right', 'right', 'right'] as const
  const row = (f: FolderResult): string[] => [
    f.error ? `${f.source} (error)` : f.source,
    f.created ? `${f.dest} (created)` : f.dest,
    String(f.copied),
    String(f.alreadyPresent),
    String(f.failed),
    String(f.flagsUpdated),
    formatBytes(f.bytes),
  ]
  const t = result.totals
  const footer = ['Total', '', String(t.copied), String(t.alreadyPresent), String(t.failed), String(t.flagsUpdated), formatBytes(t.bytes)]
  return renderTable(headers, result.folders.map(row), [...align], footer)
}

/** Distinct warnings in first-seen order, with a count when repeated. */
function dedupe(lines: string[]): string[] {
  const counts = new Map<string, number>()
  for (const line of lines) counts.set(line, (counts.get(line) ?? 0) + 1)
  return [...counts].map(([line, n]) => (n > 1 ? `${line} (${n} times)` : line))
}

/** "destination: 3 operations were retried after a lost connection or server pushback". */
function storeWarnings(result: RunResult): string[] {
  const out: string[] = []
  for (const [side, stats] of [['source', result.stores.source], ['destination', result.stores.dest]] as const) {
    if (stats.retries > 0) {
      out.push(`${side}: ${stats.retries} ${stats.retries === 1 ? 'operation was' : 'operations were'} retried after a lost connection or server pushback`)
    }
    if (stats.droppedSessions > 0) {
      const sessions = stats.droppedSessions === 1 ? 'session was' : 'sessions were'
      out.push(`${side}: ${stats.droppedSessions} ${sessions} lost (closed by the server or the network) and replaced`)
    }
  }
  return out
}

/** Per destination folder: keywords the engine left out (PERMANENTFLAGS) and those the store could not keep. */
function droppedKeywordLines(result: RunResult): string[] {
  const lines: string[] = []
  for (const f of result.folders) {
    const counted = Object.entries(f.droppedKeywords)
      .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
      .map(([keyword, n]) => `${keyword} (${plural(n, 'message')})`)
    if (counted.length > 0) lines.push(`  ${f.dest}: ${counted.join(', ')}`)
  }
  for (const [folder, keywords] of Object.entries(result.stores.dest.droppedKeywords)) {
    if (keywords.length > 0) lines.push(`  ${folder}: ${keywords.join(', ')} (no room left in the folder)`)
  }
  return lines
}

/** What the budgets' windows hold now, what is left and how long it takes at their pace. */
export function budgetLines(budget: BudgetReport): string[] {
  const out = ['Budgets (rolling windows, this run and earlier ones):']
  for (const [side, verb] of [['source', 'downloaded'], ['dest', 'uploaded']] as const) {
    const use = budget[side]
    if (!use) continue
    const parts: string[] = []
    if (use.bytesPerDay) parts.push(`${formatBytes(use.bytesPerDay.spent)} of ${formatBytes(use.bytesPerDay.limit)} in the last 24 h`)
    if (use.messagesPerHour) parts.push(`${use.messagesPerHour.spent} of ${use.messagesPerHour.limit} messages in the last hour`)
    out.push(`  ${side === 'source' ? 'source' : 'destination'}: ${verb} ${parts.join(', ')}`)
  }
  const {messages, bytes} = budget.left
  out.push(
    messages === 0
      ? '  Left to copy: nothing'
      : `  Left to copy: ${plural(messages, 'message')}, ${formatBytes(bytes)}: about ${budget.etaDays} ${budget.etaDays === 1 ? 'day' : 'days'} at the budgets' pace`,
  )
  const unlisted = budget.foldersNotListed ?? 0
  if (unlisted > 0) out.push(`  Not counted: what ${plural(unlisted, 'folder')} hold that the run stopped before listing`)
  return out
}

export function renderSummary(result: RunResult): string {
  const t = result.totals
  const out: string[] = [`mailferry: ${result.source} → ${result.dest}`, '']

  if (result.folders.length === 0) {
    out.push('No folders to copy.')
  } else {
    out.push(folderTable(result))
  }
  out.push('')

  const folderErrors = result.folders.filter((f) => f.error)
  if (t.copied === 0 && t.failed === 0 && folderErrors.length === 0 && !result.error && result.folders.length > 0) {
    out.push(
      `Nothing to do: all ${plural(t.alreadyPresent, 'message')} are already on the destination` +
        (t.notSelected > 0 ? ` (${t.notSelected} more left out by --max-age/--min-age/--max-size).` : '.'),
    )
    if (t.flagsUpdated > 0) out.push(`Flags updated on ${plural(t.flagsUpdated, 'message')}.`)
    if (t.sourceDeleted > 0) out.push(`Deleted ${plural(t.sourceDeleted, 'message')} on the source (--move): each copy was proven on the destination first.`)
  } else {
    out.push(
      `Totals: ${plural(t.copied, 'message')} copied, ${t.alreadyPresent} already there, ${t.failed} failed, ` +
        `${t.flagsUpdated} flags updated` +
        (t.moved > 0 ? `, ${t.moved} moved` : '') +
        (t.deleted > 0 ? `, ${t.deleted} deleted on the destination` : '') +
        (t.sourceDeleted > 0 ? `, ${t.sourceDeleted} deleted on the source (--move, copies proven)` : '') +
        (t.notSelected > 0 ? `, ${t.notSelected} left out by --max-age/--min-age/--max-size` : '') +
        `, in ${plural(result.folders.length, 'folder')}`,
    )
  }
  out.push(
    `Transferred ${formatBytes(t.bytes)} in ${formatDuration(result.durationMs)} ` +
      `(${formatRate(t.copied, result.durationMs, 'msg')}, ${formatByteRate(t.bytes, result.durationMs)}); ` +
      `${plural(result.foldersCreated, 'folder')} created` +
      (result.foldersSubscribed ? `, ${result.foldersSubscribed} subscribed` : ''),
  )
  out.push(`State database: ${result.statePath}`)

  const warnings = [...result.warnings, ...storeWarnings(result)]
  if (warnings.length > 0) {
    out.push('', 'Warnings:', ...dedupe(warnings).map((w) => `  ${w}`))
  }

  if (folderErrors.length > 0) {
    out.push('', `Folders not copied (${folderErrors.length}):`, ...folderErrors.map((f) => `  ${f.source}: ${f.error}`))
  }

  if (result.failures.length > 0) {
    out.push('', `Failed messages (${result.failures.length}):`)
    for (const f of result.failures.slice(0, MAX_LISTED_FAILURES)) out.push(`  ${f.folder} UID ${f.uid}: ${f.reason}`)
    const more = result.failures.length - MAX_LISTED_FAILURES
    if (more > 0) out.push(`  ... and ${more} more`)
  }

  const repaired = result.repaired ?? []
  if (repaired.length > 0) {
    out.push('', `Refused, then stored repaired (${repaired.length}; recorded in the state database):`)
    for (const r of repaired.slice(0, MAX_LISTED_FAILURES)) out.push(`  ${r.folder} UID ${r.uid}: ${r.repairs.join(', ')} (refused: ${r.reason})`)
    if (repaired.length > MAX_LISTED_FAILURES) out.push(`  ... and ${repaired.length - MAX_LISTED_FAILURES} more`)
  }

  const dropped = droppedKeywordLines(result)
  if (dropped.length > 0) out.push('', 'Keywords the destination could not store (dropped):', ...dropped)

  if (result.budget) out.push('', ...budgetLines(result.budget))
  if (result.error) out.push('', `Stopped early: ${result.error}`, ...(result.hint ? [`Hint: ${result.hint}`] : []))
  out.push('', exitLine(result))
  return out.join('\n') + '\n'
}
