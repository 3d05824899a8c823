import assert from 'node:assert/strict'
import {test} from 'node:test'

import {chunkUidSets, compactUids} from '../../../src/imap/uidset.js'

test('compactUids builds ranges from unsorted input with duplicates', () => {
  assert.equal(compactUids([9, 1, 2, 3, 7, 10, 11, 12, 2]), '1:3,7,9:12')
  assert.equal(compactUids([5]), '5')
})

test('chunkUidSets bounds each set and loses no UID', () => {
  const uids = Array.from({length: 5000}, (_, i) => i * 2 + 1)
  const sets = chunkUidSets(uids, 1000)
  assert.equal(sets.length, 5)
  const back = sets.flatMap((set) => set.split(',').map(Number))
  assert.deepEqual(back, uids)
})
