/**
 * Rate limits, the connection cap and server pushback, the error budget, APPENDLIMIT.
 * The destination allows 2 sessions per user and IP (Dovecot mail_max_userip_connections) and
 * refuses messages above 20 000 bytes (quota_max_mail_size, announced as APPENDLIMIT). A server that
 * does not announce it answers "NO [LIMIT] ..." to such an APPEND: a failed message, not pushback
 * (unit test in test/unit/imap/retry.test.ts).
 */
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {seed, snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {freshUser, runCli, syncArgs, tempDir} from './cli.js'

const LIMIT = 20_000
let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()

before(async () => {
  ;[source, dest] = await Promise.all([
    startDovecot({separator: '/', name: 'th-src'}),
    startDovecot({
      separator: '.',
      name: 'th-dst',
      maxMailSize: LIMIT,
      // Dovecot 2.3 enforces quota_max_mail_size but does not announce it: announce it as RFC 7889 APPENDLIMIT.
      extraConfig: `imap_capability = +APPENDLIMIT=${LIMIT}\nprotocol imap {\n  mail_max_userip_connections = 2\n}\n`,
    }),
  ])
})
after(async () => {
  await Promise.all([source?.stop(), dest?.stop()])
  tmp.cleanup()
})

const small = (count: number, seedNumber: number) => generateMessages(count, {seed: seedNumber, meanSize: 2000}).filter((m) => m.raw.length < LIMIT / 2)

test('--max-messages-per-second holds the pace; --connections 2 copies with two sessions', async () => {
  const users = {source: freshUser('th'), dest: freshUser('th')}
  const messages = small(40, 51).slice(0, 30)
  await seed(source, users.source, {INBOX: messages})
  const {args, env} = syncArgs(source, dest, users, join(tmp.dir, `${users.source}.sqlite`))
  const run = await runCli([...args, '--json', '--max-messages-per-second', '10', '--connections', '2'], env)
  assert.equal(run.code, 0, run.stderr)
  assert.equal(run.json.totals.copied, messages.length)
  // 30 messages at 10 per second after a one-second burst of 10: at least ~2 s.
  assert.ok(run.json.durationMs >= 1800, `took ${run.json.durationMs} ms`)
  assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
})

test('more sessions than the server allows: pushback, not failure; the pool goes on with what it has', async () => {
  const users = {source: freshUser('cap'), dest: freshUser('cap')}
  await seed(source, users.source, {INBOX: small(60, 52), Archive: small(60, 53)})
  const logFile = join(tmp.dir, `${users.source}.log`)
  const {args, env} = syncArgs(source, dest, users, join(tmp.dir, `${users.source}.sqlite`))
  const run = await runCli([...args, '--json', '--concurrency', '6', '--log-file', logFile], env)
  assert.equal(run.code, 0, `${run.stderr}${run.json?.error}\n${readFileSync(logFile, 'utf8')}`)
  assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
  // Which connection meets the cap depends on who logs in first (Dovecot may even let a third one
  // in when two log in at once): the pool's sessions or the pipelined APPEND connection.
  assert.match(
    readFileSync(logFile, 'utf8'),
    /WARN  destination \S+: the server refuses (more sessions \(.*\); going on with [12]|another connection for pipelined APPENDs \(.*\); APPENDs go through the existing sessions)/,
  )

  // Sessions only (no pipelined connections): six asked for, two allowed; the pool shrinks.
  const only = {source: users.source, dest: freshUser('cap')}
  const sessions = syncArgs(source, dest, only, join(tmp.dir, `${only.dest}.sqlite`))
  const sessionsLog = join(tmp.dir, `${only.dest}.log`)
  const pooled = await runCli([...sessions.args, '--json', '--concurrency', '6', '--debug-no-pipeline', '--log-file', sessionsLog], sessions.env)
  assert.equal(pooled.code, 0, `${pooled.stderr}${pooled.json?.error}\n${readFileSync(sessionsLog, 'utf8')}`)
  assert.deepEqual(await snapshot(dest, only.dest), await snapshot(source, users.source))
  assert.match(readFileSync(sessionsLog, 'utf8'), /WARN  destination \S+: the server refuses more sessions \(.*\); going on with [123]/)
})

test('--max-errors stops a run gone bad (exit 1); messages above APPENDLIMIT are named as such', async () => {
  const users = {source: freshUser('me'), dest: freshUser('me')}
  const big = generateMessages(12, {seed: 54, largeSizes: [60_000, 70_000, 80_000]}).filter((m) => m.raw.length > LIMIT)
  assert.ok(big.length >= 3, 'enough large messages')
  await seed(source, users.source, {INBOX: [...big.slice(0, 3), ...small(40, 55)]})
  const {args, env} = syncArgs(source, dest, users, join(tmp.dir, `${users.source}.sqlite`))

  const all = await runCli([...args, '--json', '--concurrency', '1', '--connections', '1'], env)
  assert.equal(all.code, 1, all.stderr)
  assert.equal(all.json.totals.failed, 3)
  for (const failure of all.json.failures) assert.match(failure.reason, new RegExp(`^larger than the destination's APPENDLIMIT \\(${LIMIT} bytes\\)$`))

  const users2 = {source: users.source, dest: freshUser('me')}
  const {args: args2, env: env2} = syncArgs(source, dest, users2, join(tmp.dir, `${users2.dest}.sqlite`))
  const stopped = await runCli([...args2, '--json', '--concurrency', '1', '--connections', '1', '--max-errors', '2'], env2)
  assert.equal(stopped.code, 1, stopped.stderr)
  assert.equal(stopped.json.totals.failed, 2)
  assert.match(stopped.json.error, /stopped after 2 failed messages \(--max-errors 2\)/)
  assert.ok(stopped.json.totals.copied < 40, 'the run stopped before the end')
})
