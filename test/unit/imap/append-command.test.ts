/**
 * APPENDUID after MULTIAPPEND (RFC 4315 3, RFC 3502): the uid-set lists the new UIDs in the order of
 * the messages; a set that does not have one UID per message is not used (the copies are then
 * recognised by content, as without UIDPLUS).
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {appendUids} from '../../../src/imap/append-command.js'
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
