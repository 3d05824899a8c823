import assert from 'node:assert/strict'
import {test} from 'node:test'

import {coarseKey, matchLevel, openUids, rekey} from '../../../src/sync/match.js'

const keyed = (pairs: Array<[number, string]>) => pairs.map(([uid, key]) => ({uid, key}))

test('narrow never decides a match, it only partitions', () => {
  const result = matchLevel(keyed([[1, 'a'], [2, 'b']]), keyed([[10, 'a']]), 'narrow')
  assert.deepEqual(result.matched, [])
  assert.deepEqual(result.unmatched, [2])
  assert.deepEqual(result.open, [{source: [1], dest: [10]}])
})

test('unique matches one-to-one keys and leaves the rest open', () => {
  const result = matchLevel(keyed([[1, 'a'], [2, 'b'], [3, 'b']]), keyed([[10, 'a'], [11, 'b']]), 'unique')
  assert.deepEqual(result.matched, [[1, 10]])
  assert.deepEqual(result.open, [{source: [2, 3], dest: [11]}])
})

test('exact matching counts copies: three sources, one destination, two left to copy', () => {
  const result = matchLevel(keyed([[5, 'h'], [3, 'h'], [4, 'h']]), keyed([[20, 'h']]), 'exact')
  assert.deepEqual(result.matched, [[3, 20]])
  assert.deepEqual(result.unmatched.sort(), [4, 5])
})

test('a destination message is never used twice and destination-only keys are ignored', () => {
  const result = matchLevel(keyed([[1, 'x'], [2, 'x']]), keyed([[9, 'x'], [8, 'y']]), 'exact')
  assert.equal(result.matched.length, 1)
  assert.deepEqual(result.unmatched, [2])
})

test('coarse keys separate size and Message-ID, and messages without one share the empty id', () => {
  assert.notEqual(coarseKey(10, '<a>'), coarseKey(10, '<b>'))
  assert.notEqual(coarseKey(10, '<a>'), coarseKey(11, '<a>'))
  assert.equal(coarseKey(10, undefined), coarseKey(10, null))
})

test('rekey keeps members of different groups apart and drops UIDs without a key', () => {
  const groups = [{source: [1], dest: [10]}, {source: [2], dest: [11]}]
  const {source, dest} = rekey(groups, {source: new Map([[1, 'k'], [2, 'k']]), dest: new Map([[10, 'k']])})
  assert.equal(source.length, 2)
  assert.notEqual(source[0].key, source[1].key)
  assert.equal(dest.length, 1)
  const result = matchLevel(source, dest, 'exact')
  assert.deepEqual(result.matched, [[1, 10]])
  assert.deepEqual(openUids(groups, 'dest'), [10, 11])
})

test('identical copies pair with the copy that has the same internal date first', () => {
  const affinity = {source: new Map([[1, 'd1'], [2, 'd2']]), dest: new Map([[10, 'd2'], [11, 'd1']])}
  const result = matchLevel(keyed([[1, 'h'], [2, 'h']]), keyed([[10, 'h'], [11, 'h']]), 'exact', [affinity])
  assert.deepEqual(result.matched, [[1, 11], [2, 10]])
  const noDates = matchLevel(keyed([[1, 'h'], [2, 'h']]), keyed([[10, 'h'], [11, 'h']]), 'exact')
  assert.deepEqual(noDates.matched, [[1, 10], [2, 11]])
})

test('with equal dates, the copy with the same flags pairs first', () => {
  const dateAndFlags = {source: new Map([[1, 'd \\Seen'], [2, 'd']]), dest: new Map([[10, 'd'], [11, 'd \\Seen']])}
  const date = {source: new Map([[1, 'd'], [2, 'd']]), dest: new Map([[10, 'd'], [11, 'd']])}
  const result = matchLevel(keyed([[1, 'h'], [2, 'h']]), keyed([[10, 'h'], [11, 'h']]), 'exact', [dateAndFlags, date])
  assert.deepEqual(result.matched, [[1, 11], [2, 10]])
})
