import assert from 'node:assert/strict'
import {mkdtempSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {test} from 'node:test'

import {StateError} from '../../../src/errors.js'
import {openStateDb} from '../../../src/state/db.js'
import {SCHEMA_VERSION} from '../../../src/state/migrations.js'
import {StateRepository} from '../../../src/state/repository.js'

const row = (sourceUid: number) => ({
  sourceUid,
  destUid: null,
  status: 'pending' as const,
  origin: null,
  messageId: '<m@x>',
  size: 100,
  internalDate: '2020-01-01T00:00:00.000Z',
  headerHash: null,
  fingerprint: 'abc',
  flags: ['\\Seen', 'Work'],
})

test('rows go pending -> copied / failed and read back', () => {
  const state = openStateDb(':memory:')
  const repo = new StateRepository(state.db)
  repo.startRun()
  const pair = repo.pair('INBOX', 'INBOX')
  repo.setValidities(pair, 1, 2)
  repo.putMessages(pair, [row(1), row(2)])
  repo.markCopied(pair, 1, 77)
  repo.putMessages(pair, [{...row(2), status: 'failed', error: 'too big'}])
  const rows = repo.messages(pair)
  assert.equal(rows.get(1)?.status, 'copied')
  assert.equal(rows.get(1)?.destUid, 77)
  assert.deepEqual(rows.get(1)?.flags, ['Work', '\\Seen'])
  assert.equal(rows.get(2)?.status, 'failed')
  assert.equal(rows.get(2)?.error, 'too big')
  state.close()
})

test('rows read back with the same flags share one frozen list', () => {
  const state = openStateDb(':memory:')
  const repo = new StateRepository(state.db)
  const pair = repo.pair('INBOX', 'INBOX')
  repo.putMessages(pair, [row(1), row(2), {...row(3), flags: []}])
  const rows = repo.messages(pair)
  assert.equal(rows.get(1)!.flags, rows.get(2)!.flags)
  assert.deepEqual(rows.get(3)!.flags, [])
  assert.throws(() => rows.get(1)!.flags.push('Other'), TypeError)
  assert.deepEqual(repo.messages(pair).get(2)!.flags, ['Work', '\\Seen'])
  state.close()
})

test('a changed UIDVALIDITY on either side drops the pair rows', () => {
  const state = openStateDb(':memory:')
  const repo = new StateRepository(state.db)
  const pair = repo.pair('A', 'A')
  assert.equal(repo.setValidities(pair, 1, 1), false)
  repo.putMessages(pair, [row(1)])
  assert.equal(repo.setValidities(pair, 1, 1), false)
  assert.equal(repo.messages(pair).size, 1)
  assert.equal(repo.setValidities(pair, 1, 2), true)
  assert.equal(repo.messages(pair).size, 0)
  state.close()
})

test('a state file is bound to one pair of accounts', () => {
  const state = openStateDb(':memory:')
  const repo = new StateRepository(state.db)
  repo.bindAccounts('a@h:1', 'b@h:2')
  repo.bindAccounts('a@h:1', 'b@h:2')
  assert.throws(() => repo.bindAccounts('a@h:1', 'c@h:2'), /belongs to a@h:1 -> b@h:2/)
  state.close()
})

test('the state file is created 0600, locked against a second writer, and the lock is freed on close', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mf-state-'))
  try {
    const path = join(dir, 'sub', 'state.sqlite')
    const first = openStateDb(path)
    assert.equal(statSync(path).mode & 0o777, 0o600)
    assert.throws(() => openStateDb(path), /in use by another mailferry run/)
    first.close()
    // The lock file stays (removing it could let two runs lock two files); it is no longer locked.
    assert.equal(statSync(`${path}.lock`).mode & 0o777, 0o600)
    openStateDb(path).close()
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('a state path that cannot be a file says why in words, with a hint, and leaves nothing behind', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mf-state-'))
  try {
    const refusal = (path: string) => {
      try {
        openStateDb(path)
      } catch (error) {
        assert.ok(error instanceof StateError)
        return error
      }
      return assert.fail(`${path} was opened`)
    }
    const directory = refusal(dir)
    assert.equal(directory.message, `state database ${dir} cannot be opened: it is a directory`)
    assert.equal(directory.hint, 'give the path of a file, not of a directory')
    writeFileSync(join(dir, 'plain'), '')
    const under = refusal(join(dir, 'plain', 'state.sqlite'))
    assert.equal(under.message, `state database ${join(dir, 'plain', 'state.sqlite')} cannot be opened: a part of its path is a file, not a directory`)
    assert.equal(under.hint, `check that ${join(dir, 'plain')} is a directory that files can be created in`)
    assert.deepEqual(readdirSync(dir), ['plain'])
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

/** A repository in a run, with one folder pair, deferring message rows into group commits. */
function grouping(db: ReturnType<typeof openStateDb>['db']) {
  const repo = new StateRepository(db)
  repo.startRun()
  const pair = repo.pair('INBOX', 'INBOX')
  repo.groupCommits()
  return {repo, pair}
}

test('group commit: message rows wait for commit(), another write or the timer; this connection sees them at once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailferry-group-'))
  const path = join(dir, 'state.sqlite')
  const state = openStateDb(path)
  const outside = openStateDb(path, {lock: false})
  const committed = () => (outside.db.prepare("SELECT source_uid AS uid, status FROM messages ORDER BY source_uid").all() as Array<{uid: number; status: string}>)
  try {
    const {repo, pair} = grouping(state.db)
    repo.putMessages(pair, [row(1)])
    repo.putMessages(pair, [row(2)])
    assert.equal(repo.messages(pair).size, 2, 'deferred rows are visible on this connection')
    assert.deepEqual(committed(), [], 'and not yet on disk')
    repo.commit()
    assert.deepEqual(committed(), [{uid: 1, status: 'pending'}, {uid: 2, status: 'pending'}], 'the barrier commits both at once')
    repo.markCopied(pair, 1, 10)
    assert.equal(committed()[0].status, 'pending')
    // A write that must not wait (here: a move step) commits what is deferred along with itself.
    repo.setMoveStep(pair, [1], 'moving')
    assert.deepEqual(committed(), [{uid: 1, status: 'moving'}, {uid: 2, status: 'pending'}])
    repo.markCopied(pair, 2, 11)
    await new Promise((resolve) => setTimeout(resolve, 200))
    assert.equal(committed()[1].status, 'copied', 'the timer commits deferred rows on its own')
  } finally {
    outside.close()
    state.close()
    rmSync(dir, {recursive: true, force: true})
  }
})

test('group commit: a write that fails undoes itself only; the rows deferred before it still commit', () => {
  const state = openStateDb(':memory:')
  try {
    const {repo, pair} = grouping(state.db)
    repo.putMessages(pair, [row(1)])
    // One row (no savepoint of its own) and two rows (in a savepoint), each failing on the CHECK of status.
    // Refused as the state's error (its exit code), naming the file, as a full disk would be.
    const refused = (error: unknown) => error instanceof StateError && /^state database :memory:: a write failed: CHECK constraint/.test(error.message) && error.hint !== undefined
    assert.throws(() => repo.putMessages(pair, [{...row(2), status: 'bogus' as 'failed'}]), refused)
    assert.throws(() => repo.putMessages(pair, [row(3), {...row(4), status: 'bogus' as 'failed'}]), refused)
    repo.markCopied(pair, 1, 10)
    repo.commit()
    assert.deepEqual([...repo.messages(pair).keys()], [1])
    assert.equal(repo.messages(pair).get(1)?.status, 'copied')
  } finally {
    state.close()
  }
})

test('group commit: a COMMIT that fails ends the group and every later write and barrier throw the StateError', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailferry-group-'))
  const path = join(dir, 'state.sqlite')
  const state = openStateDb(path)
  try {
    const {repo, pair} = grouping(state.db)
    repo.putMessages(pair, [row(1)])
    repo.commit()
    repo.putMessages(pair, [row(2)])
    // SQLite checks a deferred foreign key at COMMIT, which then fails (as a full disk fails it).
    state.db.pragma('defer_foreign_keys = ON')
    state.db.prepare(`INSERT INTO messages (pair_id, source_uid, status, size, updated_at) VALUES (999999, 1, 'pending', 1, 'now')`).run()
    assert.throws(() => repo.commit(), (error: unknown) => error instanceof StateError && /state\.sqlite: message rows could not be committed: .*FOREIGN KEY/.test(error.message))
    assert.equal(state.db.inTransaction, false, 'the failed group is rolled back')
    assert.deepEqual([...repo.messages(pair).keys()], [1], 'its rows are gone; the committed ones stay')
    const failure = repo.failure
    assert.ok(failure instanceof StateError)
    assert.throws(() => repo.commit(), (error: unknown) => error === failure, 'the APPEND barrier keeps refusing')
    assert.throws(() => repo.putMessages(pair, [row(3)]), StateError)
    assert.throws(() => repo.markCopied(pair, 1, 5), StateError)
    repo.finishRun('error', {copied: 0, present: 0, failed: 0, bytes: 0})
  } finally {
    state.close()
    rmSync(dir, {recursive: true, force: true})
  }
})

test('unsettled rows: pending, failed, moving and copied without a UID count; copied with one and moved do not', () => {
  const state = openStateDb(':memory:')
  const repo = new StateRepository(state.db)
  const pair = repo.pair('INBOX', 'INBOX')
  const other = repo.pair('Other', 'Other')
  repo.putMessages(pair, [row(1), row(2), row(3), row(4), row(5), row(6)])
  repo.putMessages(other, [row(1)])
  assert.equal(repo.unsettledCount(pair), 6)
  repo.markCopied(pair, 1, 11)
  repo.markCopied(pair, 2, 12)
  repo.markCopied(pair, 3, 13)
  repo.markCopied(pair, 4, null)
  repo.putMessages(pair, [{...row(5), status: 'failed', error: 'refused'}])
  repo.setMoveStep(pair, [2, 3], 'moving')
  repo.setMoveStep(pair, [3], 'moved')
  // Unsettled: 2 (moving), 4 (copied, no UID), 5 (failed), 6 (pending); settled: 1 (copied), 3 (moved).
  assert.equal(repo.unsettledCount(pair), 4)
  assert.equal(repo.unsettledCount(other), 1)
  repo.setMoveStep(pair, [2], 'moved')
  repo.markCopied(pair, 4, 14)
  repo.markCopied(pair, 5, 15)
  repo.markCopied(pair, 6, 16)
  assert.equal(repo.unsettledCount(pair), 0)
  // Asked of the index alone: a folder's count does not read its rows.
  const plan = state.db.prepare(`EXPLAIN QUERY PLAN SELECT COUNT(*) AS n FROM messages INDEXED BY messages_unsettled
         WHERE pair_id = ? AND status != 'moved' AND (status != 'copied' OR dest_uid IS NULL)`).all(pair.id) as Array<{detail: string}>
  assert.match(plan.map((p) => p.detail).join('\n'), /USING INDEX messages_unsettled/)
  state.close()
})

test('a state database of schema 5 gains the indexes of unsettled and movable rows, its rows kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mf-schema5-'))
  try {
    const path = join(dir, 'old.sqlite')
    const first = openStateDb(path)
    const repo = new StateRepository(first.db)
    const pair = repo.pair('INBOX', 'INBOX')
    repo.putMessages(pair, [row(1), row(2)])
    repo.markCopied(pair, 1, 11)
    // As mailferry before the index left it.
    first.db.exec('DROP INDEX messages_unsettled; DROP INDEX messages_movable')
    first.db.pragma('user_version = 5')
    first.close()
    const again = openStateDb(path)
    assert.equal(again.db.pragma('user_version', {simple: true}), SCHEMA_VERSION)
    const migrated = new StateRepository(again.db)
    assert.equal(migrated.unsettledCount(pair), 1)
    assert.equal(migrated.anyMovable(), false, 'the copied row has no header hash')
    again.close()
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('the rows of some UIDs, and the destination UIDs the rows hold', () => {
  const state = openStateDb(':memory:')
  const repo = new StateRepository(state.db)
  const pair = repo.pair('INBOX', 'INBOX')
  repo.putMessages(pair, [row(1), row(2), row(3), row(4), row(5)])
  repo.markCopied(pair, 1, 11)
  repo.markCopied(pair, 2, 12)
  repo.markCopied(pair, 3, 13)
  repo.setMoveStep(pair, [3], 'moving')
  repo.setMoveStep(pair, [3], 'moved')
  repo.putMessages(pair, [{...row(4), status: 'failed', error: 'refused'}])
  const some = repo.messagesOf(pair, [2, 4, 99, 2])
  assert.deepEqual([...some.keys()].sort(), [2, 4])
  assert.deepEqual(some.get(2), repo.messages(pair).get(2))
  // Copied and moved (a tombstone) hold their copy; pending and failed rows hold nothing.
  assert.deepEqual([...repo.claimedDestUids(pair)].sort(), [11, 12, 13])
  state.close()
})

test('rows whose copy could be moved are found by size, Message-ID and internal date, in any pair', () => {
  const state = openStateDb(':memory:')
  const repo = new StateRepository(state.db)
  const inbox = repo.pair('INBOX', 'INBOX')
  const archive = repo.pair('Archive', 'Archive')
  assert.equal(repo.anyMovable(), false)
  const hashed = (uid: number, over: {messageId?: string | null; headerHash?: string | null} = {}) => ({...row(uid), headerHash: `h${uid}` as string | null, size: 100 + uid, ...over})
  repo.putMessages(inbox, [hashed(1), hashed(2, {messageId: null}), hashed(3), hashed(4, {headerHash: null})])
  repo.putMessages(archive, [hashed(5)])
  assert.equal(repo.anyMovable(), false, 'pending rows are not movable')
  for (const uid of [1, 2, 4]) repo.markCopied(inbox, uid, 10 + uid)
  repo.markCopied(inbox, 3, null)
  repo.markCopied(archive, 5, 15)
  assert.equal(repo.anyMovable(), true)
  const date = '2020-01-01T00:00:00.000Z'
  const found = repo.movableAmong([
    [101, '<m@x>', date], // copied, hashed: movable
    [102, null, date], // no Message-ID: matched as none
    [103, '<m@x>', date], // copied without a UID
    [104, '<m@x>', date], // no header hash
    [105, '<m@x>', date], // another pair's: still found
    [101, '<m@x>', '2021-01-01T00:00:00.000Z'], // another date
    [102, '<m@x>', date], // a Message-ID where the row has none
  ])
  assert.deepEqual(found.sort(), [0, 1, 4])
  assert.deepEqual(repo.movableAmong([]), [])
  state.close()
})
