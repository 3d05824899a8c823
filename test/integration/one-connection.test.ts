/**
 * One connection a side (`--concurrency 1`): the destination's APPEND connection and its session take
 * turns in the one place (src/imap/pool.ts borrowPlace, src/imap/append-pipeline.ts yieldTo), and so
 * do the source's read connection and its session (src/imap/read-pipeline.ts). Both servers are
 * Dovecots that let in one connection per user and IP (mail_max_userip_connections), so a second
 * one open at the same moment would be refused, and the run would say so. Judged by what
 * the servers hold afterwards and by the protocol trace.
 */
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {appendOne, seed, setFlags, snapshot} from '../harness/mailbox.js'
import {generateMessages, nastyMessages, type SeedMessage} from '../harness/messages.js'
import {freshUser, refusals, runCli, spawnCli, syncArgs, tempDir, waitForLog, within} from './cli.js'

const ONE_CONNECTION = 'protocol imap {\n  mail_max_userip_connections = 1\n}\n'
let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()

before(async () => {
  ;[source, dest] = await Promise.all([
    startDovecot({separator: '/', name: 'one-src', extraConfig: ONE_CONNECTION}),
    startDovecot({separator: '.', name: 'one-dst', extraConfig: ONE_CONNECTION}),
  ])
})
after(async () => {
  await Promise.all([source, dest].map((s) => s?.stop()))
  tmp.cleanup()
})

function mailbox(): Record<string, SeedMessage[]> {
  const generated = generateMessages(150, {seed: 41, meanSize: 6000})
  return {INBOX: [...nastyMessages(), ...generated.slice(0, 60)], 'Lists/dev': generated.slice(60, 120), Archive: generated.slice(120)}
}

async function oneConnectionRun() {
  const users = {source: freshUser('one'), dest: freshUser('one')}
  const state = join(tmp.dir, `${users.source}.sqlite`)
  const logFile = join(tmp.dir, `${users.source}.log`)
  const {args, env} = syncArgs(source, dest, users, state)
  return {users, logFile, args: [...args, '--concurrency', '1', '--debug-imap', '--log-file', logFile], env}
}

/**
 * From the trace: the connections of each side in the order they were opened, the destination's
 * APPEND commands' message counts, the source's body reads on its read connection, and any line
 * that says a second connection was refused or a hand-over was missed.
 */
function trace(log: string) {
  const connections: string[] = []
  const appends: number[] = []
  let pipelinedFetches = 0
  let sessionBodyReads = 0
  for (const line of log.split('\n')) {
    const greeted = /((?:source|destination)#\w+) S: \* OK /.exec(line)
    if (greeted && !connections.includes(greeted[1])) connections.push(greeted[1])
    const append = /destination#pipe\d+ C: P\d+ APPEND "[^"]*" \((\d+) messages?/.exec(line)
    if (append) appends.push(Number(append[1]))
    // The read connection's trace names the command only; a session's shows what it fetches.
    if (/source#pipe\d+ C: P\d+ UID FETCH/.test(line)) pipelinedFetches++
    if (/source#\w+ C: \w+ UID FETCH \S+ \(UID FLAGS INTERNALDATE BODY\.PEEK\[\]\)/.test(line)) sessionBodyReads++
  }
  return {connections, appends, pipelinedFetches, sessionBodyReads, refusals: refusals(log)}
}

// A hand-over that never comes hangs a run: fail instead.
describe('one connection a side', {timeout: 60_000}, () => {
  test('a first sync: MULTIAPPEND batches on the one connection, never two connections at once, the copy exact', async () => {
    const run = await oneConnectionRun()
    await seed(source, run.users.source, mailbox())
    const result = await runCli([...run.args, '--json'], run.env)
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(await snapshot(dest, run.users.dest), await snapshot(source, run.users.source))

    const traced = trace(readFileSync(run.logFile, 'utf8'))
    assert.deepEqual(traced.refusals, [], 'neither server refused a second connection')
    assert.ok(traced.appends.length > 0 && traced.appends.some((n) => n > 1), `APPENDs went as MULTIAPPEND batches: ${JSON.stringify(traced.appends)}`)
    assert.ok(traced.appends.length < 160 / 4, `far fewer APPEND commands than messages: ${traced.appends.length}`)
    assert.ok(traced.pipelinedFetches > 0 && traced.sessionBodyReads === 0, `bodies were read on the source's read connection: ${JSON.stringify(traced)}`)
    for (const side of ['source', 'destination']) {
      assert.ok(traced.connections.some((c) => c.startsWith(`${side}#`) && !c.includes('pipe')), `a ${side} session did the folder list`)
    }
    assert.equal(result.json.stores.source.retries + result.json.stores.dest.retries, 0)
  })

  test('a re-run with new mail and changed flags: the session and the APPEND connection take turns, the copy exact', async () => {
    const run = await oneConnectionRun()
    await seed(source, run.users.source, mailbox())
    const first = await runCli(run.args, run.env)
    assert.equal(first.code, 0, first.stderr)
    const [extra] = generateMessages(1, {seed: 42, meanSize: 3000})
    await appendOne(source, run.users.source, 'Lists/dev', extra)
    await appendOne(source, run.users.source, 'INBOX', {...extra, flags: ['\\Seen']})
    await setFlags(source, run.users.source, 'Archive', 'all', ['\\Flagged', 'project-x'], 'add')

    const result = await runCli([...run.args, '--json'], run.env)
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.json.totals.copied, 2)
    assert.equal(result.json.totals.flagsUpdated, 30)
    assert.deepEqual(await snapshot(dest, run.users.dest), await snapshot(source, run.users.source))
    assert.deepEqual(trace(readFileSync(run.logFile, 'utf8')).refusals, [], 'no second connection, no missed hand-over')
  })

  test('kill -9 after a MULTIAPPEND batch was written on the one connection: the re-run copies nothing twice', async () => {
    const run = await oneConnectionRun()
    await seed(source, run.users.source, mailbox())
    const killed = await runCli([...run.args, '--debug-kill-at', 'append-sent:2'], run.env)
    assert.equal(killed.signal, 'SIGKILL', killed.stderr)
    assert.ok(trace(readFileSync(run.logFile, 'utf8')).appends.some((n) => n > 1), 'a batch was in flight')

    const resumed = await runCli([...run.args, '--json'], run.env)
    assert.equal(resumed.code, 0, resumed.stderr)
    assert.deepEqual(await snapshot(dest, run.users.dest), await snapshot(source, run.users.source))
  })

  test('watch: the IDLE session takes the one place between passes; mail delivered meanwhile arrives within seconds', async () => {
    const run = await oneConnectionRun()
    const messages = generateMessages(8, {seed: 43, meanSize: 3000})
    await seed(source, run.users.source, {INBOX: messages.slice(0, 4), Archive: messages.slice(4, 6)})
    // Interval 300 s: only IDLE can bring the new mail in time. Counted and delivered with doveadm,
    // which opens no IMAP connection (watch holds the one allowed on each side).
    const watch = spawnCli(['watch', ...run.args.slice(1), '--interval', '300'], run.env)
    const arrived = (count: number, timeoutMs: number) => within(timeoutMs, async () => (await dest.messageCount(run.users.dest, 'INBOX')) === count, watch.stderr)
    let code
    try {
      await arrived(4, 20_000)
      // The first pass is done once IDLE is set up again after it.
      await waitForLog(run.logFile, (text) => text.split(/ C: \S+ IDLE/).length > 2, 'IDLE after the first pass')
      for (const [n, message] of [messages[6], messages[7]].entries()) {
        await source.deliver(run.users.source, 'INBOX', message.raw)
        await arrived(5 + n, 5000)
      }
    } finally {
      code = await watch.stop()
    }
    assert.equal(code, 0, watch.stderr())
    assert.deepEqual(trace(readFileSync(run.logFile, 'utf8')).refusals, [], 'no second connection, no missed hand-over')
  })
})
