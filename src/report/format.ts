/**
 * Pure text helpers for the human reports (progress lines, end-of-run summary). No colours, no deps.
 */

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** 512 -> "512 B", 9_856_000 -> "9.4 MiB" (binary units, one decimal above bytes). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) n = 0
  let value = n
  let unit = 0
  // Compare the rounded value, so 1023.96 KiB is shown as "1.0 MiB", not "1024.0 KiB".
  const shown = (): number => (unit === 0 ? Math.round(value) : Number(value.toFixed(1)))
  while (unit < BYTE_UNITS.length - 1 && shown() >= 1024) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${BYTE_UNITS[unit]}`
}

const pad2 = (n: number): string => String(n).padStart(2, '0')

/** 1234 -> "1.2 s", 185_000 -> "3 min 05 s", 3_720_000 -> "1 h 02 min". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) ms = 0
  if (ms < 59_950) return `${(ms / 1000).toFixed(1)} s`
  const seconds = Math.round(ms / 1000)
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${pad2(seconds % 60)} s`
  const minutes = Math.round(ms / 60_000)
  return `${Math.floor(minutes / 60)} h ${pad2(minutes % 60)} min`
}

/** A per-second rate: 210 for 10+ per second, one decimal below ("2.5"). */
function formatPerSecond(perSecond: number): string {
  return perSecond >= 10 ? String(Math.round(perSecond)) : perSecond.toFixed(1)
}

/** formatRate(420, 2000, 'msg') -> "210 msg/s"; "- msg/s" when no time has passed. */
export function formatRate(count: number, ms: number, unit: string): string {
  if (!(ms > 0)) return `- ${unit}/s`
  return `${formatPerSecond((count * 1000) / ms)} ${unit}/s`
}

/** formatByteRate(2_621_440, 2000) -> "1.3 MiB/s"; "- B/s" when no time has passed. */
export function formatByteRate(bytes: number, ms: number): string {
  if (!(ms > 0)) return '- B/s'
  return `${formatBytes((bytes * 1000) / ms)}/s`
}

/** Length in code points, so a folder name with astral characters is not over-counted. */
export function textLength(s: string): number {
  let n = 0
  for (const _ of s) n++
  return n
}

/** Cut s to at most width code points, keeping its end ("…ive/2019/Projects"): folder paths differ at the end. */
export function truncateStart(s: string, width: number): string {
  const chars = [...s]
  if (chars.length <= width) return s
  if (width <= 0) return ''
  return '…' + chars.slice(chars.length - width + 1).join('')
}

export type Align = 'left' | 'right'

/**
 * A plain monospace table: header, dashed rule, rows, and an optional footer (e.g. totals) under a
 * second rule. Columns are separated by two spaces; trailing spaces are trimmed. No final newline.
 */
export function renderTable(headers: string[], rows: string[][], align: Align[] = [], footer?: string[]): string {
  const all = footer ? [headers, ...rows, footer] : [headers, ...rows]
  const widths = headers.map((_, col) => Math.max(...all.map((row) => textLength(row[col] ?? ''))))
  const line = (row: string[]): string =>
    widths
      .map((width, col) => {
        const cell = row[col] ?? ''
        const fill = ' '.repeat(width - textLength(cell))
        return align[col] === 'right' ? fill + cell : cell + fill
      })
      .join('  ')
      .trimEnd()
  const rule = widths.map((width) => '-'.repeat(width)).join('  ')
  const out = [line(headers), rule, ...rows.map(line)]
  if (footer) out.push(rule, line(footer))
  return out.join('\n')
}
