/**
 * kill -9 at chosen points of a run (mbsync run-tests.pl "Interrupting at step"), then a re-run:
 * the destination must end equal to the source, with nothing missing and nothing duplicated.
 * The hidden --debug-kill-at flag makes the process SIGKILL itself exactly there; one case kills
 * it from outside at an arbitrary moment.
 */
import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import {spawn} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {seed, setFlags, snapshot} from '../harness/mailbox.js'
import {generateMessages, nastyMessages, type SeedMessage} from '../harness/messages.js'
import {BIN, freshUser, runCli, serversForFile, syncArgs, tempDir} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()

serversForFile(() => Promise.all([startDovecot({separator: '.'}), startDovecot({separator: '/'})]), (started) => ([source, dest] = started), tmp)

/** Messages the run's log says were copied so far. */
const copiedInLog = (logFile: string) => (existsSync(logFile) ? (readFileSync(logFile, 'utf8').match(/ copied \(/g) ?? []).length : 0)

/**
 * Runs sync until its log shows `more` messages copied beyond those already there, then SIGKILLs it
 * (from outside, at whatever it is doing then). Resolves with the signal that ended it.
 */
function killAfterCopies(args: string[], env: NodeJS.ProcessEnv, logFile: string, more: number): Promise<NodeJS.Signals | null> {
  const target = copiedInLog(logFile) + more
  // Paced, so that the kill lands mid-copy however fast the copy path is.
  const child = spawn(process.execPath, [BIN, ...args, '--log-file', logFile, '--max-messages-per-second', '10'], {env: {...process.env, ...env}, stdio: 'ignore'})
  const poll = setInterval(() => {
    if (copiedInLog(logFile) >= target) child.kill('SIGKILL')
  }, 10)
  return new Promise((resolve) =>
    child.on('close', (_code, signal) => {
      clearInterval(poll)
      resolve(signal)
    }),
  )
}

function mailbox(): Record<string, SeedMessage[]> {
  const generated = generateMessages(40, {seed: 21})
  // Identical copies make "which one landed?" ambiguous on purpose.
  return {INBOX: [...nastyMessages(), ...generated.slice(0, 25), generated[3], generated[3]], 'Old/2019': generated.slice(25)}
}

async function killThenResume(killPoints: string[], box: Record<string, SeedMessage[]> = mailbox()) {
  const users = {source: freshUser('src'), dest: freshUser('dst')}
  const state = join(tmp.dir, `${users.source}.sqlite`)
  await seed(source, users.source, box)
  const {args, env} = syncArgs(source, dest, users, state)
  for (const point of killPoints) {
    const killed = await runCli([...args, '--debug-kill-at', point], env)
    assert.equal(killed.signal, 'SIGKILL', `run with --debug-kill-at ${point} should die: ${killed.stderr}`)
  }
  const resumed = await runCli([...args, '--json'], env)
  assert.equal(resumed.code, 0, resumed.stderr)
  const expected = await snapshot(source, users.source)
  assert.deepEqual(await snapshot(dest, users.dest), expected)
  return resumed.json
}

describe('resume after kill -9', () => {
  for (const point of ['before-append:1', 'after-append:1', 'after-append:17', 'before-append:30']) {
    test(`killed at ${point}`, async () => {
      const report = await killThenResume([point])
      if (point.startsWith('after-append')) {
        assert.ok(report.totals.recognised >= 1, 'the APPEND that landed before the kill is recognised, not repeated')
      }
    })
  }

  test('killed twice in a row (after-append:5, then after-append:2 of the next run)', async () => {
    // Dozens of copies are in flight (batched reads and MULTIAPPEND): enough messages that the
    // second run still has more than two to copy after the first kill.
    const box = mailbox()
    await killThenResume(['after-append:5', 'after-append:2'], {...box, 'Old/2019': [...box['Old/2019'], ...generateMessages(300, {seed: 22, meanSize: 2000})]})
  })

  test('killed from outside at an arbitrary moment, several times', async () => {
    const users = {source: freshUser('src'), dest: freshUser('dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    await seed(source, users.source, {...mailbox(), Big: generateMessages(6, {seed: 9, largeSizes: [3_000_000, 2_000_000]})})
    const {args, env} = syncArgs(source, dest, users, state)
    const logFile = join(tmp.dir, `${users.source}.log`)
    for (const more of [5, 5, 5]) {
      assert.equal(await killAfterCopies(args, env, logFile, more), 'SIGKILL', 'the run was killed mid-copy, not finished')
    }
    const resumed = await runCli([...args, '--json'], env)
    assert.equal(resumed.code, 0, resumed.stderr)
    assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
  })
})

describe('claims the destination no longer honours', () => {
  // Seen with Dovecot Maildir after its imap processes were SIGKILLed mid-APPEND: dovecot-uidlist
  // got two entries for one UID and Dovecot renumbered, UIDVALIDITY unchanged. An APPENDUID that mailferry
  // recorded then named another message, and the message whose APPEND was cut off was hidden
  // behind that claim. Here the state is put in that shape by hand.
  test('a recorded UID that now holds another message is corrected: nothing sent twice, flags reach the right copy', async () => {
    const users = {source: freshUser('cl'), dest: freshUser('cl')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    await seed(source, users.source, {INBOX: generateMessages(10, {seed: 41})})
    const {args, env} = syncArgs(source, dest, users, state)
    assert.equal((await runCli(args, env)).code, 0)

    const db = new Database(state)
    const rows = db
      .prepare(`SELECT m.source_uid AS s, m.dest_uid AS d FROM messages m JOIN folder_pairs p ON p.id = m.pair_id WHERE p.source_path = 'INBOX' ORDER BY m.source_uid`)
      .all() as Array<{s: number; d: number}>
    const [a, b] = [rows[1], rows[4]]
    // a's row claims b's copy; b's APPEND looks cut off (pending, no UID).
    db.prepare(`UPDATE messages SET dest_uid = ? WHERE source_uid = ?`).run(b.d, a.s)
    db.prepare(`UPDATE messages SET status = 'pending', dest_uid = NULL WHERE source_uid = ?`).run(b.s)
    db.close()

    const resumed = await runCli([...args, '--json'], env)
    assert.equal(resumed.code, 0, resumed.stderr)
    assert.equal(resumed.json.totals.copied, 0, 'b is found on the destination, not sent again')
    assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
    assert.ok(resumed.json.warnings.some((w: string) => /renumbered 1 messages/.test(w)), resumed.json.warnings.join('\n'))

    const check = new Database(state, {readonly: true})
    const claims = check.prepare(`SELECT source_uid AS s, dest_uid AS d, status FROM messages WHERE source_uid IN (?, ?) ORDER BY source_uid`).all(a.s, b.s)
    check.close()
    assert.deepEqual(claims, [{s: a.s, d: a.d, status: 'copied'}, {s: b.s, d: b.d, status: 'copied'}])

    // A flag change on a reaches a's copy, not b's.
    await setFlags(source, users.source, 'INBOX', [a.s], ['\\Flagged'], 'add')
    assert.equal((await runCli(args, env)).code, 0)
    assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
  })
})
