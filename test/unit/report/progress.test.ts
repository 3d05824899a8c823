import assert from 'node:assert/strict'
import {afterEach, beforeEach, describe, it, mock} from 'node:test'
import {createProgressReporter, renderBarLine, type Counter} from '../../../src/report/progress.js'
import {emptyResult} from '../../../src/sync/context.js'
import type {FolderResult, SyncListener} from '../../../src/sync/events.js'

process.env.TZ = 'UTC'
const T0 = Date.UTC(2024, 0, 1, 12, 0, 0)
const KiB = 1024
const MiB = 1024 * 1024

/** A stand-in for process.stderr that records what is written. */
function fakeStream(tty = false): NodeJS.WriteStream & {text: () => string; lines: () => string[]} {
  const chunks: string[] = []
  const stream = {
    isTTY: tty,
    columns: tty ? 100 : undefined,
    write(chunk: string | Uint8Array) {
      chunks.push(String(chunk))
      return true
    },
    on() {
      return stream
    },
    text: () => chunks.join(''),
    lines: () => chunks.join('').split('\n').filter((l) => l !== ''),
  }
  return stream as unknown as NodeJS.WriteStream & {text: () => string; lines: () => string[]}
}

function done(over: Partial<FolderResult> & {source: string}): FolderResult {
  return {...emptyResult({source: over.source, dest: over.source, create: false}), ...over}
}

/** Feed a typical run: INBOX with work, Sent with none, Archive that fails. */
function feed(emit: SyncListener, advance: (ms: number) => void): void {
  emit('run:planned', {folders: 3})
  emit('folder:start', {source: 'INBOX', dest: 'INBOX'})
  emit('folder:planned', {source: 'INBOX', toCopy: 3, bytesToCopy: 3 * KiB, alreadyPresent: 1})
  emit('message:copied', {source: 'INBOX', uid: 5, bytes: KiB})
  emit('message:copied', {source: 'INBOX', uid: 6, bytes: KiB})
  emit('message:failed', {folder: 'INBOX', uid: 7, reason: 'message too large'})
  emit('warning', {message: 'destination has no UIDPLUS'})
  advance(1000)
  emit('folder:done', done({source: 'INBOX', copied: 2, alreadyPresent: 1, failed: 1, bytes: 2 * KiB, durationMs: 800}))
  emit('folder:start', {source: 'Sent', dest: 'Sent'})
  emit('folder:planned', {source: 'Sent', toCopy: 0, bytesToCopy: 0, alreadyPresent: 12})
  emit('folder:done', done({source: 'Sent', alreadyPresent: 12, durationMs: 50}))
  emit('folder:start', {source: 'Archive', dest: 'Old/Archive'})
  emit('folder:done', done({source: 'Archive', dest: 'Old/Archive', durationMs: 100, error: 'could not open: NO [NONEXISTENT]'}))
}

describe("progress reporter, 'lines' mode", () => {
  let now = T0
  beforeEach(() => {
    now = T0
  })
  afterEach(() => mock.timers.reset())

  it('prints one line per folder with work, folder done, warning and failure', () => {
    const stream = fakeStream()
    const reporter = createProgressReporter({stream, mode: 'lines', now: () => now})
    feed(reporter.listener, (ms) => (now += ms))
    reporter.stop()
    assert.deepEqual(stream.lines(), [
      '[12:00:00] INBOX: 3 to copy (3.0 KiB), 1 already present',
      '[12:00:00] failed: INBOX UID 7: message too large',
      '[12:00:00] warning: destination has no UIDPLUS',
      '[12:00:01] INBOX: 2 copied, 1 already present, 1 failed, 2.0 KiB in 0.8 s',
      '[12:00:01] Archive: 0 copied, 0 already present, 0 failed, 0 B in 0.1 s; folder failed: could not open: NO [NONEXISTENT]',
    ])
  })

  it('names the destination when it differs and mentions flag updates', () => {
    const stream = fakeStream()
    const reporter = createProgressReporter({stream, mode: 'lines', now: () => now})
    reporter.listener('folder:start', {source: 'Sent', dest: 'Archive/Sent'})
    reporter.listener('folder:planned', {source: 'Sent', toCopy: 1, bytesToCopy: 512, alreadyPresent: 0})
    reporter.listener('folder:done', done({source: 'Sent', dest: 'Archive/Sent', copied: 1, flagsUpdated: 4, bytes: 512, durationMs: 1200}))
    reporter.stop()
    assert.deepEqual(stream.lines(), [
      '[12:00:00] Sent → Archive/Sent: 1 to copy (512 B), 0 already present',
      '[12:00:00] Sent: 1 copied, 0 already present, 0 failed, 4 flags updated, 512 B in 1.2 s',
    ])
  })

  it('prints an overall line every interval while copying, and none once idle', () => {
    mock.timers.enable({apis: ['setInterval']})
    const stream = fakeStream()
    const reporter = createProgressReporter({stream, mode: 'lines', lineIntervalMs: 5000, now: () => now})
    const emit = reporter.listener
    emit('folder:start', {source: 'INBOX', dest: 'INBOX'})
    emit('folder:planned', {source: 'INBOX', toCopy: 10, bytesToCopy: 10 * MiB, alreadyPresent: 0})
    for (let uid = 1; uid <= 4; uid++) emit('message:copied', {source: 'INBOX', uid, bytes: MiB})
    now += 2000
    mock.timers.tick(5000)
    emit('message:failed', {folder: 'INBOX', uid: 5, reason: 'NO'})
    now += 2000
    mock.timers.tick(5000)
    emit('folder:done', done({source: 'INBOX', copied: 4, failed: 1, bytes: 4 * MiB, durationMs: 4000}))
    mock.timers.tick(5000)
    reporter.stop()
    assert.deepEqual(stream.lines(), [
      '[12:00:00] INBOX: 10 to copy (10.0 MiB), 0 already present',
      '[12:00:02] progress: 40%, 4/10 msg, 4.0 MiB, 2.0 msg/s, 2.0 MiB/s, ETA 3.0 s',
      '[12:00:02] failed: INBOX UID 5: NO',
      '[12:00:04] progress: 50%, 5/10 msg, 4.0 MiB, 1.3 msg/s, 1.0 MiB/s, ETA 4.0 s, 1 failed',
      '[12:00:04] INBOX: 4 copied, 0 already present, 1 failed, 4.0 MiB in 4.0 s',
    ])
  })

  it('ignores events after stop()', () => {
    const stream = fakeStream()
    const reporter = createProgressReporter({stream, mode: 'lines', now: () => now})
    reporter.stop()
    reporter.listener('warning', {message: 'late'})
    reporter.stop()
    assert.equal(stream.text(), '')
  })
})

describe("progress reporter, 'silent' mode", () => {
  it('writes nothing', () => {
    const stream = fakeStream()
    const reporter = createProgressReporter({stream, mode: 'silent'})
    feed(reporter.listener, () => {})
    reporter.stop()
    assert.equal(stream.text(), '')
  })
})

describe("progress reporter, 'bars' mode", () => {
  for (const tty of [false, true]) {
    it(`does not throw when fed a run (${tty ? 'TTY' : 'non-TTY'} stream) and prints warnings and failures`, () => {
      const stream = fakeStream(tty)
      const reporter = createProgressReporter({stream, mode: 'bars'})
      feed(reporter.listener, () => {})
      // A second folder still running when the run stops.
      reporter.listener('folder:start', {source: 'Archive/2019/Projects/Customers/Very long name', dest: 'x'})
      reporter.listener('folder:planned', {source: 'Archive/2019/Projects/Customers/Very long name', toCopy: 5, bytesToCopy: 5, alreadyPresent: 0})
      reporter.listener('message:copied', {source: 'Archive/2019/Projects/Customers/Very long name', uid: 1, bytes: 1})
      reporter.stop()
      reporter.stop()
      const text = stream.text()
      assert.match(text, /failed: INBOX UID 7: message too large(\x1b\[K)?\n/)
      assert.match(text, /warning: destination has no UIDPLUS(\x1b\[K)?\n/)
    })
  }

  it('prints a warning that arrives before any bar exists', () => {
    const stream = fakeStream(true)
    const reporter = createProgressReporter({stream, mode: 'bars'})
    reporter.listener('warning', {message: 'early'})
    reporter.stop()
    assert.equal(stream.text(), 'warning: early\n')
  })
})

describe('renderBarLine', () => {
  const counter = (label: string): Counter => ({label, total: 1200, done: 350, failed: 2, bytes: 12.3 * MiB, startedAt: T0})
  const at = T0 + 10_000

  it('shows everything on a wide terminal', () => {
    assert.equal(
      renderBarLine(counter('INBOX'), 140, at),
      'INBOX                    [█████████░░░░░░░░░░░░░░░░░░░░░]  29%  350/1200 msg  12.3 MiB  35 msg/s   1.2 MiB/s ETA 24.3 s     2 failed',
    )
  })

  it('fits 80 columns: shorter name (keeping its end), no byte rate, a shorter bar', () => {
    const line = renderBarLine(counter('Archive/2019/Projects/Customers/ACME'), 80, at)
    assert.equal(line, '…tomers/ACME [███░░░░░░░]  29%  350/1200 msg  12.3 MiB  35 msg/s ETA 24.3 s')
  })

  it('drops the bar and cuts the line on very narrow terminals', () => {
    const line = renderBarLine(counter('INBOX'), 50, at)
    assert.ok(!line.includes('['))
    assert.ok([...line].length <= 49, line)
  })

  it('lines up bars of different folders', () => {
    const a = renderBarLine(counter('INBOX'), 100, at)
    const b = renderBarLine({...counter('Sent'), failed: 0}, 100, at)
    assert.equal(a.indexOf('%'), b.indexOf('%'))
    assert.equal(a.indexOf('ETA'), b.indexOf('ETA'))
  })
})
