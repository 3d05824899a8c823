/**
 * --repair against a real Cyrus, which refuses malformed header blocks ("Message contains invalid
 * header"): without it each such message is refused and listed (exit 1), as `check` predicted; with
 * it each is stored, byte for byte the documented repair of what the source serves, recorded in the
 * state, listed in the report, and a re-run appends nothing. Malformed messages of the shared corpus
 * are used when it is there, generated ones always.
 */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import {inspectMessage} from '../../src/check/inspect.js'
import {repairMessage} from '../../src/check/repair.js'
import {corpusSkipReason, loadCorpus} from '../harness/corpus.js'
import {cyrusAvailable, startCyrus, type CyrusInstance} from '../harness/cyrus.js'
import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {crlfOnly, seed, snapshot, withClient} from '../harness/mailbox.js'
import {generateMessages, type SeedMessage} from '../harness/messages.js'
import {freshUser, runCli, tempDir} from './cli.js'

const skip = await cyrusAvailable()
if (skip) console.log(`repair.test.ts skipped: ${skip}`)
const corpusSkip = corpusSkipReason()
if (corpusSkip) console.log(`repair.test.ts: corpus messages left out: ${corpusSkip}`)

const REPAIRS = ['headers', 'from-line']
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')
const date = new Date('2024-03-01T10:00:00Z')
const message = (lines: string[], body = 'Hello.\r\n', name?: string): SeedMessage => ({
  raw: Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1'),
  flags: ['\\Seen'],
  internalDate: date,
  name,
})

/** One of each header problem Cyrus is known to refuse, and a well-formed neighbour. */
function generated(): SeedMessage[] {
  return [
    message(['From: a@example.com', 'To: b@example.com', 'Subject: no colon', 'this line is no header', 'Message-ID: <r1@example.com>'], 'Body.\r\n', 'no-colon'),
    message(['From: a@example.com', 'Subject : spaced', 'Message-ID: <r2@example.com>'], 'Body.\r\n', 'space-before-colon'),
    {...message(['From: a@example.com', 'Subject: runs on', 'Message-ID: <r3@example.com>', 'Hello Bob,', 'the header ran into the body.'], ''), raw: Buffer.from('From: a@example.com\r\nSubject: runs on\r\nMessage-ID: <r3@example.com>\r\nHello Bob,\r\nthe header ran into the body.\r\n'), name: 'runs-into-body'},
    message(['From alice@example.com Mon Jan  1 00:00:00 2024', 'From: alice@example.com', 'Subject: mbox', 'Message-ID: <r4@example.com>'], 'Body.\r\n', 'from-line'),
  ]
}

/** Corpus messages with header lines that are not fields (the corpus's malformed ones), at most 40. */
function corpusMalformed(): SeedMessage[] {
  const corpus = loadCorpus()
  if (!corpus) return []
  const out: SeedMessage[] = []
  for (const messages of Object.values(corpus.folders)) {
    for (const m of messages) {
      // Raw 8-bit header bytes are left out: Cyrus stores them altered (as X), it does not refuse them.
      const problems = new Set(inspectMessage(crlfOnly(m.raw), {maxLineLength: 998}).map((f) => f.problem))
      if (problems.has('header-syntax') && !problems.has('header-8bit') && out.length < 40) out.push({...m, internalDate: date})
    }
  }
  return out
}

describe('--repair with a Cyrus destination', {skip}, () => {
  let source: DovecotInstance
  let cyrus: CyrusInstance
  const tmp = tempDir()
  before(async () => {
    ;[source, cyrus] = await Promise.all([startDovecot({separator: '/', name: 'repair-src'}), startCyrus({name: 'repair-dst'})])
  })
  after(async () => {
    await Promise.all([source?.stop(), cyrus?.stop()])
    tmp.cleanup()
  })

  const args = (command: string, users: {source: string; dest: string}, state: string, extra: string[] = []) => [
    command,
    '--source', `imap://${encodeURIComponent(users.source)}@127.0.0.1:${source.port}`,
    '--source-tls', 'none',
    '--source-password-env', 'MF_TEST_SOURCE_PW',
    '--dest', `imap://${encodeURIComponent(users.dest)}@127.0.0.1:${cyrus.port}`,
    '--dest-tls', 'none',
    '--dest-password-env', 'MF_TEST_DEST_PW',
    '--state', state,
    '--json',
    ...extra,
  ]
  const env = () => ({MF_TEST_SOURCE_PW: source.password, MF_TEST_DEST_PW: cyrus.password})

  test('refused without --repair (as check predicts), stored as the documented repair with it, never twice', async () => {
    const users = {source: freshUser('rp-src'), dest: freshUser('rp-dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    const clean = generateMessages(4, {seed: 31, meanSize: 2000})
    const bad = generated()
    const fromCorpus = corpusMalformed()
    const inbox = [clean[0], ...bad, clean[1]]
    const folders: Record<string, SeedMessage[]> = {INBOX: inbox, Other: [clean[2], ...fromCorpus, clean[3]]}
    await seed(source, users.source, folders)
    const total = inbox.length + folders.Other.length
    // Source UIDs are 1.. in seeding order; what the source serves is the seed with CRLF line ends.
    const served = new Map<string, Buffer>()
    for (const [folder, list] of Object.entries(folders)) list.forEach((m, i) => served.set(`${folder}:${i + 1}`, crlfOnly(m.raw)))

    const checked = await runCli(args('check', users, state), env())
    assert.equal(checked.code, 1, `${checked.stdout.slice(0, 3000)}\n${checked.stderr}`)
    const flagged = checked.json.folders.flatMap((f: any) => f.flagged)
    assert.deepEqual(flagged.filter((m: any) => m.verdict !== 'refused'), [], 'nothing Cyrus alters or may refuse')
    const predicted = new Set<string>(flagged.map((m: any) => `${m.folder}:${m.uid}`))
    assert.equal(checked.json.totals.likelyRefused, predicted.size)

    const plain = await runCli(args('sync', users, state), env())
    assert.equal(plain.code, 1, `${plain.stdout.slice(0, 3000)}\n${plain.stderr}`)
    const refused = new Set<string>(plain.json.failures.map((f: any) => `${f.folder}:${f.uid}`))
    // The mbox From line (UID 5) Cyrus stores as it is.
    assert.ok(!refused.has('INBOX:5'))
    for (const uid of [2, 3, 4]) assert.ok(refused.has(`INBOX:${uid}`), `INBOX UID ${uid} (${bad[uid - 2].name}) refused by Cyrus: ${[...refused]}`)
    for (const f of plain.json.failures) assert.match(f.reason, /invalid header|header/i)
    // check predicted exactly the refusals.
    assert.deepEqual([...refused].filter((key) => !predicted.has(key)), [], 'a refusal check did not predict')
    const extraPredicted = [...predicted].filter((key) => !refused.has(key))
    assert.deepEqual(extraPredicted, [], 'check flagged messages Cyrus took')
    if (fromCorpus.length > 0) assert.ok([...refused].some((key) => key.startsWith('Other:')), 'corpus messages refused')
    assert.equal(plain.json.totals.copied, total - refused.size)

    const repaired = await runCli(args('sync', users, state, ['--repair', REPAIRS.join(',')]), env())
    assert.equal(repaired.code, 0, `${repaired.stdout.slice(0, 3000)}\n${repaired.stderr}`)
    assert.equal(repaired.json.totals.copied, refused.size)
    assert.deepEqual(new Set(repaired.json.repaired.map((r: any) => `${r.folder}:${r.uid}`)), refused)

    // Each stored copy is exactly the documented repair of what the source serves.
    for (const r of repaired.json.repaired) {
      const original = served.get(`${r.folder}:${r.uid}`)!
      const expected = repairMessage(original, REPAIRS as any)!
      assert.ok(expected, `${r.folder} UID ${r.uid}: a repair applies`)
      assert.deepEqual(r.repairs, expected.applied)
      assert.equal(r.originalSha256, sha256(original))
      assert.equal(r.storedSha256, sha256(expected.raw))
      const mailbox = r.destFolder
      const stored = await withClient(cyrus, users.dest, async (client) => {
        await client.mailboxOpen(mailbox, {readOnly: true})
        const m = await client.fetchOne(String(r.destUid), {source: true}, {uid: true})
        return m ? m.source : undefined
      })
      assert.ok(stored, `${mailbox} UID ${r.destUid} is there`)
      assert.equal(stored!.toString('latin1'), expected.raw.toString('latin1'), `${r.folder} UID ${r.uid}: stored copy`)
    }

    // A re-run (with or without --repair) appends nothing.
    const again = await runCli(args('sync', users, state, ['--repair', REPAIRS.join(',')]), env())
    assert.equal(again.code, 0, again.stderr)
    assert.equal(again.json.totals.copied, 0)
    const summary = await runCli(args('sync', users, state, ['--repair', REPAIRS.join(',')]).filter((a) => a !== '--json'), env())
    assert.equal(summary.code, 0, summary.stderr)
    const plainAgain = await runCli(args('sync', users, state), env())
    assert.equal(plainAgain.code, 0, plainAgain.stderr)
    assert.equal(plainAgain.json.totals.copied, 0)
    const destCount = Object.values(await snapshot(cyrus, users.dest)).reduce((n, list) => n + list.length, 0)
    assert.equal(destCount, total)

    // verify knows the repaired copies from the state: no difference, "repaired (N)"; --deep checks the stored SHA-256.
    for (const deep of [false, true]) {
      const verified = await runCli(args('verify', users, state, deep ? ['--deep'] : []), env())
      assert.equal(verified.code, 0, `${verified.stdout.slice(0, 3000)}\n${verified.stderr}`)
      assert.equal(verified.json.totals.repaired, refused.size)
      assert.equal(verified.json.totals.equal + verified.json.totals.repaired, total)
      assert.deepEqual(verified.json.differences, [])
    }
    const human = await runCli(args('verify', users, state).filter((a) => a !== '--json'), env())
    assert.equal(human.code, 0)
    assert.match(human.stdout, new RegExp(`repaired \\(${refused.size}\\) as the state database records`))
    // Without the state database the repaired copies are differences, as they are.
    const blind = await runCli(args('verify', users, join(tmp.dir, 'none.sqlite')), env())
    assert.equal(blind.code, 1)
  })

  test('a repaired APPEND cut off (the process killed before its answer) is found by its stored hash on the next run, not stored twice', async () => {
    const users = {source: freshUser('rk-src'), dest: freshUser('rk-dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    const bad = generated()[0]
    await seed(source, users.source, {INBOX: [bad]})
    const repair = ['--repair', 'headers']
    // APPEND command 1 is the original (refused), command 2 the repaired copy: killed once it is sent.
    const killed = await runCli(args('sync', users, state, [...repair, '--debug-kill-at', 'append-sent:2']), env())
    assert.equal(killed.signal, 'SIGKILL', killed.stderr)
    // Cyrus stored it: the next run must recognise it, though its bytes are not the source's.
    for (let i = 0; i < 50 && ((await snapshot(cyrus, users.dest)).INBOX ?? []).length === 0; i++) await new Promise((r) => setTimeout(r, 100))
    assert.equal(((await snapshot(cyrus, users.dest)).INBOX ?? []).length, 1, 'the repaired copy landed before the kill')
    const again = await runCli(args('sync', users, state, repair), env())
    assert.equal(again.code, 0, `${again.stdout.slice(0, 2000)}\n${again.stderr}`)
    assert.equal(again.json.repaired.length, 1)
    const inbox = (await snapshot(cyrus, users.dest)).INBOX ?? []
    assert.equal(inbox.length, 1, 'one repaired copy')
    assert.equal(inbox[0].sha256, sha256(repairMessage(crlfOnly(bad.raw), ['headers'])!.raw))
    assert.equal(again.json.repaired[0].destUid !== undefined, true)

    // A later APPEND cut off makes the next run check every claim against the destination: the
    // repaired copy's claim holds (its row describes the copy), nothing is re-matched or renumbered.
    await seed(source, users.source, {INBOX: generateMessages(1, {seed: 34})})
    const cut = await runCli(args('sync', users, state, [...repair, '--debug-kill-at', 'append-sent:1']), env())
    assert.equal(cut.signal, 'SIGKILL', cut.stderr)
    const settled = await runCli(args('sync', users, state, repair), env())
    assert.equal(settled.code, 0, settled.stderr)
    assert.deepEqual(settled.json.warnings.filter((w: string) => /renumbered/.test(w)), [])
    assert.equal(((await snapshot(cyrus, users.dest)).INBOX ?? []).length, 2)
    const verified = await runCli(args('verify', users, state, ['--deep']), env())
    assert.equal(verified.code, 0, verified.stdout.slice(0, 2000))
    assert.equal(verified.json.totals.repaired, 1)
  })

  test('--move proves a repaired copy by its recorded hashes, then deletes the source; nothing is stored twice', async () => {
    const users = {source: freshUser('rm-src'), dest: freshUser('rm-dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    const [bad, clean] = [generated()[0], generateMessages(1, {seed: 33})[0]]
    await seed(source, users.source, {INBOX: [bad, clean]})
    const run = await runCli(args('sync', users, state, ['--repair', 'headers', '--move']), env())
    assert.equal(run.code, 0, `${run.stdout.slice(0, 2000)}\n${run.stderr}`)
    assert.equal(run.json.repaired.length, 1)
    assert.equal(run.json.totals.sourceDeleted, 2)
    assert.deepEqual((await snapshot(source, users.source)).INBOX ?? [], [])
    const inbox = (await snapshot(cyrus, users.dest)).INBOX ?? []
    assert.equal(inbox.length, 2)
    assert.ok(inbox.some((m) => m.sha256 === sha256(repairMessage(crlfOnly(bad.raw), ['headers'])!.raw)))
  })

  test('raw 8-bit header bytes, which Cyrus would replace with X: check says "altered"; --repair headers encodes them before the APPEND', async () => {
    const users = {source: freshUser('r8-src'), dest: freshUser('r8-dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    const eightBit = message(['From: "J\xfcrgen M\xfcller" <j@example.com>', 'Subject: Gr\xfc\xdfe', 'Message-ID: <r8@example.com>'], 'Body.\r\n', '8bit')
    await seed(source, users.source, {INBOX: [eightBit]})
    const checked = await runCli(args('check', users, state), env())
    assert.equal(checked.code, 1)
    assert.deepEqual(checked.json.folders[0].flagged.map((m: any) => [m.uid, m.verdict]), [[1, 'altered']])
    assert.match(checked.json.notes.join(' '), /Cyrus replaces raw 8-bit header bytes/)
    const run = await runCli(args('sync', users, state, ['--repair', 'headers']), env())
    assert.equal(run.code, 0, `${run.stdout.slice(0, 2000)}\n${run.stderr}`)
    assert.equal(run.json.repaired.length, 1)
    assert.match(run.json.repaired[0].reason, /^not sent as it is: Cyrus replaces raw 8-bit header bytes/)
    const expected = repairMessage(crlfOnly(eightBit.raw), ['headers'])!.raw
    assert.equal(((await snapshot(cyrus, users.dest)).INBOX ?? [])[0]?.sha256, sha256(expected))
    const verified = await runCli(args('verify', users, state, ['--deep']), env())
    assert.equal(verified.code, 0, verified.stdout.slice(0, 2000))
    assert.equal(verified.json.totals.repaired, 1)
  })

  test('check names a folder Cyrus refuses to create (a double quote), as the sync then meets it', async () => {
    const users = {source: freshUser('rq-src'), dest: freshUser('rq-dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    await seed(source, users.source, {INBOX: generateMessages(1, {seed: 35}), 'Say "hi"': generateMessages(1, {seed: 36})})
    const checked = await runCli(args('check', users, state), env())
    assert.equal(checked.code, 1, checked.stderr)
    const quoted = checked.json.folders.find((f: any) => f.source === 'Say "hi"')
    assert.match(quoted.refusedName, /Cyrus refuses "/)
    assert.equal(checked.json.totals.refusedNames, 1)
    const run = await runCli(args('sync', users, state), env())
    assert.notEqual(run.code, 0)
    assert.match(run.json.folders.find((f: any) => f.source === 'Say "hi"').error, /could not create/)
  })

  test('check reads the same from every folder on its raw connections as on the sessions (--connections 1)', async () => {
    const users = {source: freshUser('rw-src'), dest: freshUser('rw-dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    const clean = generateMessages(12, {seed: 37, meanSize: 2500}).map((m, i) => ({...m, flags: [['\\Seen', '$Label1'], ['\\Flagged'], []][i % 3]}))
    const bad = generated()
    const eightBit = message(['From: a@example.com', 'Subject: Gr\xfc\xdfe', 'Message-ID: <rw8@example.com>'])
    await seed(source, users.source, {
      INBOX: [clean[0], bad[0], clean[1]],
      'Lists/Ünïcödé & "quoted"': [clean[2], eightBit, clean[3], bad[3]],
      'Work/Notes 2024': [...clean.slice(4), bad[1], bad[2]],
      Empty: [],
    })
    const log = join(tmp.dir, `${users.source}.log`)
    const raw = await runCli(args('check', users, state, ['--log-file', log, '--debug-imap']), env())
    // Every folder was read on a raw connection, none on a session after a failure there.
    const trace = readFileSync(log, 'utf8')
    // One UID FETCH per folder, sent with its EXAMINE (the empty folder's too: its answer is not awaited first).
    assert.equal((trace.match(/source#pipe\d+ C: \S+ UID FETCH/g) ?? []).length, 4, 'one UID FETCH per folder on the raw connections')
    assert.equal((trace.match(/source#pipe\d+ C: \S+ EXAMINE/g) ?? []).length, 4, 'one EXAMINE per folder on the raw connections')
    assert.doesNotMatch(trace, /read on a session instead|no connection for reading header blocks/)
    const sessions = await runCli(args('check', users, state, ['--connections', '1']), env())
    assert.equal(raw.code, 1, `${raw.stdout.slice(0, 2000)}\n${raw.stderr}`)
    assert.equal(sessions.code, 1, sessions.stderr)
    assert.equal(raw.json.folders.length, 4)
    assert.deepEqual(raw.json.folders, sessions.json.folders)
    assert.deepEqual(raw.json.totals, sessions.json.totals)
    assert.equal(raw.json.totals.toCopy, 12 + 5)
    const flagged = raw.json.folders.flatMap((f: any) => f.flagged.map((m: any) => `${m.folder}:${m.uid}:${m.verdict}`))
    // The mbox From line (Lists UID 4) Cyrus stores as it is.
    assert.deepEqual(flagged.sort(), ['INBOX:2:refused', 'Lists/Ünïcödé & "quoted":2:altered', 'Work/Notes 2024:10:refused', 'Work/Notes 2024:9:refused'])
  })
})
