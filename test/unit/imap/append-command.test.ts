/**
 * APPENDUID after MULTIAPPEND (RFC 4315 3, RFC 3502): the uid-set lists the new UIDs in the order of
 * the messages; a set that does not have one UID per message is not used (the copies are then
 * recognised by content, as without UIDPLUS). And how many messages go in one command.
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {appendUids, batchCount, commandsInFlight} from '../../../src/imap/append-command.js'
import type {WireResponse} from '../../../src/imap/wire.js'

function ok(code: string[]): WireResponse {
  return {
    tag: 'P1',
    command: 'OK',
    attributes: [{type: 'ATOM', value: '', section: code.map((value) => ({type: 'ATOM', value}))}, {type: 'TEXT', value: 'Append completed.'}],
  }
}

test('a single UID, a range and a list map to the messages in order', () => {
  assert.deepEqual(appendUids(ok(['APPENDUID', '38505', '3955']), 1), {uidValidity: 38505, uids: [3955]})
  assert.deepEqual(appendUids(ok(['APPENDUID', '7', '5:8']), 4), {uidValidity: 7, uids: [5, 6, 7, 8]})
  assert.deepEqual(appendUids(ok(['APPENDUID', '7', '5,9:10,12']), 4), {uidValidity: 7, uids: [5, 9, 10, 12]})
})

test('a set with more or fewer UIDs than messages, or no APPENDUID, gives no UIDs', () => {
  assert.equal(appendUids(ok(['APPENDUID', '7', '5:7']), 4), undefined)
  assert.equal(appendUids(ok(['APPENDUID', '7', '5:9']), 4), undefined)
  assert.equal(appendUids(ok(['APPENDUID', '7', 'x']), 1), undefined)
  assert.equal(appendUids(ok(['UIDNOTSTICKY']), 1), undefined)
  assert.equal(appendUids({tag: 'P1', command: 'OK', attributes: [{type: 'TEXT', value: 'done'}]}, 1), undefined)
})

const messages = (...sizes: number[]) => sizes.map((size) => ({raw: Buffer.alloc(size)}))
const offering = (entries: Array<[string, boolean | number]>) => new Map(entries)

test('without MULTIAPPEND every command carries one message, and many are in flight', () => {
  const capabilities = offering([['LITERAL+', true]])
  assert.equal(batchCount(messages(10, 10, 10), capabilities), 1)
  assert.equal(batchCount([], capabilities), 0)
  assert.ok(commandsInFlight(capabilities) > commandsInFlight(offering([['MULTIAPPEND', true]])))
})

test('a MULTIAPPEND batch stops at the message count, the byte bound and APPENDLIMIT, and a large first message goes alone', () => {
  const multi = offering([['MULTIAPPEND', true]])
  assert.equal(batchCount(messages(...Array(80).fill(100)), multi, {maxMessages: 50}), 50)
  assert.equal(batchCount(messages(400, 400, 400), multi, {maxBytes: 1000}), 2)
  assert.equal(batchCount(messages(400, 400, 400), offering([['MULTIAPPEND', true], ['APPENDLIMIT', 900]]), {maxBytes: 5000}), 2)
  assert.equal(batchCount(messages(5000, 10, 10), multi, {maxBytes: 1000}), 1)
})
