import assert from 'node:assert/strict'
import {test} from 'node:test'

import type {MessageRow} from '../../../src/state/rows.js'
import type {MessageMeta} from '../../../src/stores/store.js'
import {checkClaims} from '../../../src/sync/claims.js'

const row = (sourceUid: number, destUid: number | null, size: number, messageId: string | null, status: MessageRow['status'] = 'copied'): MessageRow => ({
  sourceUid,
  destUid,
  status,
  origin: 'appended',
  messageId,
  size,
  internalDate: null,
  headerHash: null,
  fingerprint: null,
  flags: [],
  error: null,
})
const meta = (uid: number, size: number, messageId?: string): MessageMeta => ({uid, size, messageId, flags: [], internalDate: new Date(0)})

test('claims that match the destination hold; pending rows and rows without a UID are not claims', () => {
  const check = checkClaims(
    [row(1, 10, 100, '<a@x>'), row(2, 11, 200, null), row(3, null, 300, '<c@x>'), row(4, 12, 400, '<d@x>', 'pending')],
    [meta(10, 100, '<a@x>'), meta(11, 200), meta(12, 400, '<d@x>')],
  )
  assert.deepEqual([...check.held].sort(), [10, 11])
  assert.deepEqual(check.wrong, [])
  assert.deepEqual(check.gone, [])
})

test('renumbered by the server: a UID naming another message is wrong, a vanished UID is gone', () => {
  // Dovecot after a killed APPEND: source 33 was told UID 26, which now holds the killed APPEND's
  // message; the message told UID 27 now has UID 97, and 27 does not exist.
  const check = checkClaims(
    [row(33, 26, 1562, '<m33@x>'), row(31, 27, 2410, '<m31@x>'), row(20, 20, 900, '<m20@x>')],
    [meta(20, 900, '<m20@x>'), meta(26, 1869, '<m27@x>'), meta(97, 2410, '<m31@x>'), meta(98, 1562, '<m33@x>')],
  )
  assert.deepEqual([...check.held], [20])
  assert.deepEqual(check.wrong, [33])
  assert.deepEqual(check.gone, [31])
})

test('a size or a Message-ID that differs is enough to break a claim; two rows on one UID keep only the first', () => {
  const check = checkClaims(
    [row(1, 10, 100, '<a@x>'), row(2, 11, 200, '<b@x>'), row(3, 10, 100, '<a@x>')],
    [meta(10, 100, '<a@x>'), meta(11, 201, '<b@x>')],
  )
  assert.deepEqual([...check.held], [10])
  assert.deepEqual(check.wrong.sort(), [2, 3])
})
