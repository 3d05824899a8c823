/**
 * The pipelined write path (src/imap/append-pipeline.ts) against real Dovecot, judged by what the
 * servers hold afterwards and by the protocol trace (--debug-imap into --log-file):
 * - kill -9 once a whole MULTIAPPEND batch was written (its pending rows committed), before its
 *   tagged OK: the re-run finds what landed and copies the rest, nothing twice;
 * - a message refused inside a MULTIAPPEND batch (quota_max_mail_size: NO [LIMIT]): the batch is
 *   split, only that message fails, named with the server's reason;
 * - a server without MULTIAPPEND (imap_capability hides it): single APPENDs, several in flight;
 * - a server without LITERAL+: synchronizing literals, the copy is still exact.
 */
import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {seed, snapshot} from '../harness/mailbox.js'
import {generateMessages, nastyMessages, type SeedMessage} from '../harness/messages.js'
import {freshUser, runCli, syncArgs, tempDir} from './cli.js'

/** Dovecot 2.3's post-login capabilities, without the named ones (imap_capability replaces the list). */
const CAPABILITIES =
  'IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT ' +
  'MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ' +
  'ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY'
const without = (...names: string[]) =>
  `imap_capability = ${CAPABILITIES.split(' ').filter((c) => !names.includes(c)).join(' ')}\n`

let source: DovecotInstance
let dest: DovecotInstance
let limited: DovecotInstance
let noMultiappend: DovecotInstance
let noLiteralPlus: DovecotInstance
const tmp = tempDir()

before(async () => {
  ;[source, dest, limited, noMultiappend, noLiteralPlus] = await Promise.all([
    startDovecot({separator: '/', name: 'pl-src'}),
    startDovecot({separator: '.', name: 'pl-dst'}),
    startDovecot({separator: '.', name: 'pl-lim', maxMailSize: 20_000}),
    startDovecot({separator: '.', name: 'pl-nomulti', extraConfig: without('MULTIAPPEND')}),
    startDovecot({separator: '.', name: 'pl-nolitplus', extraConfig: without('LITERAL+')}),
  ])
})
after(async () => {
  await Promise.all([source, dest, limited, noMultiappend, noLiteralPlus].map((s) => s?.stop()))
  tmp.cleanup()
})

function mailbox(): Record<string, SeedMessage[]> {
  const generated = generateMessages(160, {seed: 31, meanSize: 3000})
  return {INBOX: [...nastyMessages(), ...generated.slice(0, 120)], 'Lists/dev': generated.slice(120)}
}

interface TracedCommand {
  connection: string
  tag: string
  messages: number
  literals: number
  answer?: string
  /** Other commands of this connection written before this one was answered. */
  overlapped: boolean
}

/** The APPEND commands of the pipelined connections, with their answers, from the trace. */
function appendCommands(log: string): TracedCommand[] {
  const commands = new Map<string, TracedCommand>()
  const open = new Map<string, Set<string>>()
  for (const line of log.split('\n')) {
    const sent = /(destination#pipe\d+) C: (P\d+) APPEND "[^"]*" \((\d+) messages?, \d+ bytes\)/.exec(line)
    if (sent) {
      const [, connection, tag, count] = sent
      const pending = open.get(connection) ?? new Set()
      for (const other of pending) commands.get(`${connection} ${other}`)!.overlapped = true
      const literals = Number(/\((\d+) synchronizing literals\)/.exec(line)?.[1] ?? 0)
      commands.set(`${connection} ${tag}`, {connection, tag, messages: Number(count), literals, overlapped: pending.size > 0})
      open.set(connection, pending.add(tag))
      continue
    }
    const answered = /(destination#pipe\d+) S: (P\d+) (OK|NO|BAD)(.*)$/.exec(line)
    if (answered) {
      const command = commands.get(`${answered[1]} ${answered[2]}`)
      if (command) command.answer = `${answered[3]}${answered[4]}`
      open.get(answered[1])?.delete(answered[2])
    }
  }
  return [...commands.values()]
}

async function syncInto(target: DovecotInstance, extra: string[] = []) {
  const users = {source: freshUser('pl'), dest: freshUser('pl')}
  const state = join(tmp.dir, `${users.source}.sqlite`)
  const logFile = join(tmp.dir, `${users.source}.log`)
  const {args, env} = syncArgs(source, target, users, state)
  return {users, state, logFile, args: [...args, '--debug-imap', '--log-file', logFile, ...extra], env}
}

/** A clean run warns of nothing: its APPEND connections logging out at the end are not "closed by the server". */
function assertNoWarning(logFile: string): void {
  assert.deepEqual(readFileSync(logFile, 'utf8').split('\n').filter((line) => / WARN /.test(line)), [])
}

describe('pipelined APPEND', () => {
  test('kill -9 after a MULTIAPPEND batch was written, before its tagged OK: nothing lost, nothing twice', async () => {
    const run = await syncInto(dest)
    await seed(source, run.users.source, mailbox())
    const killed = await runCli([...run.args, '--debug-kill-at', 'append-sent:2'], run.env)
    assert.equal(killed.signal, 'SIGKILL', killed.stderr)

    const traced = appendCommands(readFileSync(run.logFile, 'utf8'))
    assert.ok(traced.length >= 2, 'two APPEND commands were written')
    assert.ok(traced.some((c) => c.messages > 1), `a MULTIAPPEND batch was sent: ${JSON.stringify(traced)}`)
    // Every message of the commands written before the kill had its pending row first.
    const db = new Database(run.state, {readonly: true})
    const rows = db.prepare(`SELECT status, COUNT(*) AS n FROM messages GROUP BY status`).all() as Array<{status: string; n: number}>
    db.close()
    const unanswered = traced.filter((c) => c.answer === undefined).reduce((n, c) => n + c.messages, 0)
    const pending = rows.find((r) => r.status === 'pending')?.n ?? 0
    assert.ok(pending >= unanswered && unanswered > 0, `pending rows ${pending} cover the ${unanswered} messages without an answer`)

    const resumed = await runCli([...run.args, '--json'], run.env)
    assert.equal(resumed.code, 0, resumed.stderr)
    assert.deepEqual(await snapshot(dest, run.users.dest), await snapshot(source, run.users.source))
  })

  test('a message refused inside a MULTIAPPEND batch: the batch is split, only that message fails, with the reason', async () => {
    const run = await syncInto(limited)
    const small = generateMessages(40, {seed: 8, meanSize: 2000})
    const [big] = generateMessages(1, {seed: 9, largeSizes: [60_000]}).filter((m) => m.raw.length > 40_000)
    await seed(source, run.users.source, {INBOX: [...small.slice(0, 20), big, ...small.slice(20)]})

    const result = await runCli([...run.args, '--json'], run.env)
    assert.equal(result.code, 1, result.stderr)
    assert.equal(result.json.totals.copied, 40)
    assert.equal(result.json.failures.length, 1)
    assert.equal(result.json.failures[0].uid, 21)
    assert.match(result.json.failures[0].reason, /\[LIMIT\].*size/i)

    const refusedBatch = appendCommands(readFileSync(run.logFile, 'utf8')).filter((c) => c.answer?.startsWith('NO'))
    assert.ok(refusedBatch.some((c) => c.messages > 1), `the big message was refused inside a batch: ${JSON.stringify(refusedBatch)}`)
    const sourceInbox = (await snapshot(source, run.users.source)).INBOX
    assert.deepEqual((await snapshot(limited, run.users.dest)).INBOX, sourceInbox.filter((m) => m.size < 40_000))
  })

  test('a server without MULTIAPPEND: one message per APPEND, several in flight per connection', async () => {
    const run = await syncInto(noMultiappend)
    await seed(source, run.users.source, mailbox())
    const result = await runCli([...run.args, '--json'], run.env)
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(await snapshot(noMultiappend, run.users.dest), await snapshot(source, run.users.source))
    const traced = appendCommands(readFileSync(run.logFile, 'utf8'))
    assert.ok(traced.every((c) => c.messages === 1 && c.answer?.startsWith('OK')), 'single APPENDs, all answered OK')
    assert.ok(traced.some((c) => c.overlapped), 'APPENDs were pipelined (sent before the previous one was answered)')
    assertNoWarning(run.logFile)
  })

  test('a server without LITERAL+: synchronizing literals, the copy is exact', async () => {
    const run = await syncInto(noLiteralPlus)
    await seed(source, run.users.source, mailbox())
    const result = await runCli([...run.args, '--json'], run.env)
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(await snapshot(noLiteralPlus, run.users.dest), await snapshot(source, run.users.source))
    const traced = appendCommands(readFileSync(run.logFile, 'utf8'))
    assert.ok(traced.length > 0 && traced.every((c) => c.literals === c.messages), 'every literal waited for "+"')
    assert.ok(traced.some((c) => c.messages > 1), 'MULTIAPPEND batches still')
    assertNoWarning(run.logFile)
  })
})
