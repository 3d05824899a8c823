/**
 * mailferry verify against two real Dovecot servers (source separator '.', destination '/'):
 * equal right after a sync, and each injected fault found and named with both UIDs.
 * Faults are injected with raw imapflow (test/harness), never through mailferry.
 */
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {describe, test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {deleteFolder, expunge, openClient, seed, serverPath, setFlags, snapshot} from '../harness/mailbox.js'
import {generateMessages, nastyMessages, type SeedMessage} from '../harness/messages.js'
import {type CliResult, freshUser, runCli, serversForFile, syncArgs, tempDir} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()

serversForFile(() => Promise.all([startDovecot({separator: '.'}), startDovecot({separator: '/'})]), (started) => ([source, dest] = started), tmp)

type Users = {source: string; dest: string}

async function sync(users: Users): Promise<void> {
  const {args, env} = syncArgs(source, dest, users, join(tmp.dir, `${users.source}.sqlite`))
  const run = await runCli([...args, '--json'], env)
  assert.equal(run.code, 0, `sync: exit ${run.code}\n${run.stderr}`)
}

/** The sync arguments, as verify takes the same connection flags (no --state). */
function verify(users: Users, extra: string[] = []): Promise<CliResult> {
  const {args, env} = syncArgs(source, dest, users, 'unused')
  const connection = args.slice(1, args.indexOf('--state'))
  return runCli(['verify', ...connection, ...extra], env)
}

function mailbox(): Record<string, SeedMessage[]> {
  const messages = generateMessages(24, {seed: 21})
  return {INBOX: messages.slice(0, 12), 'Archive/2024': messages.slice(12, 20), 'Lists/dev': messages.slice(20)}
}

/** Destination UID of every message by Message-ID. */
async function destUids(users: Users, folder: string): Promise<Map<string, number>> {
  const client = await openClient(dest, users.dest)
  try {
    await client.mailboxOpen(serverPath(dest, folder), {readOnly: true})
    const out = new Map<string, number>()
    for await (const m of client.fetch('1:*', {uid: true, envelope: true})) out.set(m.envelope!.messageId!, m.uid)
    return out
  } finally {
    await client.logout()
  }
}

const messageIdOf = (raw: Buffer) => /^Message-ID: (.*)$/im.exec(raw.toString('latin1'))![1].trim()

/** The same message with one body byte changed: equal size, equal header block. */
function changeBody(raw: Buffer): Buffer {
  const copy = Buffer.from(raw)
  const bodyStart = copy.indexOf('\r\n\r\n') + 4
  const at = copy.indexOf('e', bodyStart)
  copy[at] = 'x'.charCodeAt(0)
  return copy
}

describe('mailferry verify', () => {
  test('right after a sync: exit 0, quick and --deep, and neither side is changed', async () => {
    const users = {source: freshUser('src'), dest: freshUser('dst')}
    // The hard cases too: no Message-ID, shared Message-IDs, byte-identical copies, bare LF...
    const seeded = mailbox()
    seeded['Hard cases'] = nastyMessages()
    const total = Object.values(seeded).reduce((n, list) => n + list.length, 0)
    await seed(source, users.source, seeded)
    await sync(users)
    const before = {source: await snapshot(source, users.source), dest: await snapshot(dest, users.dest)}

    // Read-only, so the three runs can go at once.
    const [quick, deep, human] = await Promise.all([verify(users, ['--json']), verify(users, ['--deep', '--json']), verify(users)])
    assert.equal(quick.code, 0, `exit ${quick.code}\n${quick.stdout.slice(0, 3000)}\n${quick.stderr}`)
    assert.equal(quick.json.ok, true)
    assert.equal(quick.json.totals.sourceMessages, total)
    assert.equal(quick.json.totals.equal, total)
    assert.equal(quick.json.totals.bytesHashed, 0, 'no body is downloaded without --deep')
    assert.deepEqual(quick.json.differences, [])

    assert.equal(deep.code, 0, deep.stdout.slice(0, 3000))
    assert.equal(deep.json.totals.equal, total)
    assert.ok(deep.json.totals.bytesHashed > 0)

    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /^INBOX\s+INBOX\s+12\s+12\s+0\s+0\s+0\s+equal$/m)
    assert.match(human.stdout, /exit 0: source and destination are equal/)

    assert.deepEqual(await snapshot(source, users.source), before.source, 'source unchanged (\\Seen too)')
    assert.deepEqual(await snapshot(dest, users.dest), before.dest, 'destination unchanged')
  })

  test('finds a missing, an extra, a flag, a date and a folder difference; a same-size body change only with --deep', async () => {
    const users = {source: freshUser('src'), dest: freshUser('dst')}
    const seeded = mailbox()
    const inbox = seeded.INBOX
    await seed(source, users.source, seeded)
    await sync(users)
    const uids = await destUids(users, 'INBOX')
    const destUid = (i: number) => uids.get(messageIdOf(inbox[i].raw))!
    const extraMessage = generateMessages(1, {seed: 99})[0]
    const client = await openClient(dest, users.dest)
    let extraUid: number
    let redatedUid: number
    let changedUid: number
    try {
      // Source UIDs are 1..12 in seed order.
      // 1. missing: source UID 2 is expunged on the destination.
      await expunge(dest, users.dest, 'INBOX', [destUid(1)])
      // 2. extra: a message only on the destination.
      extraUid = ((await client.append('INBOX', extraMessage.raw, ['\\Seen'], extraMessage.internalDate)) as {uid: number}).uid
      // 3. flags: source UID 5 (\\Seen $Forwarded) gets \Flagged and a keyword on the destination, loses \Seen.
      // 4. date: source UID 6 is replaced by the same bytes with another internal date.
      redatedUid = ((await client.append('INBOX', inbox[5].raw, inbox[5].flags, new Date('2001-02-03T04:05:06Z'))) as {uid: number}).uid
      // 5. body: source UID 8 is replaced by a copy with one body byte changed (same size and headers).
      changedUid = ((await client.append('INBOX', changeBody(inbox[7].raw), inbox[7].flags, inbox[7].internalDate)) as {uid: number}).uid
    } finally {
      await client.logout()
    }
    await setFlags(dest, users.dest, 'INBOX', [destUid(4)], ['\\Seen'], 'remove')
    await setFlags(dest, users.dest, 'INBOX', [destUid(4)], ['\\Flagged', 'Checked'], 'add')
    await expunge(dest, users.dest, 'INBOX', [destUid(5), destUid(7)])
    // 6. a folder missing on the destination.
    await deleteFolder(dest, users.dest, 'Lists/dev')

    const [quick, deep, human] = await Promise.all([verify(users, ['--json']), verify(users, ['--deep', '--json']), verify(users)])
    assert.equal(quick.code, 1, quick.stderr)
    assert.equal(quick.json.ok, false)
    const shape = (run: CliResult) =>
      run.json.differences.map((d: any) => ({
        folder: d.folder,
        kind: d.kind,
        sourceUid: d.sourceUid,
        destUid: d.destUid,
        what: d.differences.map((x: any) => x.kind),
      }))
    const expected = [
      {folder: 'INBOX', kind: 'missing', sourceUid: 2, destUid: null, what: []},
      {folder: 'INBOX', kind: 'changed', sourceUid: 5, destUid: destUid(4), what: ['flags']},
      {folder: 'INBOX', kind: 'changed', sourceUid: 6, destUid: redatedUid, what: ['internalDate']},
      {folder: 'INBOX', kind: 'extra', sourceUid: null, destUid: extraUid, what: []},
      {folder: 'Lists.dev', kind: 'folder-missing', sourceUid: null, destUid: null, what: []},
    ]
    assert.deepEqual(shape(quick), expected, 'without --deep the same-size body change is not seen')
    const flags = quick.json.differences.find((d: any) => d.sourceUid === 5).differences[0]
    assert.deepEqual(flags, {kind: 'flags', add: ['Checked', '\\Flagged'], remove: ['\\Seen']})
    const date = quick.json.differences.find((d: any) => d.sourceUid === 6).differences[0]
    assert.deepEqual(date, {kind: 'internalDate', source: inbox[5].internalDate.toISOString(), dest: '2001-02-03T04:05:06.000Z'})
    assert.equal(quick.json.totals.missing, 1 + 4, 'the missing message and the missing folder\'s four')

    assert.equal(deep.code, 1)
    const withBody = [...expected]
    withBody.splice(3, 0, {folder: 'INBOX', kind: 'changed', sourceUid: 8, destUid: changedUid, what: ['body']})
    assert.deepEqual(shape(deep), withBody)

    assert.equal(human.code, 1)
    assert.match(human.stdout, /^INBOX\s+2\s+missing\s+not on the destination \(Message-ID </m)
    assert.match(human.stdout, new RegExp(`^INBOX\\s+extra\\s+${extraUid}\\s+only on the destination`, 'm'))
    assert.match(human.stdout, /^INBOX\s+5\s+\d+\s+flags: \+Checked \+\\Flagged -\\Seen$/m)
    assert.match(human.stdout, /^INBOX\s+6\s+\d+\s+internal date \S+ vs 2001-02-03T04:05:06\.000Z$/m)
    assert.match(human.stdout, /destination folder "Lists\/dev" does not exist \(4 messages on the source\)/)
    assert.match(human.stdout, /exit 1: source and destination differ/)
  })

  test('a Maildir backup is verified like an IMAP destination', async () => {
    const user = freshUser('src')
    const backup = join(tmp.dir, `${user}-backup`)
    await seed(source, user, mailbox())
    const {args, env} = syncArgs(source, dest, {source: user, dest: 'unused'}, join(tmp.dir, `${user}.sqlite`))
    const sourceArgs = args.slice(1, args.indexOf('--dest'))
    const run = await runCli(['sync', ...sourceArgs, '--dest', `maildir:${backup}`, '--state', join(tmp.dir, `${user}.sqlite`), '--json'], env)
    assert.equal(run.code, 0, run.stderr)
    const equal = await runCli(['verify', ...sourceArgs, '--dest', `maildir:${backup}`, '--deep', '--json'], env)
    assert.equal(equal.code, 0, equal.stdout.slice(0, 3000))
    assert.equal(equal.json.totals.equal, 24)

    await setFlags(source, user, 'INBOX', [3], ['$Changed'], 'add')
    const changed = await runCli(['verify', ...sourceArgs, '--dest', `maildir:${backup}`, '--json'], env)
    assert.equal(changed.code, 1)
    assert.deepEqual(
      changed.json.differences.map((d: any) => [d.kind, d.sourceUid, d.text]),
      [['changed', 3, 'flags: -$Changed']],
    )
  })

  test('a wrong password: one line, exit 3', async () => {
    const users = {source: freshUser('src'), dest: freshUser('dst')}
    const {args, env} = syncArgs(source, dest, users, 'unused')
    const run = await runCli(['verify', ...args.slice(1, args.indexOf('--state'))], {...env, MF_TEST_DEST_PW: 'wrong-password-xyz'})
    assert.equal(run.code, 3, run.stderr)
    assert.match(run.stderr, /destination .*login failed/)
    assert.doesNotMatch(run.stderr, /wrong-password-xyz|\n\s+at /)
  })
})
