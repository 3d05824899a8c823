/**
 * --repair nul against a real Dovecot, which does not refuse a message with NUL bytes but stores it
 * stores each as 0x80 (check/servers.ts). The source is a Maildir (a Dovecot source would hold
 * 0x80 bytes already). Without --repair the altered copy is stored and the run does not say so (check
 * and verify --deep do); with it the message is repaired before its first APPEND, stored byte for byte as the documented
 * repair, recorded, never copied twice, and verify shows it as repaired.
 */
import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import {mkdirSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {test} from 'node:test'

import {removeNul} from '../../src/check/repair.js'
import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {snapshot, withClient} from '../harness/mailbox.js'
import {freshUser, runCli, serversForFile, tempDir} from './cli.js'

let dest: DovecotInstance
const tmp = tempDir()
serversForFile(() => Promise.all([startDovecot({separator: '.', name: 'nul-dst'})]), ([started]) => (dest = started), tmp)

const date = new Date('2024-03-01T10:00:00Z')
const clean = Buffer.from('From: a@example.com\r\nSubject: clean\r\nMessage-ID: <nul-0@example.com>\r\n\r\nNothing odd.\r\n')
const withNul = Buffer.concat([
  Buffer.from('From: a@example.com\r\nSubject: has NUL\r\nMessage-ID: <nul-1@example.com>\r\n\r\nbefore'),
  Buffer.from([0, 0]),
  Buffer.from('after\r\nand\x00again\r\n', 'latin1'),
])

/** A Maildir with the two messages in INBOX (cur/, seen), their INTERNALDATE the files' mtime. */
function maildir(name: string): string {
  const root = join(tmp.dir, name)
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(root, sub), {recursive: true})
  ;[clean, withNul].forEach((raw, i) => {
    const file = join(root, 'cur', `${1709287200 + i}.M${i}P1.mailferry-test:2,S`)
    writeFileSync(file, raw)
    utimesSync(file, date, date)
  })
  return root
}

const args = (command: string, dir: string, user: string, state: string, extra: string[] = []) => [
  command,
  '--source', `maildir:${dir}`,
  '--dest', `imap://${encodeURIComponent(user)}@127.0.0.1:${dest.port}`,
  '--dest-tls', 'none',
  '--dest-password-env', 'MF_TEST_DEST_PW',
  '--state', state,
  '--json',
  ...extra,
]
const env = () => ({MF_TEST_DEST_PW: dest.password})

async function storedBytes(user: string): Promise<Buffer[]> {
  return withClient(dest, user, async (client) => {
    await client.mailboxOpen('INBOX', {readOnly: true})
    const out: Buffer[] = []
    for await (const m of client.fetch('1:*', {uid: true, source: true})) out.push(m.source!)
    return out
  })
}

test('NUL bytes to Dovecot: altered without --repair (check and verify say so), stored as the documented repair with --repair nul, once', async () => {
  const dir = maildir('nul-src')
  const plainUser = freshUser('nul-plain')
  const plainState = join(tmp.dir, 'plain.sqlite')

  const checked = await runCli(args('check', dir, plainUser, plainState, ['--deep']), env())
  assert.equal(checked.code, 1, `${checked.stdout.slice(0, 2000)}\n${checked.stderr}`)
  assert.deepEqual(checked.json.folders[0].flagged.map((m: any) => [m.uid, m.verdict, m.findings.map((f: any) => f.problem), m.repairs]), [[2, 'altered', ['nul'], ['nul']]])

  // Without --repair: Dovecot takes it and stores other bytes; the run reports no failure.
  const plain = await runCli(args('sync', dir, plainUser, plainState), env())
  assert.equal(plain.code, 0, plain.stderr)
  assert.equal(plain.json.totals.copied, 2)
  const altered = (await storedBytes(plainUser)).find((raw) => raw.includes('has NUL'))!
  // Dovecot 2.3 stores each NUL byte as 0x80: the size stays, the bytes do not.
  assert.ok(altered.equals(withNul.map((byte) => (byte === 0 ? 0x80 : byte))), altered.toString('hex'))
  console.log(`NUL message: ${withNul.length} bytes in the Maildir, ${altered.length} bytes as Dovecot stored it unrepaired`)
  // Size and header block are the same: only verify --deep (whole messages hashed) sees the change.
  const quick = await runCli(args('verify', dir, plainUser, plainState), env())
  assert.equal(quick.code, 0, quick.stdout.slice(0, 2000))
  const deepVerify = await runCli(args('verify', dir, plainUser, plainState, ['--deep']), env())
  assert.equal(deepVerify.code, 1, 'verify --deep finds the altered copy')
  assert.deepEqual(deepVerify.json.differences.map((d: any) => [d.kind, d.sourceUid]), [['changed', 2]])

  // With --repair nul: repaired before its APPEND, recorded, stored as removeNul of the original.
  const user = freshUser('nul-repair')
  const state = join(tmp.dir, 'repair.sqlite')
  const repaired = await runCli(args('sync', dir, user, state, ['--repair', 'nul', '--max-bytes-per-day', '1000000']), env())
  assert.equal(repaired.code, 0, repaired.stderr)
  assert.deepEqual(repaired.json.repaired.map((r: any) => [r.uid, r.repairs]), [[2, ['nul']]])
  assert.match(repaired.json.repaired[0].reason, /not sent as it is: Dovecot stores each NUL byte as 0x80/)
  const stored = (await storedBytes(user)).find((raw) => raw.includes('has NUL'))!
  assert.ok(stored.equals(removeNul(withNul)), 'the stored copy is the documented repair')
  // What was sent is what the report and the destination's budget count: the repaired form, not the original.
  const sent = clean.length + stored.length
  assert.equal(repaired.json.totals.bytes, sent)
  const spent = new Database(state, {readonly: true}).prepare("SELECT side, SUM(bytes) AS bytes FROM budget_spend GROUP BY side ORDER BY side").all()
  assert.deepEqual(spent, [{side: 'dest', bytes: sent}, {side: 'source', bytes: clean.length + withNul.length}])

  const again = await runCli(args('sync', dir, user, state, ['--repair', 'nul']), env())
  assert.equal(again.code, 0)
  assert.equal(again.json.totals.copied, 0)
  assert.equal((await snapshot(dest, user)).INBOX.length, 2)
  for (const deep of [false, true]) {
    const verified = await runCli(args('verify', dir, user, state, deep ? ['--deep'] : []), env())
    assert.equal(verified.code, 0, `${verified.stdout.slice(0, 2000)}\n${verified.stderr}`)
    assert.equal(verified.json.totals.repaired, 1)
    assert.deepEqual(verified.json.differences, [])
  }
})
