/**
 * Reconnects: a connection that drops mid-run is opened again with backoff and the run
 * completes, every message exactly once (snapshot equality: duplicates would show).
 *
 * - the destination's IMAP processes are SIGKILLed twice mid-run (only this instance's, by pid);
 * - the server "restarts": a TCP relay in front of it drops every connection and refuses new ones
 *   for a while, then lets them through again;
 * - a server that stays down ends the run with exit 4 and a resume hint; the re-run completes.
 */
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {test} from 'node:test'

import {imapProcesses, startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {seed, snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {Relay} from '../harness/relay.js'
import {copiedInLog, freshUser, runCli, serversForFile, syncArgs, tempDir} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()

serversForFile(() => Promise.all([startDovecot({separator: '/', name: 'rc-src'}), startDovecot({separator: '.', name: 'rc-dst'})]), (started) => ([source, dest] = started), tmp)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))



function killImapProcesses(instance: DovecotInstance): number {
  const pids = imapProcesses(instance)
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone already
    }
  }
  return pids.length
}

function seedMessages(seedNumber: number): {INBOX: ReturnType<typeof generateMessages>; Archive: ReturnType<typeof generateMessages>} {
  return {
    INBOX: generateMessages(100, {seed: seedNumber, meanSize: 3000}),
    Archive: generateMessages(100, {seed: seedNumber + 1, meanSize: 3000}),
  }
}

// This test used to end with one message twice in about 1 run in 6: Dovecot renumbers after a killed
// save, and for a while serves a UID with another message's cached header length (docs/design.md,
// section 0; src/sync/claims.ts, recognise.ts onSelfContradiction). 0 duplicates in 90 runs since.
test('the destination IMAP processes are killed twice mid-run: the run reconnects and completes, no duplicates', async () => {
  const users = {source: freshUser('rc'), dest: freshUser('rc')}
  await seed(source, users.source, seedMessages(11))
  const logFile = join(tmp.dir, `${users.source}.log`)
  const {args, env} = syncArgs(source, dest, users, join(tmp.dir, `${users.source}.sqlite`))
  // ~2.5 s of copying at 80 messages per second, so the kills land in the middle.
  const running = runCli([...args, '--json', '--max-messages-per-second', '80', '--retry-max-delay', '2', '--log-file', logFile], env)
  let killed = 0
  for (const copied of [40, 110]) {
    await copiedInLog(logFile, copied)
    killed += killImapProcesses(dest)
  }
  const run = await running
  assert.ok(killed > 0, 'imap processes of the destination were found and killed')
  assert.equal(run.code, 0, `${run.stderr}${run.json?.error}\n${readFileSync(logFile, 'utf8').split('\n').filter((l) => !/ copied \(/.test(l)).join('\n')}`)
  assert.equal(run.json.totals.failed, 0)
  const [destSnap, sourceSnap] = await Promise.all([snapshot(dest, users.dest), snapshot(source, users.source)])
  const counts = (snap: Record<string, unknown[]>) => Object.entries(snap).map(([k, v]) => `${k}: ${v.length}`).join(', ')
  const warnLines = readFileSync(logFile, 'utf8').split('\n').filter((l) => / (WARN|ERROR) /.test(l)).join('\n')
  assert.deepEqual(destSnap, sourceSnap, `destination ${counts(destSnap)} / source ${counts(sourceSnap)}; ${JSON.stringify(run.json.totals)}\n${warnLines}`)
  const {retries, droppedSessions} = run.json.stores.dest
  assert.ok(retries + droppedSessions > 0, JSON.stringify(run.json.stores))

  const log = readFileSync(logFile, 'utf8')
  assert.match(log, /WARN  destination .*(; retry 1\/8 in \d+\.\d s|closed by the server or the network)/)
  assert.match(log, /INFO  run finished: exit 0/)

  // And the re-run has nothing to do.
  const again = await runCli([...args, '--json'], env)
  assert.equal(again.code, 0, again.stderr)
  assert.equal(again.json.totals.copied, 0)
})

test("the source's IMAP processes are killed mid-run: reads are simply retried, the copy is exact", async () => {
  const users = {source: freshUser('rk'), dest: freshUser('rk')}
  await seed(source, users.source, seedMessages(41))
  const logFile = join(tmp.dir, `${users.source}.log`)
  const {args, env} = syncArgs(source, dest, users, join(tmp.dir, `${users.source}.sqlite`))
  const running = runCli([...args, '--json', '--max-messages-per-second', '80', '--retry-max-delay', '2', '--log-file', logFile], env)
  let killed = 0
  for (const copied of [50, 120]) {
    await copiedInLog(logFile, copied)
    killed += killImapProcesses(source)
  }
  const run = await running
  assert.ok(killed > 0, 'imap processes of the source were found and killed')
  assert.equal(run.code, 0, `${run.stderr}${run.json?.error}`)
  assert.equal(run.json.totals.copied, 200)
  assert.equal(run.json.totals.recognised, 0, 'no APPEND was in doubt: only reads were cut off')
  assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
  assert.match(readFileSync(logFile, 'utf8'), /WARN  source /)
})

test('a server restart (connections dropped, then refused for 2 s) is waited out', async () => {
  const users = {source: freshUser('rs'), dest: freshUser('rs')}
  await seed(source, users.source, seedMessages(21))
  const relay = new Relay(dest.port)
  await relay.start()
  try {
    const {args, env} = syncArgs(source, {...dest, port: relay.port}, users, join(tmp.dir, `${users.source}.sqlite`))
    const logFile = join(tmp.dir, `${users.source}.log`)
    const running = runCli([...args, '--json', '--max-messages-per-second', '100', '--retry-max-delay', '1', '--log-file', logFile], env)
    await copiedInLog(logFile, 60)
    await relay.down()
    await sleep(2000)
    await relay.up()
    const run = await running
    assert.equal(run.code, 0, `${run.stderr}${run.json?.error}`)
    assert.equal(run.json.totals.failed, 0)
    assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
  } finally {
    await relay.down().catch(() => {})
  }
})

test('a server that stays down: exit 4, one line with a resume hint; the re-run completes', async () => {
  const users = {source: freshUser('sd'), dest: freshUser('sd')}
  await seed(source, users.source, seedMessages(31))
  const relay = new Relay(dest.port)
  await relay.start()
  const {args, env} = syncArgs(source, {...dest, port: relay.port}, users, join(tmp.dir, `${users.source}.sqlite`))
  const logFile = join(tmp.dir, `${users.source}.log`)
  const running = runCli([...args, '--max-messages-per-second', '100', '--retries', '2', '--retry-max-delay', '1', '--log-file', logFile], env)
  await copiedInLog(logFile, 50)
  await relay.down()
  const run = await running
  assert.equal(run.code, 4, run.stderr)
  assert.match(run.stdout + run.stderr, /still failing after 2 retries/)
  assert.match(run.stdout + run.stderr, /exit 4: .*re-run to resume/)

  await relay.up()
  try {
    const again = await runCli([...args, '--json'], env)
    assert.equal(again.code, 0, again.stderr)
    assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
  } finally {
    await relay.down()
  }
})
