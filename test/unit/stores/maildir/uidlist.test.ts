import assert from 'node:assert/strict'
import {test} from 'node:test'

import {completeLength, formatHeader, formatRecord, formatUidlist, nextUid, parseUidlist, UidlistError} from '../../../../src/stores/maildir/uidlist.js'

/** Written by Dovecot 2.3.19 (two messages appended after the header was written). */
const DOVECOT = `3 V1795640006 N1 G69cd201dc44a076b0956000083ecc375
1 :1795640004.M521541P22030.vm,S=40,W=45
2 :1795640004.M521542P22030.vm,S=28,W=32
`

test("parses Dovecot's version 3 file; the next UID follows the last record when N lags", () => {
  const list = parseUidlist(DOVECOT)
  assert.equal(list.header.version, 3)
  assert.equal(list.header.uidValidity, 1795640006)
  assert.equal(list.header.nextUid, 1)
  assert.equal(list.header.guid, '69cd201dc44a076b0956000083ecc375')
  assert.deepEqual(list.records.map((r) => [r.uid, r.base]), [
    [1, '1795640004.M521541P22030.vm,S=40,W=45'],
    [2, '1795640004.M521542P22030.vm,S=28,W=32'],
  ])
  assert.equal(nextUid(list), 3)
  assert.equal(nextUid(parseUidlist('3 V5 N10\n1 :a\n')), 10)
})

test('formats what it parses', () => {
  assert.equal(formatUidlist(parseUidlist(DOVECOT)), DOVECOT.replace(' N1 ', ' N3 '))
  assert.equal(formatHeader({uidValidity: 7, nextUid: 1, guid: 'ab', extra: []}), '3 V7 N1 Gab\n')
  assert.equal(formatRecord({uid: 9, base: 'x,S=1'}), '9 :x,S=1\n')
  assert.equal(formatRecord({uid: 9, base: 'x', ext: ['W12']}), '9 W12 :x\n')
  assert.throws(() => formatRecord({uid: 1, base: 'a/b'}), UidlistError)
})

test('extension fields, unknown header keys and flags in records', () => {
  const list = parseUidlist('3 V12 N4 Gff K1 Zyx\n1 W45 S40 :one,S=40\n3 :three:2,S\n')
  assert.deepEqual(list.header.extra, ['K1', 'Zyx'])
  assert.deepEqual(list.records[0], {uid: 1, base: 'one,S=40', ext: ['W45', 'S40']})
  assert.equal(list.records[1].base, 'three', 'matched by the base, as Dovecot does')
})

test('version 1 (Dovecot 1.0, Courier)', () => {
  const list = parseUidlist('1 1234 5\n1 1100.abc:2,S\n4 1200.def\n')
  assert.equal(list.header.version, 1)
  assert.equal(list.header.uidValidity, 1234)
  assert.deepEqual(list.records.map((r) => [r.uid, r.base]), [[1, '1100.abc'], [4, '1200.def']])
  assert.equal(nextUid(list), 5)
})

test('damaged files', () => {
  assert.throws(() => parseUidlist(''), UidlistError)
  assert.throws(() => parseUidlist('2 V1 N1\n'), /unsupported uidlist version/)
  assert.throws(() => parseUidlist('3 N1\n'), /UIDVALIDITY/)
  assert.throws(() => parseUidlist('3 V1 N1\nnot a record\n'), /line 2/)
  assert.throws(() => parseUidlist('3 V1 N1\n1 :a/b\n'), UidlistError)
  const list = parseUidlist('3 V1 N1\n5 :a\n2 :b\n5 :c\n6 :d\n')
  assert.deepEqual(list.records.map((r) => r.uid), [5, 6], 'out-of-order lines are skipped')
})

test('a torn last line (its writer was killed mid-append) is not a record', () => {
  const torn = `${DOVECOT}3 :1795640004.M5215`
  assert.equal(completeLength(torn), DOVECOT.length)
  assert.equal(completeLength(Buffer.from(torn)), Buffer.byteLength(DOVECOT))
  assert.equal(completeLength('no line end at all'), 0)
  const list = parseUidlist(torn)
  assert.deepEqual(list.records.map((r) => r.uid), [1, 2])
  assert.equal(nextUid(list), 3, 'the torn UID was never handed out, so it is given again')
  // A complete record that only lacks its line end is torn too (Dovecot reads whole lines only).
  assert.deepEqual(parseUidlist(`${DOVECOT}3 :1795640004.M521543P22030.vm,S=28,W=32`).records.length, 2)
  // A header alone without a line end is still the header.
  assert.equal(parseUidlist('3 V7 N4').header.uidValidity, 7)
})
