import assert from 'node:assert/strict'
import {test} from 'node:test'

import {chunkUidSets, compactUids, uidsOutside} from '../../../src/imap/uidset.js'

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

test('uidsOutside names every UID but those given, up to "*"', () => {
  assert.equal(uidsOutside([]), '1:*')
  assert.equal(uidsOutside([1, 2, 3]), '4:*')
  assert.equal(uidsOutside([3, 2, 5, 9, 8, 2]), '1,4,6:7,10:*')
  assert.equal(uidsOutside(new Set([2, 4, 6])), '1,3,5,7:*')
  // Every UID up to 40 not given is in the set, none given is.
  const given = [2, 3, 5, 11, 12, 13, 20, 37]
  const inSet = (uid: number) =>
    uidsOutside(given)!.split(',').some((part) => {
      const [from, to] = part.split(':')
      return to === undefined ? uid === Number(from) : uid >= Number(from) && (to === '*' || uid <= Number(to))
    })
  for (let uid = 1; uid <= 40; uid++) assert.equal(inSet(uid), !given.includes(uid), `UID ${uid}`)
})

test('uidsOutside gives up on a set longer than asked (the caller reads 1:*)', () => {
  const everyOther = Array.from({length: 5000}, (_, i) => i * 2 + 2)
  assert.equal(uidsOutside(everyOther), undefined)
  assert.ok(uidsOutside(everyOther, 100_000)!.startsWith('1,3,5,'))
})
