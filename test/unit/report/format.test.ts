import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {formatByteRate, formatBytes, formatDuration, formatRate, renderTable, truncateStart} from '../../../src/report/format.js'

describe('formatBytes', () => {
  it('uses bytes below 1 KiB and one decimal above', () => {
    assert.equal(formatBytes(0), '0 B')
    assert.equal(formatBytes(512), '512 B')
    assert.equal(formatBytes(1023), '1023 B')
    assert.equal(formatBytes(1024), '1.0 KiB')
    assert.equal(formatBytes(9.4 * 1024 * 1024), '9.4 MiB')
    assert.equal(formatBytes(3 * 1024 ** 3), '3.0 GiB')
  })
  it('moves to the next unit when rounding reaches 1024', () => {
    assert.equal(formatBytes(1024 * 1024 - 1), '1.0 MiB')
  })
  it('treats nonsense as zero', () => {
    assert.equal(formatBytes(-5), '0 B')
    assert.equal(formatBytes(Number.NaN), '0 B')
  })
})

describe('formatDuration', () => {
  it('shows seconds with one decimal under a minute', () => {
    assert.equal(formatDuration(0), '0.0 s')
    assert.equal(formatDuration(800), '0.8 s')
    assert.equal(formatDuration(1234), '1.2 s')
    assert.equal(formatDuration(59_900), '59.9 s')
  })
  it('shows minutes and padded seconds under an hour', () => {
    assert.equal(formatDuration(59_960), '1 min 00 s')
    assert.equal(formatDuration(185_000), '3 min 05 s')
  })
  it('shows hours and padded minutes', () => {
    assert.equal(formatDuration(3_599_600), '1 h 00 min')
    assert.equal(formatDuration(3_720_000), '1 h 02 min')
    assert.equal(formatDuration(26 * 3_600_000), '26 h 00 min')
  })
})

describe('formatRate / formatByteRate', () => {
  it('rounds above 10 per second and keeps a decimal below', () => {
    assert.equal(formatRate(420, 2000, 'msg'), '210 msg/s')
    assert.equal(formatRate(5, 2000, 'msg'), '2.5 msg/s')
    assert.equal(formatByteRate(3 * 1024 * 1024, 2000), '1.5 MiB/s')
  })
  it('does not divide by zero', () => {
    assert.equal(formatRate(1, 0, 'msg'), '- msg/s')
    assert.equal(formatByteRate(1, 0), '- B/s')
  })
})

describe('truncateStart', () => {
  it('keeps the end of long names', () => {
    assert.equal(truncateStart('INBOX', 10), 'INBOX')
    assert.equal(truncateStart('Archive/2019/Projects', 10), '…/Projects')
    assert.equal(truncateStart('Archive', 0), '')
  })
})

describe('renderTable', () => {
  it('pads columns, aligns, and adds a footer under a rule', () => {
    const text = renderTable(['Folder', 'Copied'], [['INBOX', '120'], ['Sent', '3']], ['left', 'right'], ['Total', '123'])
    assert.equal(
      text,
      ['Folder  Copied', '------  ------', 'INBOX      120', 'Sent         3', '------  ------', 'Total      123'].join('\n'),
    )
  })
  it('trims trailing spaces and counts code points', () => {
    const text = renderTable(['A', 'B'], [['😀', ''], ['xy', 'z']], ['left', 'left'])
    assert.deepEqual(text.split('\n'), ['A   B', '--  -', '😀', 'xy  z'])
  })
})
