import assert from 'node:assert/strict'
import {test} from 'node:test'

import {describeSelection, isSelected, isSelecting} from '../../../src/sync/select.js'

const now = new Date('2026-06-15T12:00:00Z')
const daysAgo = (days: number) => new Date(now.getTime() - days * 86_400_000)

test('--max-age keeps messages younger than N days, --min-age older ones; both make a window', () => {
  assert.ok(isSelected({maxAgeDays: 30}, {size: 1, internalDate: daysAgo(29.9)}, now))
  assert.ok(!isSelected({maxAgeDays: 30}, {size: 1, internalDate: daysAgo(30.1)}, now))
  assert.ok(isSelected({minAgeDays: 365}, {size: 1, internalDate: daysAgo(400)}, now))
  assert.ok(!isSelected({minAgeDays: 365}, {size: 1, internalDate: daysAgo(10)}, now))
  const window = {minAgeDays: 7, maxAgeDays: 30}
  assert.deepEqual([3, 10, 40].map((d) => isSelected(window, {size: 1, internalDate: daysAgo(d)}, now)), [false, true, false])
})

test('--max-size keeps messages up to N bytes', () => {
  assert.ok(isSelected({maxSize: 1000}, {size: 1000, internalDate: now}, now))
  assert.ok(!isSelected({maxSize: 1000}, {size: 1001, internalDate: now}, now))
})

test('no selection selects everything; the report names the selection', () => {
  assert.ok(!isSelecting(undefined))
  assert.ok(!isSelecting({}))
  assert.ok(isSelecting({maxSize: 5}))
  assert.equal(describeSelection({maxAgeDays: 30, maxSize: 5}), 'younger than 30 days, at most 5 bytes')
})
