import assert from 'node:assert/strict'
import {test} from 'node:test'

import {
  compareFolder,
  compareMessages,
  describeDifference,
  folderEqual,
  missingFolder,
  pairMessages,
  type VerifyMessage,
} from '../../../src/verify/compare.js'
import {verifyExitCode} from '../../../src/verify/run.js'

const date = (s: string) => new Date(s)
const D1 = '2020-01-01T10:00:00.000Z'
const D2 = '2021-06-01T10:00:00.000Z'

function msg(uid: number, over: Partial<VerifyMessage> = {}): VerifyMessage {
  return {
    uid,
    size: 1000,
    messageId: `<m${uid}@example.org>`,
    flags: ['\\Seen'],
    internalDate: date(D1),
    headerHash: `h-${over.messageId ?? uid}`,
    ...over,
  }
}

/** Two messages with the same identity, differing only in `a` / `b`. */
const comparePair = (a: Partial<VerifyMessage>, b: Partial<VerifyMessage>) =>
  compareMessages(msg(1, {messageId: '<x>', headerHash: 'h', ...a}), msg(2, {messageId: '<x>', headerHash: 'h', ...b}))

const uids = (list: VerifyMessage[]) => list.map((m) => m.uid)
const pairUids = (pairs: Array<[VerifyMessage, VerifyMessage]>) => pairs.map(([s, d]) => [s.uid, d.uid])

test('messages pair by content, not by UID', () => {
  const source = [msg(1, {messageId: '<a>'}), msg(2, {messageId: '<b>'})]
  const dest = [msg(7, {messageId: '<b>'}), msg(9, {messageId: '<a>'})]
  const result = pairMessages(source, dest)
  assert.deepEqual(pairUids(result.pairs), [[1, 9], [2, 7]])
  assert.deepEqual(result.missing, [])
  assert.deepEqual(result.extra, [])
})

test('copies are counted: three identical on the source, one on the destination -> two missing', () => {
  const same = {messageId: '<same>', headerHash: 'h'}
  const source = [msg(1, same), msg(2, same), msg(3, same)]
  const result = pairMessages(source, [msg(40, same)])
  assert.equal(result.pairs.length, 1)
  assert.deepEqual(uids(result.missing), [2, 3])
})

test('within an identity group, partners with the same date and flags pair first, then the same date', () => {
  const same = {messageId: '<same>', headerHash: 'h'}
  const source = [msg(1, {...same, internalDate: date(D1), flags: []}), msg(2, {...same, internalDate: date(D2), flags: ['\\Seen']})]
  const dest = [
    msg(10, {...same, internalDate: date(D2), flags: []}),
    msg(11, {...same, internalDate: date(D2), flags: ['\\Seen']}),
    msg(12, {...same, internalDate: date(D1), flags: ['\\Flagged']}),
  ]
  const result = pairMessages(source, dest)
  assert.deepEqual(pairUids(result.pairs), [[1, 12], [2, 11]])
  assert.deepEqual(uids(result.extra), [10])
})

test('the same Message-ID with another size is one changed message, not a missing and an extra one', () => {
  const result = compareFolder({source: 'INBOX', dest: 'INBOX'}, [msg(1, {messageId: '<same>', size: 100})], [msg(5, {messageId: '<same>', size: 120, headerHash: 'other'})])
  assert.equal(result.verdict.changed, 1)
  assert.equal(result.verdict.missing, 0)
  const [difference] = result.differences
  assert.equal(difference.kind, 'changed')
  assert.deepEqual([difference.sourceUid, difference.destUid], [1, 5])
  assert.deepEqual(difference.differences.map((d) => d.kind), ['size', 'headers'])
})

test('an ambiguous Message-ID is not guessed: two leftovers on one side stay missing', () => {
  const result = pairMessages([msg(1, {messageId: '<x>', size: 1}), msg(2, {messageId: '<x>', size: 2})], [msg(9, {messageId: '<x>', size: 3})])
  assert.equal(result.pairs.length, 0)
  assert.deepEqual(uids(result.missing), [1, 2])
  assert.deepEqual(uids(result.extra), [9])
})

test('without a Message-ID, the same header block still pairs a changed message', () => {
  const result = pairMessages([msg(1, {messageId: undefined, headerHash: 'hh', size: 10})], [msg(3, {messageId: undefined, headerHash: 'hh', size: 11})])
  assert.deepEqual(pairUids(result.pairs), [[1, 3]])
})

test('flags are compared normalised (case of system flags, \\Recent, order) and shown as +only-dest -dest-lacks', () => {
  assert.deepEqual(comparePair({flags: ['\\SEEN', 'Work']}, {flags: ['Work', '\\Seen', '\\Recent']}), [])
  const [flags] = comparePair({flags: ['\\Seen', 'Work']}, {flags: ['\\Flagged', 'Work']})
  assert.deepEqual(flags, {kind: 'flags', add: ['\\Flagged'], remove: ['\\Seen']})
  assert.equal(describeDifference(flags), 'flags: +\\Flagged -\\Seen')
})

test('internal dates are compared to the second and shown in ISO form', () => {
  const [d] = comparePair({internalDate: date(D1)}, {internalDate: date(D2)})
  assert.deepEqual(d, {kind: 'internalDate', source: D1, dest: D2})
  assert.equal(describeDifference(d), `internal date ${D1} vs ${D2}`)
})

test('bodies are compared only when both hashes are known (--deep)', () => {
  assert.deepEqual(comparePair({}, {}), [])
  assert.deepEqual(comparePair({bodyHash: 'aaaa'}, {bodyHash: 'aaaa'}), [])
  const [body] = comparePair({bodyHash: 'a'.repeat(64)}, {bodyHash: 'b'.repeat(64)})
  assert.equal(body.kind, 'body')
  assert.equal(describeDifference(body), 'message SHA-256 aaaaaaaaaaaa vs bbbbbbbbbbbb')
})

test('with body hashes, a same-size body change pairs as changed; without, the messages look equal', () => {
  const same = {messageId: '<m>', headerHash: 'h'}
  const quick = compareFolder({source: 'A', dest: 'A'}, [msg(1, same)], [msg(2, same)])
  assert.ok(folderEqual(quick.verdict))
  const deep = compareFolder({source: 'A', dest: 'A'}, [msg(1, {...same, bodyHash: 'x'})], [msg(2, {...same, bodyHash: 'y'})])
  assert.equal(deep.verdict.changed, 1)
  assert.deepEqual(deep.differences[0].differences.map((d) => d.kind), ['body'])
})

test('a folder report lists missing, extra and changed with both UIDs, in source UID order', () => {
  const source = [msg(1), msg(2), msg(3, {flags: []})]
  const dest = [msg(11), msg(13), msg(50, {messageId: '<new>'})]
  // dest 13 must pair with source 3 by Message-ID: give it the same identity but other flags.
  dest[1] = msg(13, {messageId: '<m3@example.org>', headerHash: 'h-3', flags: ['\\Seen']})
  dest[0] = msg(11, {messageId: '<m1@example.org>', headerHash: 'h-1'})
  const {verdict, differences} = compareFolder({source: 'INBOX', dest: 'INBOX'}, source, dest)
  assert.deepEqual(
    differences.map((d) => [d.kind, d.sourceUid, d.destUid]),
    [['missing', 2, null], ['changed', 3, 13], ['extra', null, 50]],
  )
  assert.deepEqual(
    {equal: verdict.equal, missing: verdict.missing, extra: verdict.extra, changed: verdict.changed},
    {equal: 1, missing: 1, extra: 1, changed: 1},
  )
  assert.match(differences[0].text, /^not on the destination \(Message-ID <m2@example.org>, 1000 bytes, 2020-01-01T10:00:00.000Z\)$/)
  assert.equal(folderEqual(verdict), false)
})

test('a missing destination folder is one difference and counts its messages as missing', () => {
  const {verdict, differences} = missingFolder({source: 'Lists.dev', dest: 'Lists/dev'}, 3)
  assert.equal(verdict.missing, 3)
  assert.equal(folderEqual(verdict), false)
  assert.equal(differences.length, 1)
  assert.equal(differences[0].kind, 'folder-missing')
  assert.match(differences[0].text, /"Lists\/dev" does not exist \(3 messages on the source\)/)
})

test('exit codes: 0 equal, 1 different, 5 a folder could not be compared, 130 interrupted', () => {
  const equal = compareFolder({source: 'A', dest: 'A'}, [msg(1)], [msg(1)]).verdict
  const different = compareFolder({source: 'B', dest: 'B'}, [msg(1)], []).verdict
  assert.equal(verifyExitCode([equal], false), 0)
  assert.equal(verifyExitCode([], false), 0)
  assert.equal(verifyExitCode([equal, different], false), 1)
  assert.equal(verifyExitCode([different, {...equal, error: 'cannot open'}], false), 5)
  assert.equal(verifyExitCode([equal], true), 130)
})

test('a copy stored repaired pairs by its recorded UIDs: "repaired", not a difference, unless flags, date or the stored hash differ', () => {
  const record = {sourceUid: 1, destUid: 7, storedSha256: 'stored', repairs: ['headers']}
  const source = [msg(1, {size: 900, headerHash: 'bad'}), msg(2)]
  const repairedCopy = msg(7, {size: 950, headerHash: 'fixed', messageId: '<other>'})
  const plain = compareFolder({source: 'INBOX', dest: 'INBOX'}, source, [repairedCopy, msg(2)], [record])
  assert.deepEqual([plain.verdict.equal, plain.verdict.repaired, plain.verdict.changed, plain.verdict.missing, plain.verdict.extra], [1, 1, 0, 0, 0])
  assert.ok(folderEqual(plain.verdict))
  // --deep: the copy's SHA-256 is the recorded one, or it is a difference.
  const deepOk = compareFolder({source: 'INBOX', dest: 'INBOX'}, source, [{...repairedCopy, bodyHash: 'stored'}, msg(2)], [record])
  assert.equal(deepOk.verdict.repaired, 1)
  const deepBad = compareFolder({source: 'INBOX', dest: 'INBOX'}, source, [{...repairedCopy, bodyHash: 'tampered'}, msg(2)], [record])
  assert.deepEqual([deepBad.verdict.repaired, deepBad.verdict.changed], [0, 1])
  assert.match(deepBad.differences[0].text, /^repaired copy \(headers/)
  // Flags still count; without the record it is a missing and an extra message.
  const flags = compareFolder({source: 'INBOX', dest: 'INBOX'}, source, [{...repairedCopy, flags: []}, msg(2)], [record])
  assert.equal(flags.verdict.changed, 1)
  const blind = compareFolder({source: 'INBOX', dest: 'INBOX'}, source, [repairedCopy, msg(2)])
  assert.deepEqual([blind.verdict.missing, blind.verdict.extra], [1, 1])
})
