/**
 * Live progress on stderr, driven by engine events (the engine never calls this module).
 * - bars:   a cli-progress MultiBar, one overall bar plus one per folder being copied (TTY);
 * - lines:  plain timestamped log lines, no redraws (cron, pipes);
 * - silent: nothing (--json).
 * Message events can arrive thousands of times a second, so the listener only bumps counters;
 * drawing happens on cli-progress's own throttled timer, or on the 'lines' interval.
 */
import cliProgress, {type SingleBar} from 'cli-progress'
import type {FolderResult, MessageFailure, SyncEvents, SyncListener} from '../sync/events.js'
import {formatByteRate, formatBytes, formatDuration, formatRate, truncateStart} from './format.js'

export type ProgressMode = 'bars' | 'lines' | 'silent'

export interface ProgressOptions {
  /** Where to draw: normally process.stderr. */
  stream: NodeJS.WriteStream
  mode: ProgressMode
  /** 'lines' mode: how often to print the overall progress line while copying (default 10 s). */
  lineIntervalMs?: number
  /** Clock, for tests (default Date.now). */
  now?: () => number
}

export interface ProgressReporter {
  listener: SyncListener
  /** Stop timers and restore the terminal; call it before printing the summary (idempotent). */
  stop(): void
}

/** Work counted for the overall total or for one folder. */
export interface Counter {
  label: string
  /** Messages to copy (known so far, for the overall counter). */
  total: number
  /** Copied + failed. */
  done: number
  failed: number
  bytes: number
  startedAt: number
}

const newCounter = (label: string, total: number, startedAt: number): Counter => ({label, total, done: 0, failed: 0, bytes: 0, startedAt})

function eta(c: Counter, elapsedMs: number): string {
  const remaining = c.total - c.done
  if (remaining <= 0) return formatDuration(0)
  if (c.done === 0 || elapsedMs < 1000) return '-'
  return formatDuration((remaining * elapsedMs) / c.done)
}

/** "350/1200 msg, 12.3 MiB, 210 msg/s, 1.1 MiB/s, ETA 4 min 02 s[, 2 failed]" */
function stats(c: Counter, now: number): string {
  const elapsed = now - c.startedAt
  const failed = c.failed > 0 ? `, ${c.failed} failed` : ''
  return (
    `${c.done}/${c.total} msg, ${formatBytes(c.bytes)}, ${formatRate(c.done, elapsed, 'msg')}, ` +
    `${formatByteRate(c.bytes, elapsed)}, ETA ${eta(c, elapsed)}${failed}`
  )
}

const percent = (c: Counter): number => (c.total > 0 ? Math.min(100, Math.floor((100 * c.done) / c.total)) : 100)

const failureText = (f: MessageFailure): string => `failed: ${f.folder} UID ${f.uid}: ${f.reason}`

const MAX_BAR_WIDTH = 30
const MIN_BAR_WIDTH = 6
/** Room kept at the end of the line for " 12 failed". */
const FAILED_ROOM = 10

/**
 * One bar line fitted to the terminal width. Field widths depend only on the width, so bars line up:
 * "INBOX                    [█████████░░░░░░░░░░░░░░░░░░░░░]  29%  350/1200 msg  12.3 MiB  35 msg/s   1.2 MiB/s ETA 24.3 s     2 failed"
 * On narrower terminals the folder name shrinks (keeping its end), the byte rate goes, then the bar.
 */
export function renderBarLine(c: Counter, width: number, now: number): string {
  const avail = width - 1
  const wide = avail >= 100
  const elapsed = now - c.startedAt
  const fields = [
    `${percent(c)}%`.padStart(4),
    `${c.done}/${c.total}`.padStart(9) + ' msg',
    formatBytes(c.bytes).padStart(9),
    formatRate(c.done, elapsed, 'msg').padStart(9),
    ...(wide ? [formatByteRate(c.bytes, elapsed).padStart(11)] : []),
    `ETA ${eta(c, elapsed)}`.padEnd(14),
    c.failed > 0 ? `${c.failed} failed` : '',
  ]
  const core = fields.slice(0, -1).join(' ')
  let labelWidth = avail >= 120 ? 24 : wide ? 18 : 12
  // On narrow terminals the failed count may be cut: each failure is also logged above the bars.
  const room = avail - core.length - (wide ? FAILED_ROOM : 0)
  let barWidth = Math.min(MAX_BAR_WIDTH, room - labelWidth - 4)
  if (barWidth < MIN_BAR_WIDTH) {
    barWidth = 0
    labelWidth = Math.max(12, Math.min(24, room - 1))
  }
  const label = truncateStart(c.label, labelWidth).padEnd(labelWidth)
  const filled = Math.round((barWidth * percent(c)) / 100)
  const bar = barWidth > 0 ? ` [${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}]` : ''
  const line = `${label}${bar} ${fields.join(' ')}`
  return [...line].slice(0, Math.max(0, avail)).join('').trimEnd()
}

export function createProgressReporter(options: ProgressOptions): ProgressReporter {
  if (options.mode === 'silent') return {listener: () => {}, stop: () => {}}
  const now = options.now ?? Date.now
  const view = options.mode === 'bars' ? barsView(options, now) : linesView(options, now)

  let overall: Counter | undefined
  const folders = new Map<string, Counter>()
  const dests = new Map<string, string>()
  let stopped = false

  const handlers: {[K in keyof SyncEvents]: (payload: SyncEvents[K]) => void} = {
    'run:planned': () => {},
    'folder:start': ({source, dest}) => {
      dests.set(source, dest)
    },
    'folder:planned': ({source, toCopy, bytesToCopy, alreadyPresent}) => {
      if (toCopy <= 0) return
      const t = now()
      if (!overall) {
        overall = newCounter('Total', 0, t)
        view.started(overall)
      }
      overall.total += toCopy
      const folder = newCounter(source, toCopy, t)
      folders.set(source, folder)
      view.folderStarted(folder, dests.get(source) ?? source, bytesToCopy, alreadyPresent)
    },
    'message:copied': ({source, bytes}) => {
      const folder = folders.get(source)
      if (folder) {
        folder.done++
        folder.bytes += bytes
      }
      if (overall) {
        overall.done++
        overall.bytes += bytes
      }
    },
    // A repaired message is also reported copied.
    'message:repaired': () => {},
    'message:failed': (failure) => {
      const folder = folders.get(failure.folder)
      if (folder) {
        folder.done++
        folder.failed++
      }
      if (overall) {
        overall.done++
        overall.failed++
      }
      view.log(failureText(failure))
    },
    'folder:done': (result) => {
      const folder = folders.get(result.source)
      folders.delete(result.source)
      dests.delete(result.source)
      // A folder abandoned half-way no longer owes its remaining messages to the overall total.
      if (folder && overall) overall.total -= Math.max(0, folder.total - folder.done)
      view.folderDone(folder, result)
    },
    warning: ({message}) => view.log(`warning: ${message}`),
  }

  const listener: SyncListener = (name, payload) => {
    if (stopped) return
    ;(handlers[name] as (p: typeof payload) => void)(payload)
  }

  return {
    listener,
    stop() {
      if (stopped) return
      stopped = true
      view.stop()
    },
  }
}

/** What a display mode does with the tracked counters. */
interface View {
  started(overall: Counter): void
  folderStarted(folder: Counter, dest: string, bytesToCopy: number, alreadyPresent: number): void
  folderDone(folder: Counter | undefined, result: FolderResult): void
  log(line: string): void
  stop(): void
}

function barsView(options: ProgressOptions, now: () => number): View {
  const {stream} = options
  const multibar = new cliProgress.MultiBar({
    stream,
    fps: 5,
    // Each bar draws itself from the Counter in its payload: no per-message bar.update() calls.
    format: (_options, params, payload: {counter?: Counter}) =>
      payload.counter ? renderBarLine(payload.counter, params.maxWidth, now()) : '',
    clearOnComplete: true,
    hideCursor: false,
    linewrap: false,
    gracefulExit: false,
    // Not a TTY (tests, or a caller that chose bars anyway): print the bars every interval instead of never.
    noTTYOutput: true,
    notTTYSchedule: options.lineIntervalMs ?? 10_000,
  })
  const bars = new Map<Counter, SingleBar>()
  return {
    started(overall) {
      bars.set(overall, multibar.create(0, 0, {counter: overall}))
    },
    folderStarted(folder) {
      bars.set(folder, multibar.create(folder.total, 0, {counter: folder}))
    },
    folderDone(folder) {
      const bar = folder && bars.get(folder)
      if (bar) {
        bars.delete(folder)
        multibar.remove(bar)
      }
    },
    log(line) {
      // multibar.log() only shows on the next redraw, and there is none before the first bar exists.
      // It clears only the first line it overwrites: erase the rest of each line ourselves (ESC [K).
      if (multibar.isActive) multibar.log(stream.isTTY ? `${line}\x1b[K\n` : `${line}\n`)
      else stream.write(line + '\n')
    },
    stop() {
      if (!multibar.isActive) return
      multibar.update() // flush lines queued with log()
      multibar.stop()
    },
  }
}

function linesView(options: ProgressOptions, now: () => number): View {
  const {stream} = options
  const clock = (): string => new Date(now()).toTimeString().slice(0, 8)
  const print = (line: string): void => {
    stream.write(`[${clock()}] ${line}\n`)
  }
  let timer: NodeJS.Timeout | undefined
  let active = 0
  return {
    started(overall) {
      timer = setInterval(() => {
        if (active > 0) print(`progress: ${percent(overall)}%, ${stats(overall, now())}`)
      }, options.lineIntervalMs ?? 10_000)
      timer.unref?.()
    },
    folderStarted(folder, dest, bytesToCopy, alreadyPresent) {
      active++
      const target = dest === folder.label ? '' : ` → ${dest}`
      print(`${folder.label}${target}: ${folder.total} to copy (${formatBytes(bytesToCopy)}), ${alreadyPresent} already present`)
    },
    folderDone(folder, r) {
      if (folder) active--
      if (!folder && !r.error && !r.copied && !r.failed && !r.flagsUpdated && !r.created) return
      const flags = r.flagsUpdated > 0 ? `, ${r.flagsUpdated} flags updated` : ''
      const error = r.error ? `; folder failed: ${r.error}` : ''
      print(
        `${r.source}: ${r.copied} copied, ${r.alreadyPresent} already present, ${r.failed} failed${flags}, ` +
          `${formatBytes(r.bytes)} in ${formatDuration(r.durationMs)}${error}`,
      )
    },
    log: print,
    stop() {
      if (timer) clearInterval(timer)
    },
  }
}
