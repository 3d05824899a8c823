import assert from 'node:assert/strict'
import {test} from 'node:test'

import {sharedFlagLists, sharing} from '../../src/sharing.js'

test('sharing makes each distinct text once and hands the same value back', () => {
  let made = 0
  const upper = sharing((text) => ({text: text.toUpperCase(), n: ++made}))
  assert.equal(upper('a'), upper('a'))
  assert.notEqual(upper('a'), upper('b'))
  assert.equal(made, 2)
})

test('a shared flag list: the same for the same flags in the same order, frozen, with its own copy of the input', () => {
  const flagList = sharedFlagLists()
  const input = ['\\Seen', 'Work']
  const first = flagList(input)
  assert.equal(flagList(['\\Seen', 'Work']), first)
  assert.notEqual(first, input)
  assert.deepEqual(first, input)
  assert.notEqual(flagList(['Work', '\\Seen']), first)
  assert.deepEqual(flagList([]), [])
  assert.throws(() => first.push('Other'), TypeError)
  input.push('Other')
  assert.deepEqual(first, ['\\Seen', 'Work'])
})
