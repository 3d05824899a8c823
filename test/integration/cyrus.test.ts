/**
 * mailferry sync from a real Dovecot (separator '/', no prefix) to a real Cyrus IMAP 3.x (classic
 * style: separator '.', personal folders under "INBOX.") and back, judged by what the servers return
 * (BODY.PEEK[] hashes, FLAGS, INTERNALDATE), also with Cyrus's imapd processes killed mid-run.
 * Skipped when Cyrus cannot be run here (see
 * cyrusAvailable() in test/harness/cyrus.ts).
 */
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import {cyrusAvailable, startCyrus, type CyrusInstance} from '../harness/cyrus.js'
import {processGroup, startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {folderTree, seed, snapshot, withClient} from '../harness/mailbox.js'
import {generateMessages, type SeedMessage} from '../harness/messages.js'
import {copiedInLog, freshUser, runCli, syncArgs, tempDir} from './cli.js'

const skip = await cyrusAvailable()
if (skip) console.log(`cyrus.test.ts skipped: ${skip}`)

let source: DovecotInstance
let cyrus: CyrusInstance
const tmp = tempDir()

describe('mailferry sync between Dovecot and Cyrus', {skip}, () => {
  before(async () => {
    ;[source, cyrus] = await Promise.all([startDovecot({separator: '/', name: 'to-cyrus'}), startCyrus({name: 'dest'})])
  })
  after(async () => {
    await Promise.all([source?.stop(), cyrus?.stop()])
    tmp.cleanup()
  })

  function mailbox(): Record<string, SeedMessage[]> {
    const generated = generateMessages(60, {seed: 11})
    return {
      INBOX: generated.slice(0, 25),
      Sent: generated.slice(25, 40),
      // Cyrus creates a parent as a real (selectable, empty) mailbox; Dovecot only lists it as
      // \Noselect. The parent is a real folder here, so both servers have it.
      Work: generated.slice(40, 45),
      'Work/Projects 2024': generated.slice(45, 60),
    }
  }

  type Server = {port: number; password: string}

  async function sync(users: {source: string; dest: string}, state: string, from: Server = source, to: Server = cyrus, extra: string[] = []) {
    return runCli(
      [
        'sync',
        '--source', `imap://${encodeURIComponent(users.source)}@127.0.0.1:${from.port}`,
        '--source-tls', 'none',
        '--source-password-env', 'MF_TEST_SOURCE_PW',
        '--dest', `imap://${encodeURIComponent(users.dest)}@127.0.0.1:${to.port}`,
        '--dest-tls', 'none',
        '--dest-password-env', 'MF_TEST_DEST_PW',
        '--state', state,
        '--json',
        ...extra,
      ],
      {MF_TEST_SOURCE_PW: from.password, MF_TEST_DEST_PW: to.password},
    )
  }

  function assertOk(run: Awaited<ReturnType<typeof sync>>) {
    assert.equal(run.code, 0, `exit ${run.code}\nstdout: ${run.stdout.slice(0, 3000)}\nstderr: ${run.stderr.slice(0, 3000)}`)
    assert.ok(run.json, 'a JSON report on stdout')
  }

  test('copies INBOX, Sent and a nested folder exactly into INBOX.* on Cyrus; a second run copies nothing', async () => {
    const users = {source: freshUser('cy-src'), dest: freshUser('cy-dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    await seed(source, users.source, mailbox())
    const sourceBefore = await snapshot(source, users.source)
    const total = Object.values(sourceBefore).reduce((n, list) => n + list.length, 0)
    assert.equal(total, 60)

    const logFile = join(tmp.dir, `${users.source}.log`)
    const first = await sync(users, state, source, cyrus, ['--debug-imap', '--log-file', logFile])
    assertOk(first)
    assert.equal(first.json.totals.failed, 0, JSON.stringify(first.json.totals))
    assert.equal(first.json.totals.copied, total)
    assert.deepEqual(await snapshot(cyrus, users.dest), sourceBefore, 'every message, flag and date on Cyrus')
    // Cyrus offers MULTIAPPEND (RFC 3502): the copies went in batches on the pipelined connections.
    assert.match(readFileSync(logFile, 'utf8'), /destination#pipe\d+ C: P\d+ APPEND "[^"]+" \((?:[2-9]|\d{2,}) messages/)
    assert.deepEqual(await snapshot(source, users.source), sourceBefore, 'the source is unchanged')
    assert.deepEqual(await folderTree(cyrus, users.dest), await folderTree(source, users.source))
    const raw = await withClient(cyrus, users.dest, async (client) => (await client.list()).map((entry) => entry.path).sort())
    assert.deepEqual(raw, ['INBOX', 'INBOX.Sent', 'INBOX.Work', 'INBOX.Work.Projects 2024'], 'Cyrus names, with the INBOX. prefix')

    const second = await sync(users, state)
    assertOk(second)
    assert.equal(second.json.totals.copied, 0)
    assert.equal(second.json.totals.failed, 0)
    assert.deepEqual(await snapshot(cyrus, users.dest), sourceBefore, 'nothing appended twice')
  })

  test('and back: Cyrus as the source, Dovecot as the destination', async () => {
    const users = {source: freshUser('cy-back-src'), dest: freshUser('cy-back-dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    await seed(cyrus, users.source, mailbox())
    const sourceBefore = await snapshot(cyrus, users.source)
    const total = Object.values(sourceBefore).reduce((n, list) => n + list.length, 0)

    const first = await sync(users, state, cyrus, source)
    assertOk(first)
    assert.equal(first.json.totals.failed, 0, JSON.stringify(first.json.totals))
    assert.equal(first.json.totals.copied, total)
    assert.deepEqual(await snapshot(source, users.dest), sourceBefore)
    assert.deepEqual(await snapshot(cyrus, users.source), sourceBefore, 'the Cyrus source is unchanged (\\Seen too)')

    const second = await sync(users, state, cyrus, source)
    assertOk(second)
    assert.equal(second.json.totals.copied, 0)
  })

  test("Cyrus's imapd processes SIGKILLed twice mid-run: the run reconnects and completes, nothing twice", async () => {
    const users = {source: freshUser('cy-kill-src'), dest: freshUser('cy-kill-dst')}
    await seed(source, users.source, {INBOX: generateMessages(100, {seed: 21, meanSize: 3000}), Archive: generateMessages(100, {seed: 22, meanSize: 3000})})
    const logFile = join(tmp.dir, `${users.source}.log`)
    const running = runCli(
      [
        'sync',
        '--source', `imap://${encodeURIComponent(users.source)}@127.0.0.1:${source.port}`, '--source-tls', 'none', '--source-password-env', 'MF_TEST_SOURCE_PW',
        '--dest', `imap://${encodeURIComponent(users.dest)}@127.0.0.1:${cyrus.port}`, '--dest-tls', 'none', '--dest-password-env', 'MF_TEST_DEST_PW',
        '--state', join(tmp.dir, `${users.source}.sqlite`), '--json',
        // ~2.5 s of copying, so that the kills land in the middle.
        '--max-messages-per-second', '80', '--retry-max-delay', '2', '--log-file', logFile,
      ],
      {MF_TEST_SOURCE_PW: source.password, MF_TEST_DEST_PW: cyrus.password},
    )
    let killed = 0
    for (const copied of [40, 110]) {
      await copiedInLog(logFile, copied)
      killed += killImapd()
    }
    const run = await running
    assert.ok(killed > 0, "Cyrus's imapd processes were found and killed")
    assertOk(run)
    assert.equal(run.json.totals.failed, 0)
    assert.deepEqual(await snapshot(cyrus, users.dest), await snapshot(source, users.source), JSON.stringify(run.json.totals))
  })

  function killImapd(): number {
    const pids = processGroup(cyrus.pid).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'imapd'
      } catch {
        return false
      }
    })
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone already
      }
    }
    return pids.length
  }
})

describe('check against a Cyrus quota', {skip}, () => {
  let from: DovecotInstance
  let limited: CyrusInstance
  const QUOTA_KB = 300
  const dir = tempDir()
  before(async () => {
    ;[from, limited] = await Promise.all([startDovecot({separator: '/', name: 'to-cyrus-quota'}), startCyrus({name: 'quota', quotaKb: QUOTA_KB})])
  })
  after(async () => {
    await Promise.all([from?.stop(), limited?.stop()])
    dir.cleanup()
  })

  test('check reads the quota Cyrus sets (GETQUOTAROOT) and says the copy does not fit; the sync then meets its over-quota refusals', async () => {
    const users = {source: freshUser('cyq-src'), dest: freshUser('cyq-dst')}
    const messages = generateMessages(30, {seed: 17, meanSize: 30_000})
    const bytes = messages.reduce((sum, m) => sum + m.raw.length, 0)
    assert.ok(bytes > 2 * QUOTA_KB * 1024, `only ${bytes} bytes to copy`)
    await seed(from, users.source, {INBOX: messages})
    const state = join(dir.dir, `${users.dest}.sqlite`)
    const {args, env} = syncArgs(from, limited, users, state)
    const checked = await runCli(['check', ...args.slice(1), '--json'], env)
    assert.equal(checked.code, 1, `${checked.stdout.slice(0, 2000)}\n${checked.stderr}`)
    assert.equal(checked.json.quota.length, 1)
    const [quota] = checked.json.quota
    assert.equal(quota.storage.limit, QUOTA_KB * 1024)
    assert.equal(quota.storage.toCopy, bytes)
    assert.equal(quota.storage.fits, false)

    // What check said stands in the way does: Cyrus refuses what goes over, each listed; the rest is stored.
    const synced = await runCli([...args, '--json'], env)
    assert.equal(synced.code, 1, synced.stderr)
    assert.ok(synced.json.failures.length > 0 && synced.json.totals.copied > 0, JSON.stringify(synced.json.totals))
    assert.equal(synced.json.totals.copied + synced.json.failures.length, messages.length)
    for (const failure of synced.json.failures) assert.match(failure.reason, /quota/i)
    const stored = (await snapshot(limited, users.dest)).INBOX ?? []
    assert.equal(stored.length, synced.json.totals.copied)
    assert.ok(stored.reduce((sum, m) => sum + m.size, 0) <= QUOTA_KB * 1024)
    console.log(`Cyrus quota ${QUOTA_KB} KiB: check said ${quota.storage.toCopy} bytes do not fit; the sync stored ${stored.length}, refused ${synced.json.failures.length} (${synced.json.failures[0].reason})`)
  })
})
