import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, test} from 'node:test'

import Database from 'better-sqlite3'

import {StateError} from '../../../src/errors.js'
import {openStateDb} from '../../../src/state/db.js'
import {openStateReader} from '../../../src/state/reader.js'
import {StateRepository} from '../../../src/state/repository.js'

const dir = mkdtempSync(join(tmpdir(), 'mailferry-reader-'))
after(() => rmSync(dir, {recursive: true, force: true}))

const row = (sourceUid: number) => ({
  sourceUid,
  destUid: null,
  status: 'pending' as const,
  origin: null,
  messageId: null,
  size: 10,
  internalDate: null,
  headerHash: null,
  fingerprint: null,
  flags: [],
})

test('no file: undefined, and nothing is created', () => {
  const path = join(dir, 'missing', 'state.sqlite')
  assert.equal(openStateReader(path), undefined)
  assert.equal(existsSync(join(dir, 'missing')), false)
})

test('reads the accounts and the copied UIDs of a pair, read-only, beside a writer', () => {
  const path = join(dir, 'state.sqlite')
  const writer = openStateDb(path)
  const repo = new StateRepository(writer.db)
  repo.bindAccounts('a@h:1', 'b@h:2')
  repo.startRun()
  const pair = repo.pair('INBOX.Sent', 'Sent')
  repo.setValidities(pair, 7, 8)
  repo.putMessages(pair, [row(1), row(2), row(3)])
  repo.markCopied(pair, 1, 11)
  repo.markCopied(pair, 3, 13)
  const before = readdirSync(dir).sort()

  const reader = openStateReader(path)!
  try {
    assert.deepEqual(reader.accounts, {source: 'a@h:1', dest: 'b@h:2'})
    // Row 2 is pending: its source UID is not copied, and it holds no destination UID.
    assert.deepEqual(reader.copied('INBOX.Sent', 'Sent'), {sourceUidValidity: 7, uids: new Set([1, 3]), claimed: new Set([11, 13])})
    assert.equal(reader.copied('INBOX.Sent', 'Other'), undefined)
  } finally {
    reader.close()
    writer.close()
  }
  assert.ok(readdirSync(dir).every((name) => before.includes(name) || name.endsWith('-shm') || name.endsWith('-wal')))
  // And after the writer has gone (WAL checkpointed and removed): still readable.
  const again = openStateReader(path)!
  try {
    assert.deepEqual(again.copied('INBOX.Sent', 'Sent')?.uids, new Set([1, 3]))
  } finally {
    again.close()
  }
})

test('a database of a newer mailferry is refused', () => {
  const path = join(dir, 'newer.sqlite')
  const db = new Database(path)
  db.pragma('user_version = 999')
  db.close()
  assert.throws(() => openStateReader(path), (error) => error instanceof StateError && /schema version 999/.test(error.message))
})
