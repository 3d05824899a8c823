import assert from 'node:assert/strict'
import {test} from 'node:test'

import {filterFlags, flagDelta, groupFlagChanges, normalizeFlags, sameFlags} from '../../../src/sync/flags.js'

test('normalizeFlags spells system flags canonically, drops \\Recent, sorts and dedupes', () => {
  assert.deepEqual(normalizeFlags(['\\seen', '\\Recent', 'Work', '\\SEEN', '$Label1']), ['$Label1', 'Work', '\\Seen'])
})

test('filterFlags keeps keywords when \\* is permitted and reports what is dropped', () => {
  assert.deepEqual(filterFlags(['\\Seen', 'Work'], ['\\Seen', '\\*']), {kept: ['\\Seen', 'Work'], dropped: []})
  assert.deepEqual(filterFlags(['\\Seen', 'Work', '\\Draft'], ['\\Seen', '\\Draft']), {
    kept: ['\\Seen', '\\Draft'],
    dropped: ['Work'],
  })
  assert.deepEqual(filterFlags(['\\Seen', 'x'], undefined), {kept: ['\\Seen', 'x'], dropped: []})
})

test('flagDelta gives what to add and remove', () => {
  assert.deepEqual(flagDelta(['\\Seen', 'a'], ['a', '\\Flagged']), {add: ['\\Flagged'], remove: ['\\Seen']})
  assert.deepEqual(flagDelta([], []), {add: [], remove: []})
})

test('sameFlags ignores order', () => {
  assert.equal(sameFlags(['a', 'b'], ['b', 'a']), true)
  assert.equal(sameFlags(['a'], ['a', 'b']), false)
})

test('groupFlagChanges: one group per distinct change, each message keeps exactly its own change', () => {
  const groups = groupFlagChanges([
    {uid: 9, add: ['\\Seen'], remove: []},
    {uid: 3, add: ['\\seen'], remove: []},
    {uid: 5, add: ['\\Flagged'], remove: ['$Label1']},
    {uid: 4, add: ['\\Seen'], remove: []},
    {uid: 7, add: [], remove: ['\\Seen']},
  ])
  assert.deepEqual(groups, [
    {uids: [7], add: [], remove: ['\\Seen']},
    {uids: [5], add: ['\\Flagged'], remove: ['$Label1']},
    {uids: [3, 4, 9], add: ['\\Seen'], remove: []},
  ])
  assert.deepEqual(groupFlagChanges([]), [])
})
