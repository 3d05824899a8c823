/**
 * mailferry sync against two real Dovecot servers (source separator '.', destination '/').
 * Copies are judged by what the servers return (BODY.PEEK[] hashes, FLAGS, INTERNALDATE), never by files.
 */
import assert from 'node:assert/strict'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {describe, test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {folderTree, openClient, seed, snapshot} from '../harness/mailbox.js'
import {generateMessages, nastyMessages, type SeedMessage} from '../harness/messages.js'
import {freshUser, runCli, serversForFile, syncArgs, tempDir} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()

serversForFile(() => Promise.all([startDovecot({separator: '.'}), startDovecot({separator: '/'})]), (started) => ([source, dest] = started), tmp)

/**
 * Twins that differ only in line ends: different files, but byte-identical once the server returns
 * them with CRLF. Different dates and flags, so pairing them crosswise would show.
 */
function lineEndTwins(): SeedMessage[] {
  const text = 'From: twin@example.org\nSubject: line ends\nMessage-ID: <twin@example.org>\n\nsame text\n'
  return [
    {raw: Buffer.from(text), flags: ['\\Seen', '$Forwarded'], internalDate: new Date('2019-01-01T10:00:00Z')},
    {raw: Buffer.from(text.replace(/\n/g, '\r\n')), flags: ['\\Flagged'], internalDate: new Date('2020-06-01T10:00:00Z')},
  ]
}

function mailbox(): Record<string, SeedMessage[]> {
  const generated = generateMessages(60, {seed: 7})
  return {
    INBOX: [...nastyMessages(), ...lineEndTwins(), ...generated.slice(0, 20)],
    'Work/Projects 2024': generated.slice(20, 40),
    'Entwürfe': generated.slice(40, 50),
    'Lists/a&b list': generated.slice(50, 60),
  }
}

async function sync(users: {source: string; dest: string}, state: string, extra: string[] = []) {
  const {args, env} = syncArgs(source, dest, users, state)
  return runCli([...args, '--json', ...extra], env)
}

function assertOk(run: Awaited<ReturnType<typeof sync>>) {
  assert.equal(run.code, 0, `exit ${run.code}\nstdout: ${run.stdout.slice(0, 2000)}\nstderr: ${run.stderr.slice(0, 2000)}`)
  assert.ok(run.json, 'a JSON report on stdout')
}

describe('mailferry sync', () => {
  test('copies every folder exactly, leaves the source untouched, and a second run appends nothing', async () => {
    const users = {source: freshUser('src'), dest: freshUser('dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    await seed(source, users.source, mailbox())
    const sourceBefore = await snapshot(source, users.source)
    const total = Object.values(sourceBefore).reduce((n, list) => n + list.length, 0)

    const first = await sync(users, state)
    assertOk(first)
    assert.equal(first.json.totals.copied, total)
    assert.equal(first.json.totals.failed, 0)
    assert.deepEqual(await snapshot(dest, users.dest), sourceBefore)
    assert.deepEqual(await snapshot(source, users.source), sourceBefore, 'source flags and messages unchanged')
    assert.deepEqual(await folderTree(dest, users.dest), await folderTree(source, users.source))

    const second = await sync(users, state)
    assertOk(second)
    assert.equal(second.json.totals.copied, 0)
    assert.equal(second.json.totals.alreadyPresent, total)
    assert.deepEqual(await snapshot(dest, users.dest), sourceBefore)
  })

  test('with the state database deleted, a re-run recognises everything and appends nothing', async () => {
    const users = {source: freshUser('src'), dest: freshUser('dst')}
    await seed(source, users.source, mailbox())
    const first = await sync(users, join(tmp.dir, `${users.source}-a.sqlite`))
    assertOk(first)
    const again = await sync(users, join(tmp.dir, `${users.source}-b.sqlite`))
    assertOk(again)
    assert.equal(again.json.totals.copied, 0)
    assert.equal(again.json.totals.recognised, first.json.totals.copied)
    assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
  })

  test('matching counts copies and never merges distinct messages that share Message-ID and size', async () => {
    const users = {source: freshUser('src'), dest: freshUser('dst')}
    const date = new Date('2021-03-04T05:06:07Z')
    const message = (body: string, received: string) =>
      Buffer.from(
        `Received: from ${received}\r\nFrom: a@example.org\r\nTo: b@example.org\r\nSubject: same\r\n` +
          `Message-ID: <shared@example.org>\r\n\r\n${body}\r\n`,
      )
    // Three different messages with one identity (same Message-ID, same size); two share all headers.
    const a = message('body AAAA', 'relay1')
    const b = message('body BBBB', 'relay1')
    const c = message('body CCCC', 'relay2')
    // Two byte-identical copies too.
    const twin = Buffer.from('From: x@example.org\r\nSubject: twin\r\n\r\nno message-id here\r\n')
    await seed(source, users.source, {
      INBOX: [a, b, c, twin, twin].map((raw) => ({raw, flags: ['\\Seen'], internalDate: date})),
    })
    // The destination already holds one of the three and one twin.
    await seed(dest, users.dest, {INBOX: [b, twin].map((raw) => ({raw, flags: ['\\Seen'], internalDate: date}))})

    // Line-end twins are on the destination already, in the opposite order: each must pair with
    // its own copy (same date), or the flags would be set crosswise.
    const twins = lineEndTwins()
    await seed(source, users.source, {Twins: twins})
    await seed(dest, users.dest, {Twins: [...twins].reverse()})

    const run = await sync(users, join(tmp.dir, `${users.source}.sqlite`))
    assertOk(run)
    assert.equal(run.json.totals.copied, 3, 'a, c and the second twin')
    assert.equal(run.json.totals.recognised, 4)
    assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
  })

  test('new messages and flag changes on the source reach the destination on the next run', async () => {
    const users = {source: freshUser('src'), dest: freshUser('dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    const initial = generateMessages(12, {seed: 3})
    await seed(source, users.source, {INBOX: initial})
    assertOk(await sync(users, state))

    const client = await openClient(source, users.source)
    try {
      await client.mailboxOpen('INBOX')
      await client.messageFlagsAdd('1:3', ['\\Flagged', 'Urgent'], {uid: true})
      await client.messageFlagsRemove('1:12', ['\\Seen'], {uid: true})
      // An exact copy of an existing message arrives: it must be copied too, not merged.
      await client.append('INBOX', initial[0].raw, ['\\Answered'], initial[0].internalDate)
    } finally {
      await client.logout()
    }
    const run = await sync(users, state)
    assertOk(run)
    assert.equal(run.json.totals.copied, 1)
    assert.ok(run.json.totals.flagsUpdated >= 3)
    assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
  })

  test('without UIDPLUS answers the copies are still found again: no duplicates', async () => {
    const users = {source: freshUser('src'), dest: freshUser('dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    const messages = generateMessages(10, {seed: 11})
    await seed(source, users.source, {INBOX: [...messages, messages[2]]})
    assertOk(await sync(users, state, ['--debug-ignore-appenduid']))
    const client = await openClient(source, users.source)
    try {
      await client.append('INBOX', messages[2].raw, messages[2].flags, messages[2].internalDate)
    } finally {
      await client.logout()
    }
    const run = await sync(users, state, ['--debug-ignore-appenduid'])
    assertOk(run)
    assert.equal(run.json.totals.copied, 1, 'only the third copy of message 2')
    assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
  })

  test('a source folder recreated with a new UIDVALIDITY is re-matched, not copied again', async () => {
    const users = {source: freshUser('src'), dest: freshUser('dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    const messages = generateMessages(8, {seed: 5})
    await seed(source, users.source, {Archive: messages})
    assertOk(await sync(users, state))
    const client = await openClient(source, users.source)
    try {
      await client.mailboxDelete('Archive')
    } finally {
      await client.logout()
    }
    await seed(source, users.source, {Archive: messages})
    const run = await sync(users, state)
    assertOk(run)
    assert.equal(run.json.totals.copied, 0)
    assert.ok(run.json.warnings.some((w: string) => w.includes('UIDVALIDITY')), 'one report line about it')
    assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
  })
})

describe('mailferry sync: bad input', () => {
  test('a wrong password: one line, exit 3, no state file, nothing on the destination', async () => {
    const users = {source: freshUser('src'), dest: freshUser('dst')}
    await seed(source, users.source, {INBOX: generateMessages(3, {seed: 1})})
    const state = join(tmp.dir, `${users.source}.sqlite`)
    const {args, env} = syncArgs(source, dest, users, state)
    const run = await runCli(args, {...env, MF_TEST_SOURCE_PW: 'not-the-password-xyz'})
    assert.equal(run.code, 3, run.stderr)
    assert.match(run.stderr, /source .*login failed/)
    assert.doesNotMatch(run.stderr, /not-the-password-xyz/)
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace')
    assert.equal(existsSync(state), false)
    assert.equal((await snapshot(dest, users.dest)).INBOX?.length ?? 0, 0)
  })

  test('a closed port: exit 4 with the host and port named', async () => {
    const users = {source: freshUser('src'), dest: freshUser('dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    const {args, env} = syncArgs(source, dest, users, state)
    const closed = args.map((arg) => arg.replace(`:${dest.port}`, ':1'))
    const run = await runCli(closed, env)
    assert.equal(run.code, 4, run.stderr)
    assert.match(run.stderr, /destination .*127\.0\.0\.1:1.*cannot connect/)
    assert.equal(existsSync(state), false)
  })

  test('malformed YAML: exit 2 with file, line and column', async () => {
    const {writeFileSync} = await import('node:fs')
    const file = join(tmp.dir, 'broken.yaml')
    writeFileSync(file, 'source:\n  host: 127.0.0.1\n   port: [oops\n')
    const run = await runCli(['sync', '--config', file])
    assert.equal(run.code, 2, run.stderr)
    assert.match(run.stderr, /broken\.yaml:\d+:\d+/)
    assert.doesNotMatch(run.stderr, /\n\s+at /)
  })
})
