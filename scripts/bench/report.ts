/**
 * The bench's figures, its Markdown table and its chart (a hand-written SVG: bars of messages per
 * second for each tool, one group per network setting).
 */
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {availableParallelism, cpus, loadavg, release, totalmem} from 'node:os'

import {DOVECOT_BIN} from '../../test/harness/dovecot.js'
import {MB} from './corpus.js'
import type {Measured} from './measure.js'

export interface RunFigures {
  /** What was measured, for the table. */
  label: string
  /** Messages copied/appended (for re-runs: messages looked at). */
  messages: number
  bytes: number
  /** Wall time of the whole process (start, login, work, logout), or of the in-process run. */
  wallMs: number
  /** The run's own duration from its JSON report, when it has one. */
  reportedMs?: number
  /** CPU time of the process (user + system), when it is a process of its own. */
  cpuMs?: number
  msgPerSec: number
  mbPerSec: number
  peakRssReportedBytes?: number
  peakRssVmHwmBytes?: number
  flagsUpdated?: number
  exitCode?: number | null
  /** All samples' wall times when repeated; the figures above are the median's. */
  samplesMs?: number[]
  /** What went wrong without stopping the bench (a peer that left messages behind). */
  notes?: string[]
}

export const round = (n: number, digits: number) => Number(n.toFixed(digits))

export function figures(label: string, messages: number, bytes: number, wallMs: number, extra: Partial<RunFigures> = {}): RunFigures {
  return {
    label,
    messages,
    bytes,
    wallMs: Math.round(wallMs),
    msgPerSec: round(messages / (wallMs / 1000), 1),
    mbPerSec: round(bytes / MB / (wallMs / 1000), 2),
    ...extra,
  }
}

/** A measured process (mailferry with its --json report, or a peer tool). */
export function fromProcess(label: string, run: Measured, messages: number, bytes: number): RunFigures {
  return figures(label, messages, bytes, run.wallMs, {
    reportedMs: run.json?.durationMs,
    cpuMs: run.cpuMs,
    peakRssReportedBytes: run.json?.peakRssBytes,
    peakRssVmHwmBytes: run.vmHwmBytes,
    flagsUpdated: run.json?.totals?.flagsUpdated,
    exitCode: run.code,
  })
}

/** The median of repeated runs, by wall time, with every sample's wall time when there are several. */
export function median<T>(runs: T[], wallMs: (run: T) => number): {run: T; samplesMs?: number[]} {
  const sorted = [...runs].sort((a, b) => wallMs(a) - wallMs(b))
  return {run: sorted[Math.floor((sorted.length - 1) / 2)], samplesMs: runs.length > 1 ? runs.map((run) => Math.round(wallMs(run))) : undefined}
}

export function machine(mailDir: string) {
  const cpuModel = /model name\s*:\s*(.*)/.exec(safeRead('/proc/cpuinfo'))?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown'
  return {
    nproc: availableParallelism(),
    cpu: cpuModel,
    ramBytes: totalmem(),
    node: process.version,
    dovecot: version(DOVECOT_BIN, ['--version']),
    mbsync: version('mbsync', ['--version']),
    kernel: release(),
    loadavg: loadavg().map((n) => round(n, 2)),
    mail: {dir: mailDir, fs: fileSystemOf(mailDir)},
  }
}

/** The type of the mount holding dir (the longest mount point that is a prefix of it), from /proc/mounts. */
function fileSystemOf(dir: string): string {
  let best = {point: '', type: 'unknown'}
  for (const line of safeRead('/proc/mounts').split('\n')) {
    const [, point, type] = line.split(' ')
    if (point && type && (dir === point || dir.startsWith(point.endsWith('/') ? point : `${point}/`)) && point.length > best.point.length) best = {point, type}
  }
  return best.type
}

function version(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, {encoding: 'utf8'}).trim().split('\n')[0]
  } catch {
    return 'not installed'
  }
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

const mib = (bytes: number | undefined) => (bytes === undefined ? '-' : `${Math.round(bytes / 1024 / 1024)} MiB`)
const secs = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`)
const pct = (ratio: number | undefined) => (ratio === undefined ? '-' : `${(ratio * 100).toFixed(0)}%`)

export interface Section {
  title: string
  corpus: {messages: number; bytes: number; folders: Record<string, number>; largeMb?: number[]; source: string}
  runs: Record<string, RunFigures>
  /** Speed ratios of mailferry's first sync (its wall time against theirs: above 1 is faster). */
  ratios: Record<string, number | undefined>
}

function table(section: Section): string[] {
  const c = section.corpus
  return [
    `### ${section.title}`,
    '',
    `Corpus: ${c.source}; ${c.messages} messages, ${(c.bytes / MB).toFixed(1)} MB (mean ${Math.round(c.bytes / Math.max(1, c.messages))} B` +
      `${c.largeMb?.length ? `, including ${c.largeMb.map((n) => `${n} MB`).join(', ')}` : ''}) in ${Object.keys(c.folders).length} folders.`,
    '',
    '| run | messages | MB | wall time | CPU | msg/s | MB/s | peak RSS |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...Object.values(section.runs).map((r) =>
      `| ${r.label} | ${r.messages}${r.flagsUpdated ? ` (+${r.flagsUpdated} flag updates)` : ''} | ${(r.bytes / MB).toFixed(1)} | ${secs(r.wallMs)}` +
        `${r.reportedMs !== undefined ? ` (${secs(r.reportedMs)} in-run)` : ''}${r.samplesMs ? ` [${r.samplesMs.map((ms) => (ms / 1000).toFixed(2)).join(', ')}]` : ''}` +
        ` | ${secs(r.cpuMs)} | ${r.msgPerSec} | ${r.mbPerSec} | ${mib(r.peakRssVmHwmBytes ?? r.peakRssReportedBytes)} |`),
    '',
    `mailferry's first sync: ${pct(section.ratios.limit)} of the limit's speed` +
      (section.ratios.mbsync !== undefined ? `, ${section.ratios.mbsync.toFixed(2)}× mbsync's speed` : '') +
      (section.ratios.imapsync !== undefined ? `, ${section.ratios.imapsync.toFixed(2)}× imapsync's speed` : '') +
      (section.ratios.rawAppend !== undefined ? `, ${pct(section.ratios.rawAppend)} of imapflow's raw APPEND speed` : '') +
      ' (wall times of whole processes, start-up and login included).',
    ...Object.values(section.runs).flatMap((r) => r.notes ?? []).map((note) => `Note: ${note}.`),
    '',
  ]
}

export function markdown(result: {date: string; machine: ReturnType<typeof machine>; loadavgAfter: number[]; concurrency: number; repeat: number; skipped: string[]; sections: Section[]}): string {
  const m = result.machine
  return [
    `## mailferry benchmark, ${result.date.slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpu}, ${Math.round(m.ramBytes / 1024 ** 3)} GiB RAM, node ${m.node}, Dovecot ${m.dovecot}, ${m.mbsync}, Linux ${m.kernel}; ` +
      `load average before/after: ${m.loadavg.join(' ')} / ${result.loadavgAfter.join(' ')}. Both servers on 127.0.0.1 (maildir in ${m.mail.dir}, ${m.mail.fs}; fsync off); ` +
      `mailferry --concurrency ${result.concurrency}${result.repeat > 1 ? `; first syncs are the median of ${result.repeat} runs (all samples in brackets)` : ''}.` +
      (result.skipped.length ? ` Skipped: ${result.skipped.join('; ')}.` : ''),
    '',
    ...result.sections.flatMap(table),
  ].join('\n')
}

/** Bars of msg/s for the first-sync rows of each section; hand-written SVG, no dependency. */
export function chart(sections: Section[], keys: Array<[string, string]>): string {
  const rowHeight = 22
  const labelWidth = 250
  const barWidth = 460
  const width = labelWidth + barWidth + 170
  const colors: Record<string, string> = {limit: '#7f7f7f', firstSync: '#1f77b4', mbsync: '#ff7f0e', imapsync: '#2ca02c', rawAppend: '#bcbd22', compare: '#9467bd', oneConnection: '#17becf'}
  const parts: string[] = []
  let y = 30
  for (const section of sections) {
    const rows = keys.filter(([key]) => section.runs[key])
    const max = Math.max(...rows.map(([key]) => section.runs[key].msgPerSec), 1)
    parts.push(`<text x="10" y="${y}" font-weight="bold">${escape(section.title)}</text>`)
    y += 10
    for (const [key, name] of rows) {
      const run = section.runs[key]
      const w = Math.max(1, Math.round((run.msgPerSec / max) * barWidth))
      parts.push(
        `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escape(name)}</text>`,
        `<rect x="${labelWidth}" y="${y + 3}" width="${w}" height="${rowHeight - 6}" fill="${colors[key] ?? '#444'}"/>`,
        `<text x="${labelWidth + w + 6}" y="${y + 15}">${run.msgPerSec} msg/s, ${(run.wallMs / 1000).toFixed(2)} s</text>`,
      )
      y += rowHeight
    }
    y += 24
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...parts,
    `<text x="10" y="${y - 8}" font-size="10" fill="#666">first sync, messages per second (longer is faster); wall time of each whole run</text>`,
    '</svg>',
    '',
  ].join('\n')
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
