/**
 * mailferry watch against real Dovecots: new mail and flag changes reach the destination within
 * seconds; SIGTERM stops it cleanly with exit 0.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {appendOne, listUids, seed, setFlags, snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {BIN, freshUser, serversForFile, syncArgs, tempDir} from './cli.js'

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
