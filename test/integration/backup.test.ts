/**
 * mailferry backup / restore against real Dovecot servers: IMAP -> Maildir -> IMAP.
 * Copies are judged by what servers return (snapshot(): BODY.PEEK[] hashes, FLAGS, INTERNALDATE),
 * and the backup directory also by a Dovecot that serves it as its own mail (Dovecot-compatibility).
 */
import assert from 'node:assert/strict'
import {chownSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, statSync} from 'node:fs'
import {join, relative} from 'node:path'
import {describe, test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {appendOne, folderTree, listUids, seed, setFlags, snapshot, withClient, type Snapshot} from '../harness/mailbox.js'
import {generateMessages, nastyMessages, type SeedMessage} from '../harness/messages.js'
import {freshUser, runCli, serversForFile, tempDir} from './cli.js'

/** Source: Maildir++ ('.'); restores go to a LAYOUT=fs ('/') server, so folder names are mapped too. */
let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir('mailferry-backup-test-')

serversForFile(() => Promise.all([startDovecot({separator: '.', name: 'bksrc'}), startDovecot({separator: '/', name: 'bkdst'})]), (started) => ([source, dest] = started), tmp)

const env = () => ({MF_TEST_SOURCE_PW: source.password, MF_TEST_DEST_PW: dest.password})

function mailbox(seedValue = 11): Record<string, SeedMessage[]> {
  const generated = generateMessages(45, {seed: seedValue})
  return {
    INBOX: [...nastyMessages(), ...generated.slice(0, 15)],
    'Work/Projects 2024': generated.slice(15, 30),
    'Entwürfe': generated.slice(30, 38),
    'Lists/a&b list': generated.slice(38),
  }
}

const count = (snap: Snapshot) => Object.values(snap).reduce((n, list) => n + list.length, 0)

function backup(user: string, dir: string, extra: string[] = []) {
  return runCli(
    ['backup', '--source', `imap://${user}@127.0.0.1:${source.port}`, '--source-tls', 'none', '--source-password-env', 'MF_TEST_SOURCE_PW', '--to', dir, '--json', ...extra],
    env(),
  )
}

function restore(dir: string, user: string, state: string, extra: string[] = []) {
  return runCli(
    ['restore', '--from', dir, '--dest', `imap://${user}@127.0.0.1:${dest.port}`, '--dest-tls', 'none', '--dest-password-env', 'MF_TEST_DEST_PW', '--state', state, '--json', ...extra],
    env(),
  )
}

function assertOk(run: Awaited<ReturnType<typeof backup>>, what: string) {
  assert.equal(run.code, 0, `${what}: exit ${run.code}\nstdout: ${run.stdout.slice(0, 2000)}\nstderr: ${run.stderr.slice(0, 2000)}`)
  assert.ok(run.json, `${what}: a JSON report on stdout`)
  assert.equal(run.json.totals.failed, 0, `${what}: no failures`)
}

const isState = (name: string) => name.startsWith('mailferry-state.sqlite')

/** Every file and directory of a backup (but its state database): path -> mtime and size. */
function listing(root: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (dir === root && isState(name)) continue
      const path = join(dir, name)
      const st = lstatSync(path)
      out[relative(root, path)] = `${st.isDirectory() ? 'dir' : st.size} ${st.mtimeMs}`
      if (st.isDirectory()) walk(path)
    }
  }
  walk(root)
  return out
}

/** Message files of a backup: "<folder dir>/<base>" -> {info, mtime, size}. */
function messageFiles(root: string): Map<string, {info: string; stamp: string}> {
  const out = new Map<string, {info: string; stamp: string}>()
  for (const [path, stamp] of Object.entries(listing(root))) {
    const match = /^(?:(.*)\/)?(cur|new)\/([^/]+)$/.exec(path)
    if (!match) continue
    const colon = match[3].lastIndexOf(':')
    const base = colon === -1 ? match[3] : match[3].slice(0, colon)
    out.set(`${match[1] ?? ''}/${base}`, {info: colon === -1 ? '' : match[3].slice(colon + 1), stamp})
  }
  return out
}

/**
 * A Dovecot serving the backup as a user's own Maildir (Maildir++ layout, Dovecot's defaults): a
 * copy, owned by the instance's mail user, so the test Dovecot's index files stay out of the backup.
 */
function serveWithDovecot(instance: DovecotInstance, backupDir: string): string {
  const user = freshUser('served')
  const home = join(instance.dir, 'home', user)
  mkdirSync(home)
  cpSync(backupDir, join(home, 'Maildir'), {recursive: true, preserveTimestamps: true, filter: (src) => !isState(src.split('/').pop()!)})
  const {uid, gid} = statSync(join(instance.dir, 'home'))
  const chownAll = (path: string) => {
    chownSync(path, uid, gid)
    if (statSync(path).isDirectory()) for (const name of readdirSync(path)) chownAll(join(path, name))
  }
  chownAll(home)
  return user
}

interface FirstBackup {
  user: string
  dir: string
  expected: Snapshot
  total: number
}

let firstBackup: Promise<FirstBackup> | undefined

/** One account backed up once, shared by the backup and the restore test (which run at the same time). */
function backedUp(): Promise<FirstBackup> {
  firstBackup ??= (async () => {
    const user = freshUser('bk')
    const dir = join(tmp.dir, user)
    await seed(source, user, mailbox())
    const expected = await snapshot(source, user)
    const total = count(expected)
    const first = await backup(user, dir)
    assertOk(first, 'first backup')
    assert.equal(first.json.totals.copied, total)
    assert.equal(first.json.dest, `maildir:${dir}`)
    assert.equal(first.json.statePath, join(dir, 'mailferry-state.sqlite'), 'the backup keeps its own state')
    return {user, dir, expected, total}
  })()
  return firstBackup
}

describe('mailferry backup and restore', {concurrency: true}, () => {
  test('IMAP -> Maildir: Dovecot layout and modes; Dovecot serves the backup as the source; a second run writes nothing', async () => {
    const {user, dir, expected, total} = await backedUp()
    assert.equal(statSync(join(dir, 'mailferry-state.sqlite')).mode & 0o777, 0o600)
    assert.equal(statSync(dir).mode & 0o777, 0o700)
    for (const folder of ['.Entw&APw-rfe', '.Lists.a&-b list', '.Work.Projects 2024']) assert.ok(existsSync(join(dir, folder, 'cur')), folder)
    assert.deepEqual(await snapshot(source, user), expected, 'the source is untouched')

    const served = serveWithDovecot(source, dir)
    assert.deepEqual(await snapshot(source, served), expected, 'Dovecot serves every message of the backup with its flags, keywords and date')
    assert.deepEqual(await folderTree(source, served), await folderTree(source, user))

    const before = listing(dir)
    const second = await backup(user, dir)
    assertOk(second, 'second backup')
    assert.equal(second.json.totals.copied, 0)
    assert.equal(second.json.totals.alreadyPresent, total)
    assert.deepEqual(listing(dir), before, 'a second run changes no file and no directory')
  })

  test('Maildir -> IMAP: the restored account equals the source (byte-identical, flags, keywords, dates); a re-run copies nothing', async () => {
    const {user, dir, expected, total} = await backedUp()
    const restored = freshUser('restored')
    const state = join(tmp.dir, `${restored}.sqlite`)
    const back = await restore(dir, restored, state)
    assertOk(back, 'restore')
    assert.equal(back.json.totals.copied, total)
    assert.deepEqual(await snapshot(dest, restored), expected, 'the restored account equals the source')
    assert.deepEqual(await folderTree(dest, restored), await folderTree(source, user))

    const again = await restore(dir, restored, state)
    assertOk(again, 'second restore')
    assert.equal(again.json.totals.copied, 0)
    assert.deepEqual(await snapshot(dest, restored), expected)
  })

  test('after flag changes only file names change; new mail adds only its file; Dovecot sees the new flags', async () => {
    const user = freshUser('bkflags')
    const dir = join(tmp.dir, user)
    await seed(source, user, mailbox(12))
    assertOk(await backup(user, dir), 'first backup')
    const before = messageFiles(dir)
    const uidlists = Object.entries(listing(dir)).filter(([path]) => path.endsWith('dovecot-uidlist'))

    const inbox = await listUids(source, user, 'INBOX')
    await setFlags(source, user, 'INBOX', inbox.slice(0, 5), ['\\Flagged', 'Later'], 'add')
    await setFlags(source, user, 'Entwürfe', 'all', ['\\Seen'], 'remove')
    await setFlags(source, user, 'Work/Projects 2024', (await listUids(source, user, 'Work/Projects 2024')).slice(0, 3), ['\\Answered', '$Forwarded'], 'add')
    const expected = await snapshot(source, user)

    const run = await backup(user, dir)
    assertOk(run, 'backup after flag changes')
    assert.equal(run.json.totals.copied, 0)
    const after = messageFiles(dir)
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort(), 'the same message files')
    let renamed = 0
    for (const [key, now] of after) {
      assert.equal(now.stamp, before.get(key)!.stamp, `${key}: contents and mtime (INTERNALDATE) unchanged`)
      if (now.info !== before.get(key)!.info) renamed++
    }
    assert.ok(renamed > 0)
    assert.equal(renamed, run.json.totals.flagsUpdated, 'one rename per message whose flags changed')
    const listedNow = listing(dir)
    for (const [path, stamp] of uidlists) assert.equal(listedNow[path], stamp, `${path} unchanged: no UID was added`)

    const served = serveWithDovecot(source, dir)
    assert.deepEqual(await snapshot(source, served), expected, 'Dovecot reads the new flags and keywords')

    await appendOne(source, user, 'INBOX', {raw: Buffer.from('From: late@example.org\r\nSubject: late\r\n\r\nnew mail\r\n'), flags: ['NonJunk'], internalDate: new Date('2024-01-02T03:04:05Z')})
    const added = await backup(user, dir)
    assertOk(added, 'backup of new mail')
    assert.equal(added.json.totals.copied, 1)
    const withNew = messageFiles(dir)
    assert.deepEqual([...withNew.keys()].filter((key) => !after.has(key)).map((key) => key.split('/')[0]), [''], 'exactly one new file, in INBOX')
  })

  test('a fresh state database recognises the whole backup: no message written twice', async () => {
    const user = freshUser('bkstateless')
    const dir = join(tmp.dir, user)
    await seed(source, user, mailbox(13))
    const first = await backup(user, dir)
    assertOk(first, 'first backup')
    const before = messageFiles(dir)
    const stateless = await backup(user, dir, ['--state', join(tmp.dir, `${user}-other.sqlite`)])
    assertOk(stateless, 'backup with a new state database')
    assert.equal(stateless.json.totals.copied, 0)
    assert.equal(stateless.json.totals.recognised, first.json.totals.copied, 'size, Message-ID and header hash agree with the IMAP side')
    const after = messageFiles(dir)
    assert.deepEqual([...after.entries()].map(([key, file]) => [key, file.stamp]), [...before.entries()].map(([key, file]) => [key, file.stamp]), 'no file written or removed')
    // nastyMessages() holds two byte-identical messages with one INTERNALDATE and different flags.
    // Nothing tells them apart, so a state-less run may pair them crosswise and swap their flags:
    // the folder is still the same multiset (checked through Dovecot below).
    const renamed = [...after].filter(([key, file]) => file.info !== before.get(key)!.info)
    assert.ok(renamed.length === 0 || (renamed.length === 2 && stateless.json.totals.flagsUpdated === 2), `only the twins may swap flags: ${renamed.map(([key]) => key)}`)
    assert.deepEqual(await snapshot(source, serveWithDovecot(source, dir)), await snapshot(source, user))
  })

  test('kill -9 during a backup, then resume: nothing missing, nothing twice', async () => {
    const user = freshUser('bkkill')
    const dir = join(tmp.dir, user)
    // Enough mail that each kill point is reached however many copies run at once: a kill after the
    // 3rd APPEND may find every copy in flight (256 at --concurrency 4) stored already.
    await seed(source, user, {...mailbox(14), Bulk: generateMessages(600, {seed: 3, meanSize: 1500})})
    for (const point of ['after-append:3', 'before-append:5', 'after-append:9']) {
      const killed = await backup(user, dir, ['--debug-kill-at', point])
      assert.equal(killed.signal, 'SIGKILL', `--debug-kill-at ${point}: ${killed.stderr}`)
    }
    const resumed = await backup(user, dir)
    assertOk(resumed, 'resumed backup')
    assert.ok(resumed.json.totals.recognised >= 1, 'a message stored just before a kill is recognised, not stored again')
    const expected = await snapshot(source, user)
    assert.equal(messageFiles(dir).size, count(expected), 'one file per message')
    assert.deepEqual(await snapshot(source, serveWithDovecot(source, dir)), expected)
  })

  test('a message moved on the source is moved in the backup, not stored again', async () => {
    const user = freshUser('bkmove')
    const dir = join(tmp.dir, user)
    await seed(source, user, {INBOX: generateMessages(8, {seed: 17}), Archive: generateMessages(2, {seed: 18})})
    assertOk(await backup(user, dir), 'first backup')
    const files = messageFiles(dir).size
    const [uid] = await listUids(source, user, 'INBOX')
    await withClient(source, user, async (client) => {
      await client.mailboxOpen('INBOX')
      await client.messageMove(String(uid), 'Archive', {uid: true})
    })
    const run = await backup(user, dir)
    assertOk(run, 'backup after the move')
    assert.equal(run.json.totals.copied, 0)
    assert.equal(run.json.totals.moved, 1)
    assert.equal(messageFiles(dir).size, files, 'no file added')
    assert.deepEqual(await snapshot(source, serveWithDovecot(source, dir)), await snapshot(source, user))
  })

  test("restores a Maildir that Dovecot itself wrote (LF line ends, new/, Dovecot's keywords)", async () => {
    const user = freshUser('dovecotmd')
    await seed(source, user, mailbox(15))
    const expected = await snapshot(source, user)
    const restored = freshUser('fromdovecot')
    const run = await restore(`maildir:${join(source.dir, 'home', user, 'Maildir')}`, restored, join(tmp.dir, `${restored}.sqlite`))
    assertOk(run, 'restore from a Dovecot Maildir')
    assert.equal(run.json.totals.copied, count(expected))
    assert.deepEqual(await snapshot(dest, restored), expected)
  })

  test('a dry run before the first backup writes nothing; mistakes in --to and --from exit 2', async () => {
    const user = freshUser('bkdry')
    await seed(source, user, {INBOX: generateMessages(3, {seed: 16})})
    const dir = join(tmp.dir, user)
    const dry = await backup(user, dir, ['--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    assert.ok(!existsSync(dir), 'nothing created')

    const missing = await restore(join(tmp.dir, 'no-such-backup'), freshUser('x'), join(tmp.dir, 'x.sqlite'))
    assert.equal(missing.code, 2, missing.stderr)
    assert.match(missing.stderr, /no Maildir there/)
    const url = await backup(user, 'imaps://someone@example.com')
    assert.equal(url.code, 2)
    assert.match(url.stderr, /--to: expected a directory/)
  })
})
