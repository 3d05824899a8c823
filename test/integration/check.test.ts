/**
 * `mailferry check` between two real Dovecots: the destination has a per-message size limit and a
 * storage quota (quota plugin, GETQUOTAROOT). What check predicts is then met by a sync; check writes
 * nothing on either server and creates no state database.
 */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, test} from 'node:test'

import {repairMessage} from '../../src/check/repair.js'
import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {crlfOnly, deleteFolder, folderTree, seed, snapshot, withClient} from '../harness/mailbox.js'
import {generateMessages, type SeedMessage} from '../harness/messages.js'
import {Relay} from '../harness/relay.js'
import {freshUser, runCli, syncArgs, tempDir} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
let roomy: DovecotInstance
const tmp = tempDir()

const MAX_MAIL = 200_000
const QUOTA_KB = 300

/**
 * The quota plugin's IMAP commands (GETQUOTAROOT) and a storage limit per user. Dovecot 2.3 enforces
 * quota_max_mail_size without announcing it: announced here as RFC 7889 APPENDLIMIT.
 */
const quota = (kb: number, appendLimit: number) => `imap_capability = +APPENDLIMIT=${appendLimit}
protocol imap {
  mail_plugins = $mail_plugins imap_quota
}
plugin {
  quota_rule = *:storage=${kb}K
}
`

before(async () => {
  ;[source, dest, roomy] = await Promise.all([
    startDovecot({separator: '/', name: 'check-src'}),
    startDovecot({separator: '.', maxMailSize: MAX_MAIL, extraConfig: quota(QUOTA_KB, MAX_MAIL), name: 'check-dst'}),
    startDovecot({separator: '.', maxMailSize: 5_000_000, extraConfig: quota(100_000, 5_000_000), name: 'check-roomy'}),
  ])
})
after(async () => {
  await Promise.all([source?.stop(), dest?.stop(), roomy?.stop()])
  tmp.cleanup()
})

const date = new Date('2024-03-01T10:00:00Z')
const message = (lines: string[], body = 'Hello.\r\n'): SeedMessage => ({raw: Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1'), flags: [], internalDate: date})

/** A header line without a colon, in the middle of the header block (Cyrus: "Message contains invalid header"). */
const noColon = message(['From: a@example.com', 'To: b@example.com', 'Subject: broken', 'this line is no header', 'Message-ID: <broken-1@example.com>'])
/** Raw 8-bit bytes in the Subject. */
const eightBit = message(['From: a@example.com', 'To: b@example.com', 'Subject: Gr\xfc\xdfe', 'Message-ID: <eightbit-1@example.com>'])

const checkArgs = (users: {source: string; dest: string}, state: string, to: DovecotInstance) => {
  const {args, env} = syncArgs(source, to, users, state)
  return {args: ['check', ...args.slice(1)], env, sync: args}
}

test('check lists the folders, sizes and quota a sync meets, not what Dovecot accepts; writes nothing; exit 1', async () => {
  const users = {source: freshUser('ck-src'), dest: freshUser('ck-dst')}
  const state = join(tmp.dir, `${users.source}.sqlite`)
  const clean = generateMessages(6, {seed: 21, meanSize: 3000})
  const [big] = generateMessages(1, {seed: 22, largeSizes: [300_000]}).filter((m) => m.raw.length > MAX_MAIL)
  assert.ok(big, 'the generator made a message over the limit')
  await seed(source, users.source, {INBOX: [...clean.slice(0, 3), noColon, big], 'Work/Notes': [...clean.slice(3), eightBit]})

  const {args, env, sync} = checkArgs(users, state, dest)
  const run = await runCli([...args, '--json'], env)
  assert.equal(run.code, 1, `${run.stdout.slice(0, 2000)}\n${run.stderr}`)
  const r = run.json
  assert.equal(r.totals.folders, 2)
  assert.equal(r.totals.toCopy, 9)
  const inbox = r.folders.find((f: any) => f.source === 'INBOX')
  const work = r.folders.find((f: any) => f.source === 'Work/Notes')
  assert.equal(work.dest, 'Work.Notes')
  assert.equal(work.create, true)
  assert.equal(r.appendLimit, MAX_MAIL)
  assert.deepEqual(inbox.overLimit, [5])
  // Dovecot stores a header line without a colon and raw 8-bit header bytes as they are (check/servers.ts).
  assert.equal(r.destServer, 'Dovecot')
  assert.deepEqual([...inbox.flagged, ...work.flagged], [])
  assert.equal(r.totals.likelyRefused, 0)
  // The quota: 300 KiB, with more than that to copy.
  assert.equal(r.quota.length, 1)
  assert.equal(r.quota[0].storage.limit, QUOTA_KB * 1024)
  assert.equal(r.quota[0].storage.toCopy, r.totals.toCopySize)
  assert.equal(r.quota[0].storage.fits, false)

  // Nothing written: no folder on the destination, no state database.
  assert.deepEqual(await folderTree(dest, users.dest), ['INBOX'])
  assert.equal(existsSync(state), false)

  // The human table says the same.
  const human = await runCli(args, env)
  assert.equal(human.code, 1)
  assert.match(human.stdout, /INBOX UIDs 5/)
  assert.match(human.stdout, /DOES NOT FIT/)

  // A sync meets the refusals check predicted (the over-size message at least; Dovecot takes the others).
  const synced = await runCli([...sync, '--json'], env)
  assert.equal(synced.code, 1)
  assert.ok(synced.json.failures.some((f: any) => f.folder === 'INBOX' && f.uid === 5))
})

test('check exits 0 when nothing stands in the way, and counts only what is left to copy', async () => {
  const users = {source: freshUser('ck2-src'), dest: freshUser('ck2-dst')}
  const state = join(tmp.dir, `${users.source}.sqlite`)
  const clean = generateMessages(8, {seed: 23, meanSize: 2000})
  await seed(source, users.source, {INBOX: clean.slice(0, 5), Sent: clean.slice(5)})
  const {args, env, sync} = checkArgs(users, state, roomy)
  const first = await runCli([...args, '--json'], env)
  assert.equal(first.code, 0, `${first.stdout.slice(0, 2000)}\n${first.stderr}`)
  assert.equal(first.json.totals.toCopy, 8)
  assert.equal(first.json.totals.likelyRefused, 0)
  assert.equal(first.json.quota[0].storage.fits, true)

  assert.equal((await runCli(sync, env)).code, 0)
  const again = await runCli([...args, '--json'], env)
  assert.equal(again.code, 0)
  assert.equal(again.json.totals.toCopy, 0, 'the state database says everything is copied')
  assert.equal(Object.values(await snapshot(roomy, users.dest)).flat().length, 8)
})

test('many folders in flight on one scan connection, each read as its own; after a sync only what is left counts, and a folder with a new UIDVALIDITY is read whole', async () => {
  const users = {source: freshUser('ck5-src'), dest: freshUser('ck5-dst')}
  const state = join(tmp.dir, `${users.source}.sqlite`)
  const names = Array.from({length: 10}, (_, i) => `F${i}`)
  const words = Array.from({length: 400}, (_, i) => `name${i}@example.com`).join(', ')
  const long = (id: string) => message(['From: a@example.com', `To: ${words}`, `Subject: ${id}`, `Message-ID: <${id}@example.com>`])
  // Folder i holds i + 2 messages; in odd folders one of them, at UID i % 3 + 1, has a header line over the limit.
  const first: Record<string, SeedMessage[]> = {}
  names.forEach((name, i) => {
    const list = generateMessages(i + 2, {seed: 50 + i, meanSize: 1500 + 300 * i})
    if (i % 2 === 1) list[i % 3] = long(`long-${name}`)
    first[name] = list
  })
  await seed(source, users.source, first)
  // --concurrency 2: one scan connection, so every folder goes through it, several at once.
  const {args, env, sync} = checkArgs(users, state, roomy)
  const limit = ['--dest-max-line-length', '2000', '--concurrency', '2']
  const expectFolders = (json: any, folders: Record<string, SeedMessage[]>, firstUid: (name: string) => number) => {
    for (const [name, list] of Object.entries(folders)) {
      const row = json.folders.find((f: any) => f.source === name)
      assert.equal(row.toCopy, list.length, `${name}: messages to copy`)
      assert.equal(row.toCopySize, list.reduce((total, m) => total + crlfOnly(m.raw).length, 0), `${name}: bytes to copy`)
      const flagged = list.flatMap((m, i) => (m.raw.includes(words) ? [firstUid(name) + i] : []))
      assert.deepEqual(row.flagged.map((m: any) => m.uid), flagged, `${name}: flagged UIDs`)
    }
  }
  const checked = await runCli([...args, ...limit, '--json'], env)
  assert.equal(checked.code, 1, `${checked.stdout.slice(0, 2000)}\n${checked.stderr}`)
  expectFolders(checked.json, first, () => 1)
  assert.equal(checked.json.totals.likelyRefused, 5)

  // A sync copies all but the five long ones; then each folder gets two more (one long in even
  // folders), and F9 is deleted and made again with new messages: a new UIDVALIDITY.
  const synced = await runCli([...sync, ...limit, '--json'], env)
  assert.equal(synced.json.totals.copied, 60)
  const more: Record<string, SeedMessage[]> = {}
  names.slice(0, 9).forEach((name, i) => (more[name] = [generateMessages(1, {seed: 80 + i})[0], ...(i % 2 === 0 ? [long(`later-${name}`)] : [])]))
  await deleteFolder(source, users.source, 'F9')
  more.F9 = generateMessages(3, {seed: 90})
  await seed(source, users.source, more)

  const again = await runCli([...args, ...limit, '--json'], env)
  assert.equal(again.code, 1, `${again.stdout.slice(0, 2000)}\n${again.stderr}`)
  // Left to copy: the long ones the sync could not store, and what came since.
  const left: Record<string, SeedMessage[]> = {}
  const leftUids: Record<string, number[]> = {}
  names.forEach((name, i) => {
    const refused = first[name].flatMap((m, j) => (m.raw.includes(words) ? [{m, uid: j + 1}] : []))
    const added = more[name].map((m, j) => ({m, uid: name === 'F9' ? j + 1 : first[name].length + j + 1}))
    const all = name === 'F9' ? added : [...refused, ...added]
    left[name] = all.map((x) => x.m)
    leftUids[name] = all.map((x) => x.uid)
  })
  for (const name of names) {
    const row = again.json.folders.find((f: any) => f.source === name)
    assert.equal(row.toCopy, left[name].length, `${name}: messages left to copy`)
    assert.equal(row.toCopySize, left[name].reduce((total, m) => total + crlfOnly(m.raw).length, 0), `${name}: bytes left to copy`)
    const flagged = leftUids[name].filter((_, j) => left[name][j].raw.includes(words))
    assert.deepEqual(row.flagged.map((m: any) => m.uid), flagged, `${name}: flagged UIDs`)
  }
})

test('scan connections cut mid-answer: the folders in flight on them are read again on the sessions, and check says the same', async () => {
  const users = {source: freshUser('ck6-src'), dest: freshUser('ck6-dst')}
  const state = join(tmp.dir, `${users.source}.sqlite`)
  const words = Array.from({length: 400}, (_, i) => `name${i}@example.com`).join(', ')
  const folders: Record<string, SeedMessage[]> = {}
  for (let i = 0; i < 8; i++) {
    const list = generateMessages(60, {seed: 60 + i, meanSize: 3000})
    list[10 + i] = message(['From: a@example.com', `To: ${words}`, `Subject: long ${i}`, `Message-ID: <cut-${i}@example.com>`])
    folders[`Cut${i}`] = list
  }
  await seed(source, users.source, folders)
  const {args, env} = checkArgs(users, state, roomy)
  const limit = ['--dest-max-line-length', '2000', '--json']
  const direct = await runCli([...args, ...limit], env)
  assert.equal(direct.code, 1, `${direct.stdout.slice(0, 2000)}\n${direct.stderr}`)
  assert.equal(direct.json.totals.likelyRefused, 8)

  // Header blocks pass 60 KB within a folder or two: the relay cuts the first two connections that do.
  const relay = new Relay(source.port, {bytes: 60_000, times: 2})
  await relay.start()
  try {
    const log = join(tmp.dir, `${users.source}.log`)
    const viaRelay = checkArgs(users, state, roomy)
    const sourceAt = viaRelay.args.indexOf(`imap://${users.source}@127.0.0.1:${source.port}`)
    viaRelay.args[sourceAt] = `imap://${users.source}@127.0.0.1:${relay.port}`
    const cut = await runCli([...viaRelay.args, ...limit, '--log-file', log, '--debug-imap'], env)
    assert.equal(relay.cuts, 2, 'two connections were cut mid-answer')
    assert.equal(cut.code, 1, `${cut.stdout.slice(0, 2000)}\n${cut.stderr}`)
    assert.match(readFileSync(log, 'utf8'), /read on a session instead/)
    assert.deepEqual(cut.json.folders, direct.json.folders)
    assert.deepEqual(cut.json.totals, direct.json.totals)
  } finally {
    await relay.down()
  }
})

test('a destination that already holds most of the mail (another tool\'s copy): check counts what a sync copies, not what is there', async () => {
  const users = {source: freshUser('ck7-src'), dest: freshUser('ck7-dst')}
  const state = join(tmp.dir, `${users.source}.sqlite`)
  const inbox = generateMessages(10, {seed: 71, meanSize: 2500})
  // Byte-identical twins on the source, one of them on the destination: a multiset, one is left to copy.
  const twin = generateMessages(1, {seed: 72})[0]
  const notes = generateMessages(5, {seed: 73, meanSize: 2000})
  await seed(source, users.source, {INBOX: [...inbox, twin, twin], 'Work/Notes': notes})
  await seed(roomy, users.dest, {INBOX: [...inbox.slice(0, 8), twin, generateMessages(1, {seed: 74})[0]], 'Work/Notes': notes})

  const {args, env, sync} = checkArgs(users, state, roomy)
  const checked = await runCli([...args, '--json'], env)
  assert.equal(checked.code, 0, `${checked.stdout.slice(0, 2000)}\n${checked.stderr}`)
  const folder = (name: string) => checked.json.folders.find((f: any) => f.source === name)
  assert.deepEqual([folder('INBOX').toCopy, folder('INBOX').alreadyThere], [3, 9])
  assert.equal(folder('INBOX').toCopySize, [inbox[8], inbox[9], twin].reduce((total, m) => total + crlfOnly(m.raw).length, 0))
  assert.deepEqual([folder('Work/Notes').toCopy, folder('Work/Notes').alreadyThere], [0, 5])
  assert.deepEqual([checked.json.totals.toCopy, checked.json.totals.alreadyThere], [3, 14])
  const human = await runCli(args, env)
  assert.match(human.stdout, /14 more messages are already on the destination/)

  // The sync does what check said: 3 copied, 14 recognised.
  const synced = await runCli([...sync, '--json'], env)
  assert.equal(synced.code, 0, synced.stderr)
  assert.deepEqual([synced.json.totals.copied, synced.json.totals.recognised], [3, 14])

  // A third twin on the source: both copies on the destination are held by the state's rows, so it
  // is to copy, as the sync then does.
  await seed(source, users.source, {INBOX: [twin]})
  const again = await runCli([...args, '--json'], env)
  assert.equal(again.code, 0, again.stderr)
  assert.deepEqual([again.json.totals.toCopy, again.json.totals.alreadyThere], [1, 0])
  const resynced = await runCli([...sync, '--json'], env)
  assert.deepEqual([resynced.json.totals.copied, resynced.json.totals.recognised], [1, 0])
})

test('a source that lets in two connections per user: check with --connections 4 still reads every folder, and says what an unlimited one does', async () => {
  const capped = await startDovecot({separator: '/', name: 'check-cap2', extraConfig: 'protocol imap {\n  mail_max_userip_connections = 2\n}\n'})
  try {
    const users = {source: freshUser('ck8-src'), dest: freshUser('ck8-dst')}
    const folders: Record<string, SeedMessage[]> = {}
    for (let i = 0; i < 6; i++) folders[`Cap${i}`] = generateMessages(20, {seed: 80 + i, meanSize: 2000})
    await Promise.all([seed(source, users.source, folders), seed(capped, users.source, folders)])
    const state = join(tmp.dir, `${users.source}.sqlite`)
    const free = checkArgs(users, state, roomy)
    const limited = syncArgs(capped, roomy, users, state)
    const [unlimited, two] = await Promise.all([
      runCli([...free.args, '--connections', '4', '--json'], free.env),
      runCli(['check', ...limited.args.slice(1), '--connections', '4', '--json'], limited.env),
    ])
    assert.equal(unlimited.code, 0, unlimited.stderr)
    assert.equal(two.code, 0, `${two.stdout.slice(0, 2000)}\n${two.stderr}`)
    assert.deepEqual(two.json.folders, unlimited.json.folders)
    assert.deepEqual(two.json.totals, unlimited.json.totals)
    assert.equal(two.json.totals.toCopy, 120)
  } finally {
    await capped.stop()
  }
})

test('a destination maxLineLength: check flags a header line over it as refused; sync refuses it; --repair long-lines folds it and stores it once', async () => {
  const users = {source: freshUser('ck3-src'), dest: freshUser('ck3-dst')}
  const state = join(tmp.dir, `${users.source}.sqlite`)
  const words = Array.from({length: 400}, (_, i) => `name${i}@example.com`).join(', ')
  const long = message(['From: a@example.com', `To: ${words}`, 'Subject: many recipients', 'Message-ID: <long-1@example.com>'])
  await seed(source, users.source, {INBOX: [generateMessages(1, {seed: 24})[0], long]})
  const {args, env, sync} = checkArgs(users, state, roomy)
  const limit = ['--dest-max-line-length', '2000']
  const checked = await runCli([...args, ...limit, '--json'], env)
  assert.equal(checked.code, 1, `${checked.stdout.slice(0, 2000)}\n${checked.stderr}`)
  assert.deepEqual(checked.json.folders[0].flagged.map((m: any) => [m.uid, m.verdict, m.findings.map((f: any) => f.problem)]), [[2, 'refused', ['long-line']]])

  const plain = await runCli([...sync, ...limit, '--json'], env)
  assert.equal(plain.code, 1)
  assert.deepEqual(plain.json.failures.map((f: any) => f.uid), [2])
  const repaired = await runCli([...sync, ...limit, '--repair', 'long-lines', '--json'], env)
  assert.equal(repaired.code, 0, repaired.stderr)
  assert.deepEqual(repaired.json.repaired.map((r: any) => [r.uid, r.repairs]), [[2, ['long-lines']]])
  const stored = (await snapshot(roomy, users.dest)).INBOX ?? []
  assert.equal(stored.length, 2)
  const expected = repairMessage(long.raw, ['long-lines'], {maxLineLength: 2000})!.raw
  assert.ok(stored.some((m) => m.sha256 === createHash('sha256').update(expected).digest('hex')), 'the folded form is stored')
  const again = await runCli([...sync, ...limit, '--repair', 'long-lines', '--json'], env)
  assert.equal(again.json.totals.copied, 0)
})

/**
 * A multipart message whose text part has one 20,000-character line (8-bit, no transfer encoding), and a
 * small attachment. 'unclosed': cut short after the attachment (no close delimiter); 'no-boundary': its
 * Content-Type names a boundary the body never uses.
 */
function longBody(id: string, broken?: 'unclosed' | 'no-boundary'): SeedMessage {
  const line = 'Zeile mit \xfcberlangem Text = 100% -- '.repeat(600).slice(0, 20_000)
  const attachment = Buffer.from('a small attachment\r\n'.repeat(20)).toString('base64').replace(/.{76}/g, '$&\r\n')
  const raw = [
    'From: a@example.com',
    'To: b@example.com',
    `Subject: one long body line (${id})`,
    `Message-ID: <${id}@example.com>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${broken === 'no-boundary' ? '=_b9' : '=_b1'}"`,
    '',
    '--=_b1',
    'Content-Type: text/plain; charset=iso-8859-1',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Hallo,',
    line,
    'Gr\xfc\xdfe',
    '--=_b1',
    'Content-Type: application/octet-stream; name="a.txt"',
    'Content-Transfer-Encoding: base64',
    '',
    attachment,
    ...(broken === 'unclosed' ? [''] : ['--=_b1--', '']),
  ].join('\r\n')
  return {raw: Buffer.from(raw, 'latin1'), flags: ['\\Seen'], internalDate: date}
}

/** The text part's decoded content (quoted-printable or as it is), found by its boundary. */
function textPart(raw: Buffer): Buffer {
  const text = raw.toString('latin1')
  // The line end before a delimiter belongs to it: the first part is what lies between the first two.
  const part = text.split('\r\n--=_b1')[1].slice(2)
  const [head, ...body] = part.split('\r\n\r\n')
  const content = body.join('\r\n\r\n')
  if (!/quoted-printable/i.test(head)) return Buffer.from(content, 'latin1')
  return Buffer.from(content.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))), 'latin1')
}

test('a 20,000-character body line over the destination maxLineLength: refused and listed; --repair long-lines stores the re-encoded part once, also in a message cut short; a multipart without its boundary stays refused with the reason', async () => {
  const users = {source: freshUser('ck4-src'), dest: freshUser('ck4-dst')}
  const state = join(tmp.dir, `${users.source}.sqlite`)
  const long = longBody('body-long-1')
  const unclosed = longBody('body-long-2', 'unclosed')
  const broken = longBody('body-long-3', 'no-boundary')
  await seed(source, users.source, {INBOX: [generateMessages(1, {seed: 25})[0], long, unclosed, broken]})
  const {args, env, sync} = checkArgs(users, state, roomy)
  const limit = ['--dest-max-line-length', '1000']
  const verifyArgs = ['verify', ...sync.slice(1), ...limit, '--json']

  // check --deep sees the body line, and what --repair would make of each message.
  const checked = await runCli([...args, ...limit, '--deep', '--json'], env)
  assert.equal(checked.code, 1, `${checked.stdout.slice(0, 2000)}\n${checked.stderr}`)
  const flagged = checked.json.folders[0].flagged
  assert.deepEqual(flagged.map((m: any) => [m.uid, m.verdict, m.findings.map((f: any) => f.problem), m.repairs]), [
    [2, 'refused', ['long-line'], ['long-lines']],
    [3, 'refused', ['long-line'], ['long-lines']],
    [4, 'refused', ['long-line'], []],
  ])
  assert.match(flagged[2].unrepaired[0].reason, /boundary "=_b9" of a multipart\/mixed part never occurs/)
  const table = await runCli([...args, ...limit, '--deep'], env)
  assert.match(table.stdout, /INBOX +2 +refused +long-lines +long-line /)
  assert.match(table.stdout, /INBOX +3 +refused +long-lines +long-line /)
  assert.match(table.stdout, /INBOX +4 +refused +!long-lines +long-line /)
  assert.match(table.stdout, /INBOX UID 4: long-lines cannot repair it: the boundary "=_b9"/)

  const plain = await runCli([...sync, ...limit, '--json'], env)
  assert.equal(plain.code, 1)
  assert.deepEqual(plain.json.failures.map((f: any) => f.uid), [2, 3, 4])
  for (const f of plain.json.failures) assert.match(f.reason, /maxLineLength 1000/)

  const repaired = await runCli([...sync, ...limit, '--repair', 'long-lines', '--json'], env)
  assert.equal(repaired.code, 1, repaired.stderr)
  assert.deepEqual(repaired.json.repaired.map((r: any) => [r.uid, r.repairs]), [[2, ['long-lines']], [3, ['long-lines']]])
  // The broken one stays listed, with why long-lines could not repair it.
  assert.deepEqual(repaired.json.failures.map((f: any) => f.uid), [4])
  assert.match(repaired.json.failures[0].reason, /long-lines could not repair it: the boundary "=_b9" of a multipart\/mixed part never occurs/)

  // Each stored copy is, byte for byte, the documented re-encoding of what the source serves.
  for (const {uid, destUid} of repaired.json.repaired) {
    const served = await withClient(source, users.source, async (client) => {
      await client.mailboxOpen('INBOX', {readOnly: true})
      const m = await client.fetchOne(String(uid), {source: true}, {uid: true})
      assert.ok(m && m.source)
      return m.source
    })
    const expected = repairMessage(served, ['long-lines'], {maxLineLength: 1000})!.raw
    const stored = await withClient(roomy, users.dest, async (client) => {
      await client.mailboxOpen('INBOX', {readOnly: true})
      const m = await client.fetchOne(String(destUid), {source: true}, {uid: true})
      assert.ok(m && m.source)
      return m.source
    })
    assert.ok(stored.equals(expected), `UID ${uid}: BODY.PEEK[] of the stored copy is the re-encoding`)
    assert.ok(textPart(stored).equals(textPart(served)), `UID ${uid}: the text part decodes to the same bytes`)
    assert.match(stored.toString('latin1'), /Content-Type: text\/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n/)
    assert.ok(Math.max(...stored.toString('latin1').split('\r\n').map((l: string) => l.length)) <= 76)
    // Cut short: stored cut short as well (the attachment runs to the end, no close delimiter added).
    assert.equal(/--=_b1--/.test(stored.toString('latin1')), uid === 2)
    console.log(`UID ${uid}: ${served.length} bytes as served, ${stored.length} bytes stored re-encoded`)
  }

  const again = await runCli([...sync, ...limit, '--repair', 'long-lines', '--json'], env)
  assert.equal(again.json.totals.copied, 0)
  assert.equal((await snapshot(roomy, users.dest)).INBOX.length, 3)

  const verified = await runCli(verifyArgs, env)
  assert.equal(verified.json.totals.repaired, 2)
  assert.deepEqual(verified.json.differences.map((d: any) => [d.kind, d.sourceUid]), [['missing', 4]])
  const human = await runCli(verifyArgs.filter((a) => a !== '--json'), env)
  assert.match(human.stdout, /repaired \(2\)/)
})

