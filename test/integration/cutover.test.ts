/**
 * The end of a migration: --move and the deletions prove what they delete on the servers, survive
 * kill -9 between their steps, never expunge blindly, and report what a server refused. Real Dovecots.
 */
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import Database from 'better-sqlite3'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {appendOne, deleteFolder, expunge, folderTree, listUids, seed, setFlags, snapshot, type Snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {freshUser, runCli, syncArgs, tempDir} from './cli.js'

/** Dovecot 2.3's own list without UIDPLUS: a server that can only EXPUNGE every \Deleted message. */
const WITHOUT_UIDPLUS =
  'IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS ' +
  'THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE LIST-EXTENDED I18NLEVEL=1 ' +
  'CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE LITERAL+ SPECIAL-USE'

let source: DovecotInstance
let dest: DovecotInstance
let noUidplus: DovecotInstance
const tmp = tempDir()

before(async () => {
  ;[source, dest, noUidplus] = await Promise.all([
    // Keywords up to 200 characters here, 50 (the default) on the destination: a STORE it refuses.
    startDovecot({separator: '/', extraConfig: 'mail_max_keyword_length = 200\n'}),
    startDovecot({separator: '.'}),
    startDovecot({separator: '/', extraConfig: `imap_capability = ${WITHOUT_UIDPLUS}\n`}),
  ])
})
after(async () => {
  await Promise.all([source?.stop(), dest?.stop(), noUidplus?.stop()])
  tmp.cleanup()
})

async function setup(folders: Record<string, number>, servers = {source: () => source, dest: () => dest}) {
  const users = {source: freshUser('cut'), dest: freshUser('cut')}
  const state = join(tmp.dir, `${users.source}.sqlite`)
  let seedNo = 1
  await seed(
    servers.source(),
    users.source,
    Object.fromEntries(Object.entries(folders).map(([folder, count]) => [folder, generateMessages(count, {seed: seedNo++ * 29})])),
  )
  const original = await snapshot(servers.source(), users.source)
  const run = (...extra: string[]) => {
    const {args, env} = syncArgs(servers.source(), servers.dest(), users, state)
    return runCli([...args, '--json', ...extra], env)
  }
  return {users, run, original}
}

const count = (snap: Snapshot) => Object.values(snap).reduce((n, messages) => n + messages.length, 0)
const emptied = (snap: Snapshot) => Object.fromEntries(Object.keys(snap).map((folder) => [folder, []]))

describe('cutover: --move and deletions', () => {
  test('copies deleted on the destination since the copy are copied again before --move deletes their source', async () => {
    const {users, run, original} = await setup({INBOX: 45, Work: 12})
    assert.equal((await run()).code, 0)
    // A retention policy, a user or a restored snapshot removed three copies.
    const destUids = await listUids(dest, users.dest, 'INBOX')
    await expunge(dest, users.dest, 'INBOX', [destUids[3], destUids[17], destUids[40]])
    const moved = await run('--move')
    assert.equal(moved.code, 0, moved.stderr)
    assert.equal(moved.json.totals.copied, 3)
    assert.equal(moved.json.totals.sourceDeleted, 57)
    assert.ok(moved.json.warnings.some((w: string) => /3 copies were missing .* copied again/.test(w)), JSON.stringify(moved.json.warnings))
    assert.deepEqual(await snapshot(dest, users.dest), original, 'all 57 on the destination, byte for byte, once each')
    assert.deepEqual(await snapshot(source, users.source), emptied(original))
  })

  for (const killAt of ['before-append:2', 'after-append:2']) {
    test(`kill -9 at ${killAt} while --move copies missing copies again: the re-run ends exact`, async () => {
      const {users, run, original} = await setup({INBOX: 10})
      assert.equal((await run()).code, 0)
      const destUids = await listUids(dest, users.dest, 'INBOX')
      await expunge(dest, users.dest, 'INBOX', [destUids[1], destUids[5], destUids[8]])
      const killed = await run('--move', '--debug-kill-at', killAt)
      assert.equal(killed.signal, 'SIGKILL', killed.stderr)
      assert.equal(count(await snapshot(source, users.source)), 10, 'no source message deleted before every copy was proven')
      const resumed = await run('--move')
      assert.equal(resumed.code, 0, resumed.stderr)
      assert.deepEqual(await snapshot(dest, users.dest), original)
      assert.deepEqual(await snapshot(source, users.source), emptied(original))
    })
  }

  test('--move without destination UIDs (no APPENDUID) proves each copy byte for byte, identical copies included', async () => {
    const users = {source: freshUser('cut'), dest: freshUser('cut')}
    const messages = generateMessages(5, {seed: 71})
    // Two byte-identical messages: each needs a copy of its own before either source goes.
    await seed(source, users.source, {INBOX: [...messages, messages[2]]})
    const original = await snapshot(source, users.source)
    const {args, env} = syncArgs(source, dest, users, join(tmp.dir, `${users.source}.sqlite`))
    const moved = await runCli([...args, '--json', '--move', '--debug-ignore-appenduid'], env)
    assert.equal(moved.code, 0, moved.stderr)
    assert.equal(moved.json.totals.sourceDeleted, 6)
    assert.deepEqual(await snapshot(dest, users.dest), original)
    assert.deepEqual(await snapshot(source, users.source), emptied(original))
  })

  for (const killAt of ['before-expunge:1', 'after-expunge:1', 'after-expunge:2']) {
    test(`kill -9 at ${killAt} of --move: no message without a copy, the re-run finishes, tombstones stay`, async () => {
      const {users, run, original} = await setup({INBOX: 8, Work: 5})
      assert.equal((await run()).code, 0)
      const killed = await run('--move', '--debug-kill-at', killAt)
      assert.equal(killed.signal, 'SIGKILL', `the run was killed at ${killAt}: ${killed.stderr}`)
      // Every message is still on the destination (proven before any expunge) and none twice.
      assert.deepEqual(await snapshot(dest, users.dest), original)
      const left = count(await snapshot(source, users.source))
      if (killAt === 'before-expunge:1') assert.equal(left, 13, 'nothing expunged yet')
      else assert.ok(left < 13, `the expunge ran before the kill (${left} left)`)
      const resumed = await run('--move')
      assert.equal(resumed.code, 0, resumed.stderr)
      assert.equal(resumed.json.totals.copied, 0)
      assert.deepEqual(await snapshot(source, users.source), emptied(original))
      assert.deepEqual(await snapshot(dest, users.dest), original)
      // The copies of moved messages are not extraneous: their source is gone by our hand.
      const cleanup = await run('--delete-extraneous')
      assert.equal(cleanup.code, 0, cleanup.stderr)
      assert.equal(cleanup.json.totals.deleted, 0)
      assert.deepEqual(await snapshot(dest, users.dest), original)
    })
  }

  for (const killAt of ['before-delete:1', 'after-delete:1']) {
    test(`kill -9 at ${killAt} of --delete-extraneous: the copies of the source's mail stay, the re-run finishes the deletion`, async () => {
      const {users, run} = await setup({INBOX: 8})
      assert.equal((await run()).code, 0)
      await expunge(source, users.source, 'INBOX', (await listUids(source, users.source, 'INBOX')).slice(0, 3))
      const killed = await run('--delete-extraneous', '--debug-kill-at', killAt)
      assert.equal(killed.signal, 'SIGKILL', `the run was killed at ${killAt}: ${killed.stderr}`)
      const left = (await snapshot(dest, users.dest)).INBOX.length
      assert.equal(left, killAt === 'before-delete:1' ? 8 : 5, 'the kill came before/after the destination expunge')
      const resumed = await run('--delete-extraneous')
      assert.equal(resumed.code, 0, resumed.stderr)
      assert.equal(resumed.json.totals.copied, 0)
      assert.equal(resumed.json.totals.deleted, killAt === 'before-delete:1' ? 3 : 0)
      assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
    })
  }

  test('a --move cut off between its STORE \\Deleted and UID EXPUNGE: the flag is not copied, the re-run finishes', async () => {
    const {users, run, original} = await setup({INBOX: 6})
    assert.equal((await run()).code, 0)
    // The state and the source as that kill leaves them (with folders moved in parallel, another
    // folder's kill point can land there): rows 'moving', sources flagged \Deleted, not expunged.
    const uids = await listUids(source, users.source, 'INBOX')
    await setFlags(source, users.source, 'INBOX', uids, ['\\Deleted'], 'add')
    const db = new Database(join(tmp.dir, `${users.source}.sqlite`))
    db.prepare("UPDATE messages SET status = 'moving'").run()
    db.close()
    const plain = await run()
    assert.equal(plain.code, 0, plain.stderr)
    assert.ok(plain.json.warnings.some((w: string) => /6 messages still carry the \\Deleted flag of an interrupted --move/.test(w)), JSON.stringify(plain.json.warnings))
    assert.deepEqual(await snapshot(dest, users.dest), original, 'no \\Deleted reached the copies')
    const moved = await run('--move')
    assert.equal(moved.code, 0, moved.stderr)
    assert.deepEqual(await snapshot(dest, users.dest), original)
    assert.deepEqual(await snapshot(source, users.source), emptied(original))
  })

  test('--move on a source without UIDPLUS is refused before anything is written; its \\Deleted mail stays', async () => {
    const {users, run, original} = await setup({INBOX: 4}, {source: () => noUidplus, dest: () => dest})
    const [first] = await listUids(noUidplus, users.source, 'INBOX')
    await setFlags(noUidplus, users.source, 'INBOX', [first], ['\\Deleted'], 'add')
    const before = await snapshot(noUidplus, users.source)
    const refused = await run('--move')
    assert.equal(refused.code, 2, refused.stderr)
    assert.match(refused.stderr, /--move: the source server lacks UIDPLUS/)
    assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace')
    assert.deepEqual(await snapshot(noUidplus, users.source), before)
    assert.equal(count(await snapshot(dest, users.dest)), 0, 'nothing copied')
    assert.equal(count(original), 4)
  })

  test('--delete-extraneous onto a destination without UIDPLUS is refused', async () => {
    const {run} = await setup({INBOX: 2}, {source: () => source, dest: () => noUidplus})
    const refused = await run('--delete-extraneous')
    assert.equal(refused.code, 2, refused.stderr)
    assert.match(refused.stderr, /--delete-extraneous: the destination server lacks UIDPLUS/)
  })

  test('a flag STORE the destination refuses is a reported failure, not recorded as synced', async () => {
    const {users, run} = await setup({INBOX: 3})
    assert.equal((await run()).code, 0)
    const [a, b] = await listUids(source, users.source, 'INBOX')
    const long = `K${'x'.repeat(59)}`
    await setFlags(source, users.source, 'INBOX', [a], [long], 'add')
    await setFlags(source, users.source, 'INBOX', [b], ['\\Flagged'], 'add')
    for (let attempt = 1; attempt <= 2; attempt++) {
      const result = await run()
      assert.equal(result.code, 1, `attempt ${attempt}: ${result.stderr}`)
      assert.equal(result.json.failures.length, 1, JSON.stringify(result.json.failures))
      assert.equal(result.json.failures[0].uid, a)
      assert.match(result.json.failures[0].reason, /flags not updated: .*refused UID STORE: Keyword length too long/)
      // The other change went through (once: the second attempt has nothing left for it).
      assert.equal(result.json.totals.flagsUpdated, attempt === 1 ? 1 : 0)
    }
    const flagged = (await snapshot(dest, users.dest)).INBOX.filter((m) => m.flags.includes('\\Flagged'))
    assert.equal(flagged.length, 1)
  })

  test('a CREATE the destination refuses fails that folder only (exit 5); the others are copied', async () => {
    // Two 150-character levels are two directories on the source ('/', fs layout) but one 302-character
    // directory name on the Maildir++ destination: Dovecot answers NO.
    const long = `${'A'.repeat(150)}/${'B'.repeat(150)}`
    const {users, run} = await setup({INBOX: 2, Work: 3, [long]: 2})
    const result = await run()
    assert.equal(result.code, 5, result.stderr)
    const failed = result.json.folders.filter((f: {error?: string}) => f.error)
    assert.equal(failed.length, 1, JSON.stringify(result.json.folders))
    assert.equal(failed[0].source, long)
    assert.match(failed[0].error, /could not create .*: .*NO|Not found|too long/)
    assert.equal(result.json.totals.copied, 5)
    assert.equal(count(await snapshot(dest, users.dest)), 5)
  })

  test('--delete-extraneous-folders deletes a folder whose source is gone, and keeps one that holds other mail', async () => {
    const {users, run} = await setup({INBOX: 2, Old: 3, Shared: 2})
    assert.equal((await run()).code, 0)
    await appendOne(dest, users.dest, 'Shared', generateMessages(1, {seed: 97})[0])
    await deleteFolder(source, users.source, 'Old')
    await deleteFolder(source, users.source, 'Shared')
    const result = await run('--delete-extraneous-folders')
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(result.json.foldersDeleted, ['Old'])
    assert.ok(result.json.warnings.some((w: string) => /Shared: source folder Shared is gone, but the destination folder still holds 1 messages/.test(w)), JSON.stringify(result.json.warnings))
    const tree = await folderTree(dest, users.dest)
    assert.ok(!tree.includes('Old') && tree.includes('Shared'), tree.join(', '))
    assert.equal((await snapshot(dest, users.dest)).Shared.length, 1, "only the user's own message is left")
  })

  test('--folders-only with --delete-extraneous-folders keeps every current folder', async () => {
    const {users, run, original} = await setup({INBOX: 2, Work: 2, 'Work/2024': 2})
    assert.equal((await run()).code, 0)
    const foldersOnly = await run('--folders-only', '--delete-extraneous-folders')
    assert.equal(foldersOnly.code, 0, foldersOnly.stderr)
    assert.deepEqual(foldersOnly.json.foldersDeleted, [])
    assert.deepEqual(await snapshot(dest, users.dest), original)
    assert.ok((await folderTree(dest, users.dest)).includes('Work/2024'))
  })
})
