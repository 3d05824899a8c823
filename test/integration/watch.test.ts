/**
 * mailferry watch against real Dovecots: new mail and flag changes reach the destination within
 * seconds; SIGTERM stops it cleanly with exit 0.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {appendOne, listUids, seed, setFlags, snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {BIN, freshUser, serversForFile, syncArgs, tempDir, waitForLog} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()

serversForFile(() => Promise.all([startDovecot({separator: '.'}), startDovecot({separator: '/'})]), (started) => ([source, dest] = started), tmp)

/** Polls until check() is true; returns how long it took, or fails after timeoutMs. */
async function within(timeoutMs: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now()
  while (Date.now() - started < timeoutMs) {
    if (await check()) return Date.now() - started
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.fail(`not within ${timeoutMs} ms`)
}

test('new mail and flag changes arrive within 5 s; SIGTERM stops cleanly', async () => {
  const users = {source: freshUser('watch'), dest: freshUser('watch')}
  const messages = generateMessages(6, {seed: 31})
  await seed(source, users.source, {INBOX: messages.slice(0, 3), Notes: messages.slice(3, 4)})
  const {args, env} = syncArgs(source, dest, users, join(tmp.dir, `${users.source}.sqlite`))
  args[0] = 'watch'
  const child = spawn(process.execPath, [BIN, ...args, '--interval', '3'], {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']})
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  try {
    const equal = async () => JSON.stringify(await snapshot(dest, users.dest)) === JSON.stringify(await snapshot(source, users.source))
    await within(15_000, equal).catch((error) => assert.fail(`${error.message}\n${stderr}`))

    await appendOne(source, users.source, 'INBOX', messages[4])
    const newMail = await within(5000, equal).catch((error) => assert.fail(`${error.message}\n${stderr}`))
    const [uid] = await listUids(source, users.source, 'INBOX')
    await setFlags(source, users.source, 'INBOX', [uid], ['\\Flagged', 'Watched'], 'add')
    const flagChange = await within(5000, equal)
    await appendOne(source, users.source, 'Notes', messages[5])
    const otherFolder = await within(5000, equal)
    console.log(`# watch: new mail ${newMail} ms, flag change ${flagChange} ms, other folder ${otherFolder} ms`)
  } finally {
    child.kill('SIGTERM')
  }
  assert.equal(await exited, 0, stderr)
  assert.match(stderr, /stopped; the state is saved/)
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
    const child = spawn(process.execPath, [BIN, ...args, '--concurrency', '4', '--interval', '300', '--debug-imap', '--log-file', logFile], {
      env: {...process.env, ...env},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    const inbox = (count: number, timeoutMs: number) =>
      within(timeoutMs, async () => (await dest.messageCount(users.dest, 'INBOX')) === count).catch((error) => assert.fail(`${error.message}\n${stderr}`))
    try {
      await inbox(40, 20_000)
      await waitForLog(logFile, (text) => / C: \S+ IDLE/.test(text), 'IDLE')
      for (const [n, message] of messages.slice(58).entries()) {
        await limited.deliver(users.source, 'INBOX', message.raw)
        await inbox(41 + n, 5000)
      }
    } finally {
      child.kill('SIGTERM')
    }
    assert.equal(await exited, 0, stderr)
    const refused = readFileSync(logFile, 'utf8').split('\n').filter((line) => /Maximum number of connections|refuses (more sessions|another connection)|a mailferry bug/i.test(line))
    assert.deepEqual(refused, [], 'no fifth connection')
  } finally {
    await limited.stop()
  }
})
