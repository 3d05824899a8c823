/**
 * The Maildir store on a temp directory: UIDs, flags, keywords, foreign files, locks. Dovecot's view
 * of the same files is checked in test/integration/backup.test.ts.
 */
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, test} from 'node:test'

import {ConfigError, FolderError} from '../../../../src/errors.js'
import {MaildirStore} from '../../../../src/stores/maildir/maildir-store.js'

const roots: string[] = []
after(() => {
  for (const root of roots) rmSync(root, {recursive: true, force: true})
})

function tempRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mf-maildir-unit-'))
  roots.push(dir)
  return join(dir, 'backup')
}

async function writable(root = tempRoot()): Promise<MaildirStore> {
  const store = new MaildirStore({label: 'destination', root, readOnly: false})
  await store.open()
  return store
}

const message = (subject: string, eol = '\r\n') =>
  Buffer.from(['From: a@example.org', `Subject: ${subject}`, `Message-ID: <${subject.replace(/\W/g, '')}@example.org>`, '', `Body of ${subject}.`, ''].join(eol))
const date = new Date('2020-02-03T04:05:06Z')

describe('Maildir store', () => {
  test('a new backup directory: INBOX, private modes, Dovecot files', async () => {
    const store = await writable()
    for (const sub of ['cur', 'new', 'tmp']) assert.ok(statSync(join(store.root, sub)).isDirectory())
    assert.equal(statSync(store.root).mode & 0o777, 0o700)
    assert.deepEqual(await store.listFolders(), [{path: 'INBOX', delimiter: '.', noSelect: false}])
    const status = await store.status('INBOX')
    assert.equal(status.messages, 0)
    assert.equal(status.uidNext, 1)
    assert.ok(status.uidValidity > 0)
    assert.deepEqual(status.permanentFlags, ['\\Draft', '\\Flagged', '\\Answered', '\\Seen', '\\Deleted', '\\*'])
    assert.match(readFileSync(join(store.root, 'dovecot-uidlist'), 'utf8'), /^3 V\d+ N1 G[0-9a-f]{32}\n$/)
    assert.deepEqual(store.capabilities(), {uidplus: true, condstore: false, expungeByUid: true})
  })

  test('append, list, fetch: bytes, size, date, Message-ID, flags', async () => {
    const store = await writable()
    const raw = message('one')
    const first = await store.appendMessage('INBOX', raw, ['\\Seen', '$Forwarded'], date)
    const second = await store.appendMessage('INBOX', message('two'), [], date)
    assert.equal(first.uid, 1)
    assert.equal(second.uid, 2)
    assert.equal(first.uidValidity, (await store.status('INBOX')).uidValidity)

    assert.deepEqual(await store.listFlags('INBOX'), [{uid: 1, flags: ['\\Seen', '$Forwarded']}, {uid: 2, flags: []}])
    const [meta] = await store.listMeta('INBOX', [1])
    assert.deepEqual(meta, {uid: 1, flags: ['\\Seen', '$Forwarded'], size: raw.length, internalDate: date, messageId: '<one@example.org>'})
    const fetched = await store.fetchMessage('INBOX', 1)
    assert.deepEqual(fetched?.raw, raw)
    assert.equal(fetched?.internalDate.toISOString(), date.toISOString())
    const headers = await store.fetchHeaders('INBOX', [1, 2, 99])
    assert.equal(headers.get(1)?.toString(), raw.toString().split('\r\n\r\n')[0] + '\r\n\r\n')
    assert.equal(headers.size, 2, 'missing UIDs are left out')
    assert.equal(await store.fetchMessage('INBOX', 99), null)

    const [name] = readdirSync(join(store.root, 'cur')).filter((n) => n.endsWith(':2,Sa'))
    assert.match(name, new RegExp(`,S=${raw.length},W=${raw.length}:2,Sa$`))
    assert.equal(statSync(join(store.root, 'cur', name)).mtime.toISOString(), date.toISOString(), 'INTERNALDATE is the mtime')
    assert.equal(statSync(join(store.root, 'cur', name)).mode & 0o777, 0o600)
    assert.equal(readFileSync(join(store.root, 'dovecot-keywords'), 'utf8'), '0 $Forwarded\n')
    assert.deepEqual(readdirSync(join(store.root, 'tmp')), [], 'nothing left in tmp/')
  })

  test('folders: created with Dovecot names, listed, UIDs kept by a new store on the same directory', async () => {
    const root = tempRoot()
    const store = await writable(root)
    for (const path of ['Entwürfe', 'Lists.a&b list', 'Ablage/2024']) await store.createFolder(path)
    await store.createFolder('Entwürfe')
    await store.appendMessage('Lists.a&b list', message('l1'), ['\\Flagged'], date)
    await store.appendMessage('Lists.a&b list', message('l2'), [], date)
    assert.ok(existsSync(join(root, '.Entw&APw-rfe', 'cur')))
    assert.ok(existsSync(join(root, '.Lists.a&-b list', 'maildirfolder')))
    assert.ok(existsSync(join(root, '.Ablage\\2f2024', 'new')))
    const validity = (await store.status('Lists.a&b list')).uidValidity
    await store.close()

    const again = new MaildirStore({label: 'source', root, readOnly: true})
    await again.open()
    assert.deepEqual((await again.listFolders()).map((f) => f.path), ['Ablage/2024', 'Entwürfe', 'INBOX', 'Lists.a&b list'])
    assert.equal((await again.status('Lists.a&b list')).uidValidity, validity)
    assert.deepEqual(await again.listFlags('Lists.a&b list'), [{uid: 1, flags: ['\\Flagged']}, {uid: 2, flags: []}])
    await assert.rejects(again.status('Nope'), FolderError)
    await assert.rejects(again.appendMessage('INBOX', message('x'), [], date), /read-only/)
  })

  test('flag changes rename the file; keywords get letters; a message that is gone is ignored', async () => {
    const store = await writable()
    const {uid} = await store.appendMessage('INBOX', message('f'), ['\\Seen', 'Old'], date)
    await store.setFlags('INBOX', [uid!], ['\\Flagged', 'New', '\\Answered'], ['Old', '\\Seen'])
    assert.deepEqual((await store.listFlags('INBOX'))[0].flags.sort(), ['New', '\\Answered', '\\Flagged'].sort())
    const names = readdirSync(join(store.root, 'cur'))
    assert.equal(names.length, 1)
    assert.match(names[0], /:2,FRb$/)
    assert.equal(readFileSync(join(store.root, 'dovecot-keywords'), 'utf8'), '0 Old\n1 New\n')
    await store.setFlags('INBOX', [42], ['\\Seen'], [])
    await store.setFlags('INBOX', [uid!], ['\\Flagged'], [])
    assert.deepEqual(readdirSync(join(store.root, 'cur')), names, 'no change: no rename')
  })

  test('files from elsewhere: new/ without flags, LF line ends, no S=/W=; UIDs given in name order', async () => {
    const root = tempRoot()
    const store = await writable(root)
    await store.appendMessage('INBOX', message('ours'), ['\\Seen'], date)
    const lf = message('delivered', '\n')
    writeFileSync(join(root, 'new', '1700000002.procmail.host'), lf)
    writeFileSync(join(root, 'cur', '1700000001.other.host:2,FP'), message('older'))
    writeFileSync(join(root, 'cur', '.hidden'), 'not a message')
    utimesSync(join(root, 'new', '1700000002.procmail.host'), date, date)

    const source = new MaildirStore({label: 'source', root, readOnly: true})
    await source.open()
    assert.deepEqual(await source.listFlags('INBOX'), [
      {uid: 1, flags: ['\\Seen']},
      {uid: 2, flags: ['\\Flagged']},
      {uid: 3, flags: []},
    ])
    assert.match(readFileSync(join(root, 'dovecot-uidlist'), 'utf8'), /\n2 :1700000001\.other\.host\n3 :1700000002\.procmail\.host\n$/)
    const [meta] = await source.listMeta('INBOX', [3])
    const crlf = message('delivered')
    assert.equal(meta.size, crlf.length, 'RFC822.SIZE counts CRLF')
    assert.deepEqual((await source.fetchMessage('INBOX', 3))?.raw, crlf, 'served with CRLF, as Dovecot serves it')
    assert.deepEqual(readFileSync(join(root, 'new', '1700000002.procmail.host')), lf, 'the file is not changed')
    // A writable store moves a flagged message from new/ to cur/, as Dovecot does.
    await store.setFlags('INBOX', [3], ['\\Seen'], [])
    assert.deepEqual(readdirSync(join(root, 'new')), [])
    assert.ok(existsSync(join(root, 'cur', '1700000002.procmail.host:2,S')))
    assert.deepEqual((await source.fetchMessage('INBOX', 3))?.flags, ['\\Seen'], 'a moved file is found again')
  })

  test('uidlist lines without a file are skipped; a version 1 uidlist keeps its UIDs', async () => {
    const root = tempRoot()
    const store = await writable(root)
    await store.close()
    writeFileSync(join(root, 'dovecot-uidlist'), '1 1234 8\n3 gone.host\n5 kept.host:2,S\n')
    writeFileSync(join(root, 'cur', 'kept.host:2,S'), message('kept'))
    const again = await writable(root)
    assert.deepEqual(await again.listFlags('INBOX'), [{uid: 5, flags: ['\\Seen']}])
    assert.equal((await again.status('INBOX')).uidValidity, 1234)
    const {uid} = await again.appendMessage('INBOX', message('new'), [], date)
    assert.equal(uid, 8)
    assert.match(readFileSync(join(root, 'dovecot-uidlist'), 'utf8'), /^3 V1234 N8 G[0-9a-f]{32}\n3 :gone\.host\n5 :kept\.host\n8 :/)
  })

  test('a torn last uidlist line (a writer killed mid-append) is cut off before the next append', async () => {
    const root = tempRoot()
    const store = await writable(root)
    await store.appendMessage('INBOX', message('one'), [], date)
    await store.close()
    const uidlist = join(root, 'dovecot-uidlist')
    const whole = readFileSync(uidlist, 'utf8')
    writeFileSync(uidlist, `${whole}2 :1700000009.M1P1Q1.ho`)
    const again = await writable(root)
    const {uid} = await again.appendMessage('INBOX', message('two'), ['\\Seen'], date)
    assert.equal(uid, 2, 'the torn UID was never handed out')
    const text = readFileSync(uidlist, 'utf8')
    assert.ok(text.startsWith(whole), 'the complete lines are kept as they were')
    assert.match(text.slice(whole.length), /^2 :\d+\.M\d+P\d+Q\d+\.[^\n]+,S=\d+,W=\d+\n$/, 'one new whole line, not glued to the torn one')
    assert.deepEqual(await again.listFlags('INBOX'), [{uid: 1, flags: []}, {uid: 2, flags: ['\\Seen']}])
    assert.deepEqual((await again.fetchMessage('INBOX', 2))?.raw, message('two'))
  })

  test('a folder whose creation a kill cut short after cur/ takes messages: new/ and tmp/ are made then', async () => {
    const root = tempRoot()
    const store = await writable(root)
    await store.createFolder('Cut')
    await store.close()
    rmSync(join(root, '.Cut', 'tmp'), {recursive: true})
    rmSync(join(root, '.Cut', 'new'), {recursive: true})
    const again = await writable(root)
    assert.ok((await again.listFolders()).some((folder) => folder.path === 'Cut'), 'listed: it has cur/')
    const {uid} = await again.appendMessage('Cut', message('after the cut'), ['\\Seen'], date)
    assert.equal(uid, 1)
    assert.deepEqual((await again.fetchMessage('Cut', 1))?.raw, message('after the cut'))
    assert.ok(existsSync(join(root, '.Cut', 'new')) && existsSync(join(root, '.Cut', 'tmp')))
  })

  test('parallel appends get distinct UIDs, all recorded', async () => {
    const store = await writable()
    const results = await Promise.all(Array.from({length: 40}, (_, i) => store.appendMessage('INBOX', message(`p${i}`), i % 2 ? ['\\Seen'] : [`kw${i % 5}`], date)))
    const uids = results.map((r) => r.uid!).sort((a, b) => a - b)
    assert.deepEqual(uids, Array.from({length: 40}, (_, i) => i + 1))
    const fresh = new MaildirStore({label: 'x', root: store.root, readOnly: true})
    await fresh.open()
    assert.equal((await fresh.listFlags('INBOX')).length, 40)
    assert.equal((await fresh.status('INBOX')).uidNext, 41)
  })

  test('26 keywords per folder: then no \\*, and what did not fit is reported', async () => {
    const store = await writable()
    const many = Array.from({length: 27}, (_, i) => `k${i}`)
    await store.appendMessage('INBOX', message('kw'), many, date)
    const status = await store.status('INBOX')
    assert.ok(!status.permanentFlags!.includes('\\*'))
    assert.ok(status.permanentFlags!.includes('k25'))
    assert.deepEqual(store.stats().droppedKeywords, {INBOX: ['k26']})
  })

  test('a lock left by a dead process is taken over', async () => {
    const store = await writable()
    const lock = join(store.root, 'dovecot-uidlist.lock')
    writeFileSync(lock, `2147483646:${hostname()}`)
    const old = new Date(Date.now() - 10_000)
    utimesSync(lock, old, old)
    await store.appendMessage('INBOX', message('after lock'), [], date)
    assert.ok(!existsSync(lock))
  })

  test("subscriptions in Dovecot's file; none reported when there is no file", async () => {
    const store = await writable()
    await store.createFolder('Entwürfe')
    await store.createFolder('Lists.a&b list')
    assert.equal((await store.listFolders()).find((f) => f.path === 'Entwürfe')?.subscribed, undefined)
    await store.subscribeFolder('Lists.a&b list')
    await store.subscribeFolder('Lists.a&b list')
    await store.subscribeFolder('INBOX')
    assert.equal(readFileSync(join(store.root, 'subscriptions'), 'utf8'), 'V\t2\n\nLists\ta&-b list\n')
    const listed = Object.fromEntries((await store.listFolders()).map((f) => [f.path, f.subscribed]))
    assert.deepEqual(listed, {'Entwürfe': false, INBOX: true, 'Lists.a&b list': true})
  })

  test('moving a message renames its file into the other folder, with letters of that folder', async () => {
    const store = await writable()
    await store.createFolder('Archive')
    await store.appendMessage('Archive', message('first in archive'), ['Other'], date)
    const {uid} = await store.appendMessage('INBOX', message('moving'), ['\\Seen', 'Project-X'], date)
    const moved = await store.moveMessage('INBOX', uid!, 'Archive')
    assert.equal(moved.uid, 2)
    assert.equal(moved.uidValidity, (await store.status('Archive')).uidValidity)
    assert.deepEqual(await store.listFlags('INBOX'), [])
    assert.deepEqual((await store.listFlags('Archive')).map((m) => [m.uid, m.flags.sort()]), [[1, ['Other']], [2, ['Project-X', '\\Seen']]])
    assert.equal((await store.fetchMessage('Archive', 2))?.internalDate.toISOString(), date.toISOString())
    assert.match(readdirSync(join(store.root, '.Archive', 'cur')).find((n) => n.includes(':2,S'))!, /:2,Sb$/, 'Project-X is letter b in Archive')
    assert.deepEqual(await store.moveMessage('INBOX', 99, 'Archive'), {}, 'a message that is gone')
  })

  test('deleting a folder: only when it holds no message; never INBOX', async () => {
    const store = await writable()
    await store.createFolder('Old')
    await store.appendMessage('Old', message('o'), [], date)
    await assert.rejects(store.deleteFolder('Old'), /still holds 1 messages/)
    await store.deleteMessages('Old', [1])
    await store.deleteFolder('Old')
    assert.ok(!existsSync(join(store.root, '.Old')))
    assert.deepEqual((await store.listFolders()).map((f) => f.path), ['INBOX'])
    await assert.rejects(store.deleteFolder('INBOX'), FolderError)
  })

  test('deleting removes the files', async () => {
    const store = await writable()
    await store.appendMessage('INBOX', message('d1'), [], date)
    await store.appendMessage('INBOX', message('d2'), [], date)
    await store.deleteMessages('INBOX', [1, 7])
    assert.deepEqual((await store.listFlags('INBOX')).map((m) => m.uid), [2])
  })

  test('a read-only store needs an existing Maildir', async () => {
    const store = new MaildirStore({label: 'source', root: join(tempRoot(), 'missing'), readOnly: true})
    await assert.rejects(store.open(), ConfigError)
  })
})
