/**
 * A message the destination refuses is counted, named (folder, UID, reason) and does not stop the run.
 */
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {seed, snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {freshUser, runCli, serversForFile, syncArgs, tempDir} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()

serversForFile(() => Promise.all([startDovecot({separator: '/'}), startDovecot({separator: '.', maxMailSize: 200_000})]), (started) => ([source, dest] = started), tmp)

test('an over-size message is reported and every other message is copied', async () => {
  const users = {source: freshUser('src'), dest: freshUser('dst')}
  const state = join(tmp.dir, `${users.source}.sqlite`)
  const small = generateMessages(9, {seed: 4, meanSize: 3000})
  const [big] = generateMessages(1, {seed: 5, largeSizes: [600_000]}).filter((m) => m.raw.length > 500_000)
  assert.ok(big, 'the generator made a large message')
  await seed(source, users.source, {INBOX: [...small.slice(0, 4), big, ...small.slice(4)]})

  const {args, env} = syncArgs(source, dest, users, state)
  const run = await runCli([...args, '--json'], env)
  assert.equal(run.code, 1, run.stderr)
  assert.equal(run.json.totals.copied, 9)
  assert.equal(run.json.totals.failed, 1)
  assert.equal(run.json.failures.length, 1)
  assert.equal(run.json.failures[0].folder, 'INBOX')
  assert.equal(run.json.failures[0].uid, 5)
  assert.ok(run.json.failures[0].reason.length > 0)

  const destInbox = (await snapshot(dest, users.dest)).INBOX ?? []
  const sourceInbox = (await snapshot(source, users.source)).INBOX ?? []
  assert.equal(destInbox.length, 9)
  assert.deepEqual(destInbox, sourceInbox.filter((m) => m.size < 500_000))

  // The human report names it too; a re-run tries it again and appends nothing else.
  const again = await runCli(args, env)
  assert.equal(again.code, 1)
  assert.match(again.stdout, /INBOX UID 5: /)
  assert.equal(((await snapshot(dest, users.dest)).INBOX ?? []).length, 9)
})

test('--repair leaves a refusal no repair fixes (over the size limit) as it was: refused, listed, nothing recorded as repaired', async () => {
  const users = {source: freshUser('src'), dest: freshUser('dst')}
  const state = join(tmp.dir, `${users.source}.sqlite`)
  const small = generateMessages(3, {seed: 6, meanSize: 3000})
  const [big] = generateMessages(1, {seed: 7, largeSizes: [600_000]}).filter((m) => m.raw.length > 500_000)
  await seed(source, users.source, {INBOX: [...small, big]})
  const {args, env} = syncArgs(source, dest, users, state)
  const run = await runCli([...args, '--repair', 'headers,nul,from-line,long-lines', '--json'], env)
  assert.equal(run.code, 1, run.stderr)
  assert.equal(run.json.totals.copied, 3)
  assert.deepEqual(run.json.repaired, [])
  assert.equal(run.json.failures.length, 1)
  assert.equal(run.json.failures[0].uid, 4)
  assert.match(run.json.failures[0].reason, /no repair of --repair headers,nul,from-line,long-lines applies/)
  assert.equal(((await snapshot(dest, users.dest)).INBOX ?? []).length, 3)
})
