/**
 * A hostile or broken source cannot exhaust mailferry's memory (src/imap/limits.ts). The source is
 * a tiny TCP server that lies (test/harness/hostile-imap.ts); the destination is a real Dovecot.
 *
 * - a message listed at 1000 bytes whose body is announced as a 900 MB literal (below imapflow's
 *   own 1 GiB cap, so without mailferry's limit it would be read into memory) is refused for that
 *   message, the others are copied, exit 1;
 * - a response line that never ends is cut at 16 MiB: the session is closed, exit 4 with one line;
 * - a listing longer than the folder is cut, in a sync and in check (its raw connection, then the session);
 * - a STATUS that never gets an answer: after 30 s of silence the session is closed and the STATUS is
 *   retried on a fresh one; the run completes (exit 0);
 * - a body read answered as Microsoft 365 throttles ("BAD Request is throttled. Suggested Backoff
 *   Time"): read again after the pause, every message copied (exit 0).
 * - the first login answered as Dovecot does while its auth back end is slow ("NO [UNAVAILABLE]
 *   Temporary authentication failure"): logged in again after a pause, every message copied (exit 0).
 *
 * Peak RSS of the mailferry process is measured (process.resourceUsage().maxRSS at exit, through a
 * preloaded module) and must stay under 300 MB while the server offers hundreds of MB.
 */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {after, before, test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {HostileImapServer, type HostileMessage} from '../harness/hostile-imap.js'
import {snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {freshUser, runCli, syncArgs, tempDir} from './cli.js'

let dest: DovecotInstance
const tmp = tempDir()
const RSS_BUDGET_MB = 300
const MB = 1_000_000

before(async () => {
  dest = await startDovecot({separator: '.', name: 'lim-dst'})
})
after(async () => {
  await dest?.stop()
  tmp.cleanup()
})

/** Three ordinary messages as UIDs 1, 2, 3; `hostile` replaces what UID 2's body fetch sends. */
function messages(hostile: HostileMessage['body']): HostileMessage[] {
  return generateMessages(3, {seed: 5, meanSize: 2000}).map((m, i) => ({
    ...m,
    flags: [],
    uid: i + 1,
    ...(i === 1 && hostile ? {listedSize: 1000, body: hostile} : {}),
  }))
}

/** Runs a sync (or check) from the hostile server to Dovecot; returns the run and the child's peak RSS in MB. */
async function syncFrom(server: HostileImapServer, user: string, extra: string[] = [], command = 'sync') {
  const statePath = join(tmp.dir, `${user}.sqlite`)
  const fake = {...dest, port: server.port, password: 'any'}
  const {args, env} = syncArgs(fake, dest, {source: 'mallory', dest: user}, statePath)
  const rssFile = join(tmp.dir, `${user}.rss`)
  const preload = join(tmp.dir, 'report-rss.mjs')
  writeFileSync(
    preload,
    `import {writeFileSync} from 'node:fs'\nprocess.on('exit', () => writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)))\n`,
  )
  const run = await runCli([command, ...args.slice(1), '--json', '--retries', '1', '--retry-max-delay', '1', ...extra], {...env, NODE_OPTIONS: `--import ${pathToFileURL(preload).href}`})
  const peakMb = (Number(readFileSync(rssFile, 'utf8')) * 1024) / MB
  return {run, peakMb}
}

test('a body far larger than its listed RFC822.SIZE is refused for that message; the others are copied (exit 1), memory bounded', async () => {
  const source = messages({kind: 'literal', bytes: 900 * MB})
  const server = new HostileImapServer(source)
  await server.start()
  const user = freshUser('lim')
  try {
    const {run, peakMb} = await syncFrom(server, user)
    assert.equal(run.code, 1, `${run.stderr}\n${JSON.stringify(run.json?.error)}`)
    assert.equal(run.json.totals.copied, 2)
    assert.equal(run.json.failures.length, 1)
    const [failure] = run.json.failures
    assert.equal(failure.uid, 2)
    assert.match(failure.reason, /^source: the server announced a body of 858\.3 MiB for a message listed at 1000 bytes \(RFC822\.SIZE\); refused above 1\.0 MiB$/)
    const copied = (await snapshot(dest, user)).INBOX.map((m) => m.size).sort()
    assert.deepEqual(copied, [source[0].raw.length, source[2].raw.length].sort())
    assert.ok(peakMb < RSS_BUDGET_MB, `peak RSS ${peakMb.toFixed(0)} MB while the server offered ${server.floodBytes / MB} MB`)
    console.log(`limits: literal of 900 MB announced, ${(server.floodBytes / MB).toFixed(1)} MB sent before the hang-up, peak RSS ${peakMb.toFixed(0)} MB`)
  } finally {
    await server.stop()
  }
})

test('a response line that never ends is cut at 16 MiB: that session is closed, exit 4 with one line, memory bounded', async () => {
  const server = new HostileImapServer(messages({kind: 'endless-line', bytes: 600 * MB}))
  await server.start()
  const user = freshUser('lim')
  try {
    const {run, peakMb} = await syncFrom(server, user)
    assert.equal(run.code, 4, run.stderr)
    assert.match(run.json.error, /^source mallory@127\.0\.0\.1:\d+: the server sent a response line of more than 16 MiB without an end; the session was closed$/)
    assert.ok(server.floodBytes >= 16 * 1024 * 1024, `the server sent ${server.floodBytes} bytes`)
    assert.ok(server.floodBytes < 300 * MB, `the client read on for ${server.floodBytes / MB} MB`)
    assert.ok(peakMb < RSS_BUDGET_MB, `peak RSS ${peakMb.toFixed(0)} MB`)
    console.log(`limits: endless line, ${(server.floodBytes / MB).toFixed(1)} MB sent before the hang-up, peak RSS ${peakMb.toFixed(0)} MB`)
  } finally {
    await server.stop()
  }
})

test('a listing that goes on past the folder\'s EXISTS is cut: that folder fails (exit 5), memory bounded', async () => {
  const server = new HostileImapServer(messages(undefined), {endlessListingBytes: 2000 * MB})
  await server.start()
  const user = freshUser('lim')
  try {
    const {run, peakMb} = await syncFrom(server, user)
    assert.equal(run.code, 5, run.stderr)
    assert.match(run.json.error, /^INBOX: source mallory@127\.0\.0\.1:\d+: folder "INBOX": the server listed more messages than the folder holds \(3\); the session was closed$/)
    assert.ok(server.floodBytes < 300 * MB, `the client read on for ${server.floodBytes / MB} MB`)
    assert.ok(peakMb < RSS_BUDGET_MB, `peak RSS ${peakMb.toFixed(0)} MB`)
    console.log(`limits: endless listing, ${(server.floodBytes / MB).toFixed(1)} MB sent before the hang-up, peak RSS ${peakMb.toFixed(0)} MB`)
  } finally {
    await server.stop()
  }
})

test('check: a listing that goes on past the folder\'s EXISTS is cut on its raw connection and on the sessions: that folder cannot be checked (exit 1), memory bounded', async () => {
  const server = new HostileImapServer(messages(undefined), {endlessListingBytes: 2000 * MB})
  await server.start()
  const user = freshUser('lim')
  try {
    const log = join(tmp.dir, `${user}.log`)
    const {run, peakMb} = await syncFrom(server, user, ['--log-file', log, '--debug-imap'], 'check')
    assert.equal(run.code, 1, run.stderr)
    const trace = readFileSync(log, 'utf8')
    assert.match(trace, /source#pipe\d+ C: \S+ UID FETCH/, 'the raw connection read first')
    assert.match(trace, /read on a session instead \(.*listed more messages than the folder holds/)
    assert.match(run.json.folders[0].error, /folder "INBOX": the server listed more messages than the folder holds \(3\); the session was closed$/)
    assert.ok(server.floodBytes < 600 * MB, `the client read on for ${server.floodBytes / MB} MB`)
    assert.ok(peakMb < RSS_BUDGET_MB, `peak RSS ${peakMb.toFixed(0)} MB`)
    console.log(`limits: check, endless listing, ${(server.floodBytes / MB).toFixed(1)} MB sent before the hang-ups, peak RSS ${peakMb.toFixed(0)} MB`)
  } finally {
    await server.stop()
  }
})

test('a command that never gets an answer: the session is given up after 30 s of silence and the step retried (exit 0)', async () => {
  const source = messages(undefined)
  const server = new HostileImapServer(source, {silentOnce: ['EXAMINE']})
  await server.start()
  const user = freshUser('lim')
  const logFile = join(tmp.dir, `${user}.log`)
  try {
    const started = Date.now()
    const {run} = await syncFrom(server, user, ['--log-file', logFile])
    const seconds = (Date.now() - started) / 1000
    assert.equal(run.code, 0, `${run.stderr}\n${JSON.stringify(run.json?.error)}`)
    assert.equal(run.json.totals.copied, 3)
    assert.ok(seconds >= 30 && seconds < 60, `the run took ${seconds} s`)
    assert.match(readFileSync(logFile, 'utf8'), /WARN  source mallory@127\.0\.0\.1:\d+: connection lost while working on "INBOX".*; retry 1\/1 in/)
  } finally {
    await server.stop()
  }
})

/**
 * A sync from a server that pushes back once (`options`): exit 0, every message stored byte for byte,
 * and the refused command was sent again (`count` of the server at least 2).
 */
async function syncThroughPushback(options: ConstructorParameters<typeof HostileImapServer>[1], count: (server: HostileImapServer) => number) {
  const source = messages(undefined)
  const server = new HostileImapServer(source, options)
  await server.start()
  const user = freshUser('lim')
  try {
    const {run} = await syncFrom(server, user)
    assert.equal(run.code, 0, `${run.stderr}\n${JSON.stringify(run.json?.error)}`)
    assert.equal(run.json.totals.copied, 3)
    assert.ok(count(server) >= 2, `the refused command was sent ${count(server)} times`)
    const copied = (await snapshot(dest, user)).INBOX.map((m) => m.sha256).sort()
    assert.deepEqual(copied, source.map((m) => createHash('sha256').update(m.raw).digest('hex')).sort())
  } finally {
    await server.stop()
  }
}

test('a throttled body read is read again after the server\'s backoff time: every message copied (exit 0)', async () => {
  await syncThroughPushback({throttleOnce: true}, (server) => server.bodyFetches)
})

test('pushback at the first login ("[UNAVAILABLE] Temporary authentication failure") is tried again: every message copied (exit 0)', async () => {
  await syncThroughPushback({busyLogins: 1}, (server) => server.logins)
})
