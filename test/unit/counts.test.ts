import assert from 'node:assert/strict'
import {test} from 'node:test'

import {sumCounts} from '../../src/counts.js'

test('sumCounts sums each count named by the zero over the folders, in the zero\'s order, and only those', () => {
  const zero = {copied: 0, failed: 0}
  const folders = [{copied: 2, failed: 1, durationMs: 40}, {copied: 3, failed: 0, durationMs: 7}]
  const totals = sumCounts(zero, folders)
  assert.deepEqual(totals, {copied: 5, failed: 1})
  assert.deepEqual(Object.keys(totals), ['copied', 'failed'])
  assert.deepEqual(sumCounts(zero, []), zero)
  assert.notEqual(sumCounts(zero, []), zero, 'a new object: the zero stays zero')
})
