/**
 * The second and hundredth runs: flag changes, expunges (--delete-extraneous), --move, moves between
 * folders, --mirror, and the no-change fast path, against two real Dovecots.
 */
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {describe, test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {expunge, listUids, openClient, seed, setFlags, snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {freshUser, runCli, serversForFile, syncArgs, tempDir} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()

serversForFile(() => Promise.all([startDovecot({separator: '/'}), startDovecot({separator: '.'})]), (started) => ([source, dest] = started), tmp)

async function setup(folders: Record<string, number>) {
  const users = {source: freshUser('inc'), dest: freshUser('inc')}
  const state = join(tmp.dir, `${users.source}.sqlite`)
  let seedNo = 1
  const content = Object.fromEntries(
    Object.entries(folders).map(([folder, count]) => [folder, generateMessages(count, {seed: seedNo++ * 13})]),
  )
  await seed(source, users.source, content)
  const run = async (...extra: string[]) => {
    const {args, env} = syncArgs(source, dest, users, state)
    const result = await runCli([...args, '--json', ...extra], env)
    assert.equal(result.code, 0, `exit ${result.code}: ${result.stderr}`)
    return result.json
  }
  const equal = async () => assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
  return {users, run, equal}
}

describe('incremental sync', () => {
  test('flag and keyword changes on the source are reproduced exactly', async () => {
    const {users, run, equal} = await setup({INBOX: 10})
    await run()
    const uids = await listUids(source, users.source, 'INBOX')
    await setFlags(source, users.source, 'INBOX', uids.slice(0, 3), ['\\Flagged', 'Later'], 'add')
    await setFlags(source, users.source, 'INBOX', uids, ['\\Seen'], 'remove')
    await setFlags(source, users.source, 'INBOX', uids.slice(0, 1), ['Later'], 'remove')
    const second = await run()
    assert.equal(second.totals.copied, 0)
    assert.ok(second.totals.flagsUpdated >= 3)
    await equal()
  })

  test('a no-change run skips every folder after one STATUS; a change is still seen', async () => {
    const {users, run, equal} = await setup({INBOX: 5, Archive: 5, 'Archive/2020': 5})
    await run()
    const second = await run()
    assert.ok(second.folders.every((f: {unchanged: boolean}) => f.unchanged), JSON.stringify(second.folders))
    assert.equal(second.totals.alreadyPresent, 15)
    const [uid] = await listUids(source, users.source, 'Archive/2020')
    await setFlags(source, users.source, 'Archive/2020', [uid], ['$Important'], 'add')
    const third = await run()
    const changed = third.folders.filter((f: {unchanged: boolean}) => !f.unchanged)
    assert.deepEqual(changed.map((f: {source: string}) => f.source), ['Archive/2020'])
    assert.equal(changed[0].changesOnly, true, 'only the changed message was listed (CHANGEDSINCE)')
    assert.equal(changed[0].sourceMessages, 5)
    assert.equal(third.totals.flagsUpdated, 1)
    // An expunge comes back as VANISHED (EARLIER) from the same CHANGEDSINCE fetch (QRESYNC, which
    // Dovecot offers): still only the changes are listed, and the copy is deleted.
    await expunge(source, users.source, 'Archive', [(await listUids(source, users.source, 'Archive'))[0]])
    const [newUid] = await listUids(source, users.source, 'Archive')
    await setFlags(source, users.source, 'Archive', [newUid], ['$Qresync'], 'add')
    const fourth = await run('--delete-extraneous')
    const archive = fourth.folders.find((f: {source: string}) => f.source === 'Archive')
    assert.equal(archive.changesOnly, true, 'QRESYNC: no full listing after an expunge')
    assert.equal(archive.sourceMessages, 4)
    assert.equal(fourth.totals.deleted, 1)
    assert.equal(fourth.totals.flagsUpdated, 1)
    await equal()
    // Without CONDSTORE/QRESYNC the same is found by a full listing.
    await expunge(source, users.source, 'Archive', [newUid])
    const fifth = await run('--delete-extraneous', '--debug-no-condstore')
    assert.equal(fifth.folders.find((f: {source: string}) => f.source === 'Archive').changesOnly, false)
    assert.equal(fifth.totals.deleted, 1)
    await equal()
  })

  test('an expunge on the source: kept on the destination by default, deleted with --delete-extraneous', async () => {
    const {users, run, equal} = await setup({INBOX: 6})
    await run()
    const uids = await listUids(source, users.source, 'INBOX')
    await expunge(source, users.source, 'INBOX', uids.slice(0, 2))
    const kept = await run()
    assert.equal(kept.totals.deleted, 0)
    assert.equal((await listUids(dest, users.dest, 'INBOX')).length, 6)
    const deleted = await run('--delete-extraneous')
    assert.equal(deleted.totals.deleted, 2)
    await equal()
  })

  test('--move: the source ends empty, the destination holds what the source had', async () => {
    const {users, run} = await setup({INBOX: 5, Work: 4})
    const before = await snapshot(source, users.source)
    const result = await run('--move')
    assert.equal(result.totals.copied, 9)
    const sourceAfter = await snapshot(source, users.source)
    assert.deepEqual(Object.values(sourceAfter).flat(), [])
    assert.deepEqual(await snapshot(dest, users.dest), before)
    const again = await run('--move')
    assert.equal(again.totals.copied, 0)
  })

  test('a message moved between source folders is moved on the destination, not copied again', async () => {
    const {users, run, equal} = await setup({INBOX: 6, Projects: 2})
    await run()
    const [uid] = await listUids(source, users.source, 'INBOX')
    const client = await openClient(source, users.source)
    try {
      await client.mailboxOpen('INBOX')
      await client.messageMove(String(uid), 'Projects', {uid: true})
    } finally {
      await client.logout()
    }
    const result = await run('--delete-extraneous')
    assert.equal(result.totals.copied, 0, 'no APPEND')
    assert.equal(result.totals.moved, 1)
    assert.equal(result.totals.deleted, 0)
    await equal()
    const again = await run('--delete-extraneous')
    assert.equal(again.totals.copied + again.totals.moved + again.totals.deleted, 0)
  })

  test('moves between the first and the last of many folders are found whichever folder is prepared first', async () => {
    // More folders than are prepared at once: the first folder copies before the last one is listed.
    const folders = Object.fromEntries(['INBOX', 'F1', 'F2', 'F3', 'F4', 'F5', 'F6', 'Z'].map((name) => [name, 3]))
    const {users, run, equal} = await setup(folders)
    await run()
    const client = await openClient(source, users.source)
    try {
      await client.mailboxOpen('INBOX')
      await client.messageMove(String((await listUids(source, users.source, 'INBOX'))[0]), 'Z', {uid: true})
      await client.mailboxOpen('Z')
      await client.messageMove(String((await listUids(source, users.source, 'Z'))[0]), 'INBOX', {uid: true})
    } finally {
      await client.logout()
    }
    const result = await run()
    assert.equal(result.totals.copied, 0, 'no APPEND')
    assert.equal(result.totals.moved, 2)
    await equal()
    const again = await run('--delete-extraneous')
    assert.equal(again.totals.copied + again.totals.moved + again.totals.deleted, 0)
  })

  test('changes made only on the destination stay, unless --mirror', async () => {
    const {users, run, equal} = await setup({INBOX: 4})
    await run()
    const [uid] = await listUids(dest, users.dest, 'INBOX')
    await setFlags(dest, users.dest, 'INBOX', [uid], ['DestOnly'], 'add')
    await run()
    const destFlags = (await snapshot(dest, users.dest)).INBOX.flatMap((m) => m.flags)
    assert.ok(destFlags.includes('DestOnly'))
    const mirrored = await run('--mirror')
    assert.equal(mirrored.totals.flagsUpdated, 1)
    await equal()
  })
})

describe('--max-age, --min-age, --max-size (imapsync --maxage, --minage, --maxsize)', () => {
  test('only the selected messages are copied; the rest stay for a run without the selection', async () => {
    const users = {source: freshUser('sel'), dest: freshUser('sel')}
    const now = Date.now()
    // Whole seconds: INTERNALDATE has no milliseconds.
    const daysAgo = (days: number) => new Date(Math.floor((now - days * 86_400_000) / 1000) * 1000)
    const [old1, old2, recent1, recent2, recentBig] = generateMessages(4, {seed: 61, meanSize: 2000, largeSizes: [60_000]})
    const messages = [
      {...old1, internalDate: daysAgo(400)},
      {...old2, internalDate: daysAgo(45)},
      {...recent1, internalDate: daysAgo(2)},
      {...recent2, internalDate: daysAgo(20)},
      {...recentBig, internalDate: daysAgo(1)},
    ]
    await seed(source, users.source, {INBOX: messages})
    const {args, env} = syncArgs(source, dest, users, join(tmp.dir, `${users.source}.sqlite`))

    const first = await runCli([...args, '--json', '--max-age', '30', '--max-size', '50000'], env)
    assert.equal(first.code, 0, first.stderr)
    assert.equal(first.json.totals.copied, 2)
    assert.equal(first.json.totals.notSelected, 3)
    const copiedDates = (await snapshot(dest, users.dest)).INBOX.map((m) => m.internalDate).sort()
    assert.deepEqual(copiedDates, [messages[2], messages[3]].map((m) => m.internalDate.toISOString()).sort(), 'the two recent small ones')

    const window = await runCli([...args, '--json', '--min-age', '30', '--max-age', '100'], env)
    assert.equal(window.code, 0, window.stderr)
    assert.equal(window.json.totals.copied, 1, 'only the 45-day-old message')
    assert.equal(window.json.totals.notSelected, 2)

    const all = await runCli([...args, '--json'], env)
    assert.equal(all.code, 0, all.stderr)
    assert.equal(all.json.totals.copied, 2, 'the 400-day-old message and the 60 kB one, nothing twice')
    assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))

    const empty = await runCli([...args, '--min-age', '30', '--max-age', '10'], env)
    assert.equal(empty.code, 2)
    assert.match(empty.stderr, /--min-age.*not less than --max-age/)
  })
})
