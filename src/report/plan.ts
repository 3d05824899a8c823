/**
 * The human form of `mailferry plan` / `sync --dry-run`, rendered from a PlanPreview. Pure: returns text.
 */
import type {Namespace} from '../plan/names.js'
import type {PlanPreview, PreviewFolder} from '../sync/preview.js'
import {formatBytes, renderTable} from './format.js'

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`
const count = (n: number | null): string => (n === null ? '-' : String(n))
const bytes = (n: number | null): string => (n === null ? '-' : formatBytes(n))

function destCell(row: PreviewFolder): string {
  if (row.dest === null) return '-'
  const marks = [row.create ? 'new' : '', row.subscribe ? 'subscribe' : ''].filter(Boolean)
  return marks.length > 0 ? `${row.dest} (${marks.join(', ')})` : row.dest
}

function describeNamespace(ns: Namespace): string {
  return `prefix ${ns.prefix === '' ? 'none' : JSON.stringify(ns.prefix)}, separator "${ns.delimiter}"`
}

export function renderPlan(preview: PlanPreview): string {
  const out: string[] = []
  out.push(preview.dryRun ? 'Dry run: nothing is written on either server, and no state database is created.' : 'Folder plan (nothing is written).')
  out.push(`Source:      ${preview.source} (${describeNamespace(preview.sourceNamespace)})`)
  out.push(`Destination: ${preview.dest} (${describeNamespace(preview.destNamespace)})`, '')

  const headers = ['Source folder', 'Destination folder', 'Rule', 'Messages', 'Size', 'Copied', 'To copy', 'To copy size']
  const align = ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right'] as const
  // \Noselect folders are only a level of the hierarchy: the JSON lists them, the table does not.
  const shown = preview.folders.filter((row) => row.rule !== 'noselect')
  const rows = shown.map((row) => [
    row.error ? `${row.source} (error)` : row.source,
    destCell(row),
    row.rule,
    count(row.messages),
    bytes(row.size),
    count(row.copied),
    count(row.toCopy),
    bytes(row.toCopySize),
  ])
  const t = preview.totals
  const footer = ['Total', plural(t.folders, 'folder'), '', String(t.messages), formatBytes(t.size), String(t.copied), String(t.toCopy), formatBytes(t.toCopySize)]
  out.push(renderTable(headers, rows, [...align], footer))

  const explained = shown.filter((row) => row.detail !== '')
  if (explained.length > 0) {
    out.push('', 'Rules:')
    for (const row of explained) out.push(`  ${row.source} -> ${row.dest ?? '(not copied)'}: ${row.rule}: ${row.detail}`)
  }
  out.push(
    '',
    `${plural(preview.create.length, 'folder')} to create, ${preview.subscribe.length} to subscribe.`,
    preview.stateFound
      ? `State database: ${preview.statePath} ("Copied" counts come from it).`
      : `State database: ${preview.statePath} (not there yet: nothing counted as copied; messages already on the destination are recognised during the sync).`,
  )
  if (preview.warnings.length > 0) out.push('', 'Warnings:', ...preview.warnings.map((w) => `  ${w}`))
  if (preview.conflicts.length > 0) {
    out.push('', 'Conflicts (a sync stops before writing anything):', ...preview.conflicts.map((c) => `  ${c}`))
  }
  out.push('', `exit ${preview.exitCode}: ${preview.exitMeaning}`)
  return out.join('\n') + '\n'
}
