/**
 * mailferry watch against real Dovecots: new mail and flag changes reach the destination within
 * seconds; SIGTERM stops it cleanly with exit 0.
 */
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {appendOne, listUids, seed, setFlags, snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {freshUser, refusals, serversForFile, spawnCli, syncArgs, tempDir, waitForLog, within} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()

serversForFile(() => Promise.all([startDovecot({separator: '.'}), startDovecot({separator: '/'})]), (started) => ([source, dest] = started), tmp)

test('new mail and flag changes arrive within 5 s; SIGTERM stops cleanly', async () => {
  const users = {source: freshUser('watch'), dest: freshUser('watch')}
  const messages = generateMessages(6, {seed: 31})
  await seed(source, users.source, {INBOX: messages.slice(0, 3), Notes: messages.slice(3, 4)})
  const {args, env} = syncArgs(source, dest, users, join(tmp.dir, `${users.source}.sqlite`))
  args[0] = 'watch'
  const watch = spawnCli([...args, '--interval', '3'], env)
  let code
  try {
    const equal = async () => JSON.stringify(await snapshot(dest, users.dest)) === JSON.stringify(await snapshot(source, users.source))
    await within(15_000, equal, watch.stderr)

    await appendOne(source, users.source, 'INBOX', messages[4])
    const newMail = await within(5000, equal, watch.stderr)
    const [uid] = await listUids(source, users.source, 'INBOX')
    await setFlags(source, users.source, 'INBOX', [uid], ['\\Flagged', 'Watched'], 'add')
    const flagChange = await within(5000, equal, watch.stderr)
    await appendOne(source, users.source, 'Notes', messages[5])
    const otherFolder = await within(5000, equal, watch.stderr)
    console.log(`# watch: new mail ${newMail} ms, flag change ${flagChange} ms, other folder ${otherFolder} ms`)
  } finally {
    code = await watch.stop()
  }
  assert.equal(code, 0, watch.stderr())
  assert.match(watch.stderr(), /stopped; the state is saved/)
})

test('IDLE stays within --connections: a source that lets in 4 connections per user and IP, watch at 4, mail arrives within 5 s', async () => {
  const limited = await startDovecot({separator: '.', name: 'w-lim4', extraConfig: 'protocol imap {\n  mail_max_userip_connections = 4\n}\n'})
  const users = {source: freshUser('watch'), dest: freshUser('watch')}
  const logFile = join(tmp.dir, `${users.source}.log`)
  const messages = generateMessages(60, {seed: 32})
  try {
    await seed(limited, users.source, {INBOX: messages.slice(0, 40), Notes: messages.slice(40, 58)})
    const {args, env} = syncArgs(limited, dest, users, join(tmp.dir, `${users.source}.sqlite`))
    args[0] = 'watch'
    // Interval 300 s: only IDLE brings the new mail in time; delivered and counted with doveadm (no IMAP connection).
    const watch = spawnCli([...args, '--concurrency', '4', '--interval', '300', '--debug-imap', '--log-file', logFile], env)
    const inbox = (count: number, timeoutMs: number) => within(timeoutMs, async () => (await dest.messageCount(users.dest, 'INBOX')) === count, watch.stderr)
    let code
    try {
      await inbox(40, 20_000)
      await waitForLog(logFile, (text) => / C: \S+ IDLE/.test(text), 'IDLE')
      for (const [n, message] of messages.slice(58).entries()) {
        await limited.deliver(users.source, 'INBOX', message.raw)
        await inbox(41 + n, 5000)
      }
    } finally {
      code = await watch.stop()
    }
    assert.equal(code, 0, watch.stderr())
    assert.deepEqual(refusals(readFileSync(logFile, 'utf8')), [], 'no fifth connection')
  } finally {
    await limited.stop()
  }
})
