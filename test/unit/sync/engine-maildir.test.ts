/**
 * The engine in-process between two Maildir stores (no server, no child process): a first copy, a
 * re-run that copies nothing, flag changes, deletions, keywords the destination has no room for.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {exitMeaning} from '../../../src/errors.js'
import {renderSummary} from '../../../src/report/summary.js'
import {openStateDb} from '../../../src/state/db.js'
import {StateRepository} from '../../../src/state/repository.js'
import {MaildirStore} from '../../../src/stores/maildir/maildir-store.js'
import type {Store} from '../../../src/stores/store.js'
import type {RunResult} from '../../../src/sync/events.js'
import {runSync, type RunOptions} from '../../../src/sync/run.js'

const dir = mkdtempSync(join(tmpdir(), 'mf-engine-'))
after(() => rmSync(dir, {recursive: true, force: true}))

const message = (n: number) => Buffer.from(`From: a@example.org\r\nSubject: ${n}\r\nMessage-ID: <m${n}@example.org>\r\n\r\nBody ${n}.\r\n`)
const date = new Date('2020-02-03T04:05:06Z')

async function maildir(name: string, label = 'destination'): Promise<MaildirStore> {
  const store = new MaildirStore({label, root: join(dir, name), readOnly: false})
  await store.open()
  return store
}

/** One run with fresh stores on the same directories and state file, as a re-run of the command would. */
async function run(name: string, options: Partial<RunOptions> = {}, each?: (store: MaildirStore) => void): Promise<{result: RunResult; dest: MaildirStore; source: MaildirStore}> {
  const source = await maildir(`${name}-source`, 'source')
  const dest = await maildir(`${name}-dest`)
  for (const store of [source, dest]) each?.(store)
  const state = openStateDb(join(dir, `${name}.sqlite`))
  try {
    const repository = new StateRepository(state.db)
    repository.bindAccounts(`maildir:${name}-source`, `maildir:${name}-dest`)
    const ctx = {source, dest, state: repository, emit: () => {}, sourceName: 'source', destName: 'dest', statePath: 'state'}
    return {result: await runSync(ctx, {concurrency: 2, ...options}), dest, source}
  } finally {
    state.close()
  }
}

async function flagsOf(store: MaildirStore, path = 'INBOX'): Promise<Record<string, string[]>> {
  const meta = await store.listMeta(path)
  return Object.fromEntries(meta.map((m) => [m.messageId!, [...m.flags].sort()]))
}

describe('engine between two Maildirs', () => {
  it('each store is told to forget a folder once its pair is done, once per side', async () => {
    const source = await maildir('f-source', 'source')
    await source.createFolder('Lists')
    await source.appendMessage('INBOX', message(1), [], date)
    await source.appendMessage('Lists', message(2), [], date)
    const forgotten: string[] = []
    const {result} = await run('f', {}, (store) => {
      ;(store as Store).forgetFolder = (path) => forgotten.push(`${store.label} ${path}`)
    })
    assert.equal(result.totals.copied, 2)
    assert.deepEqual(forgotten.sort(), ['destination INBOX', 'destination Lists', 'source INBOX', 'source Lists'])
  })

  it('the destination is listed for recognition only where its folder held messages when selected', async () => {
    const source = await maildir('e-source', 'source')
    await source.createFolder('Lists')
    for (const n of [1, 2]) await source.appendMessage('INBOX', message(n), [], date)
    await source.appendMessage('Lists', message(3), [], date)
    // Lists' message is on the destination already (copied by hand): it must be recognised, not copied again.
    const dest = await maildir('e-dest')
    await dest.createFolder('Lists')
    await dest.appendMessage('Lists', message(3), [], date)
    const listed: string[] = []
    const {result, dest: after} = await run('e', {}, (store) => {
      if (store.label !== 'destination') return
      const listFlags = store.listFlags.bind(store)
      store.listFlags = (path) => (listed.push(path), listFlags(path))
    })
    assert.equal(result.exitCode, 0, result.error)
    assert.equal(result.totals.copied, 2)
    assert.equal(result.totals.recognised, 1)
    assert.deepEqual(listed, ['Lists'])
    assert.deepEqual(Object.keys(await flagsOf(after, 'Lists')), ['<m3@example.org>'])
  })

  it('copies, then a re-run copies nothing; flag changes and deletions follow; the result is complete', async () => {
    const source = await maildir('a-source', 'source')
    await source.createFolder('Lists')
    for (const n of [1, 2, 3]) await source.appendMessage('INBOX', message(n), n === 1 ? ['\\Seen'] : [], date)
    await source.appendMessage('Lists', message(4), ['$Label1'], date)

    const first = await run('a')
    assert.equal(first.result.exitCode, 0)
    assert.equal(first.result.exitMeaning, exitMeaning(0), 'the result carries its meaning when built')
    assert.equal(first.result.totals.copied, 4)
    assert.deepEqual(await flagsOf(first.dest), {'<m1@example.org>': ['\\Seen'], '<m2@example.org>': [], '<m3@example.org>': []})
    assert.deepEqual(await flagsOf(first.dest, 'Lists'), {'<m4@example.org>': ['$Label1']})

    const again = await run('a')
    assert.equal(again.result.totals.copied, 0)
    assert.equal(again.result.totals.alreadyPresent, 4)

    const uids = (await source.listFlags('INBOX')).map((m) => m.uid)
    await source.setFlags('INBOX', [uids[1]], ['\\Flagged'], [])
    await source.setFlags('INBOX', [uids[0]], [], ['\\Seen'])
    await source.deleteMessages('INBOX', [uids[2]])
    const changed = await run('a', {policy: {deleteExtraneous: true}})
    assert.equal(changed.result.exitCode, 0, changed.result.error)
    assert.equal(changed.result.totals.flagsUpdated, 2)
    assert.equal(changed.result.totals.deleted, 1)
    assert.deepEqual(await flagsOf(changed.dest), {'<m1@example.org>': [], '<m2@example.org>': ['\\Flagged']})
  })

  it('keywords a destination folder has no letter left for reach the report', async () => {
    const source = await maildir('k-source', 'source')
    const keywords = Array.from({length: 20}, (_, i) => `kw${i}`)
    await source.appendMessage('INBOX', message(9), keywords, date)
    // The destination folder already uses 20 of its 26 keyword letters.
    await maildir('k-dest')
    writeFileSync(join(dir, 'k-dest', 'dovecot-keywords'), Array.from({length: 20}, (_, i) => `${i} other${i}\n`).join(''))
    const {result} = await run('k')
    const dropped = result.stores.dest.droppedKeywords.INBOX
    assert.equal(dropped?.length, 14, JSON.stringify(result.stores))
    assert.match(renderSummary(result), /Keywords the destination could not store \(dropped\):\n {2}INBOX: kw\d+, /)
  })

  it('folders overlap: the first folder copies before the last one is prepared, results stay in plan order', async () => {
    const source = await maildir('p-source', 'source')
    const names = Array.from({length: 12}, (_, i) => `F${String(i).padStart(2, '0')}`)
    for (const [i, name] of names.entries()) {
      await source.createFolder(name)
      // Far more than the 64 copies in flight asked for below: the queue pushes back on the
      // preparing before the last folders' turn.
      for (let n = 1; n <= 20; n++) await source.appendMessage(name, message(i * 100 + n), [], date)
    }
    const events: string[] = []
    const sourceStore = await maildir('p-source', 'source')
    const dest = await maildir('p-dest')
    const state = openStateDb(join(dir, 'p.sqlite'))
    try {
      const repository = new StateRepository(state.db)
      repository.bindAccounts('maildir:p-source', 'maildir:p-dest')
      const emit = (event: string, data: unknown) => events.push(event === 'folder:start' ? `start ${(data as {source: string}).source}` : event)
      const ctx = {source: sourceStore, dest, state: repository, emit, sourceName: 'source', destName: 'dest', statePath: 'state'}
      const result = await runSync(ctx as never, {concurrency: 1, copiesInFlight: 64})
      assert.equal(result.exitCode, 0, result.error)
      assert.equal(result.totals.copied, 240)
      const firstCopy = events.indexOf('message:copied')
      const lastStart = events.lastIndexOf(`start ${names.at(-1)}`)
      assert.ok(firstCopy >= 0 && firstCopy < lastStart, `first copy at event ${firstCopy}, last folder started at ${lastStart}`)
      const copied = result.folders.map((folder) => folder.source).filter((name) => names.includes(name))
      assert.deepEqual(copied, names)
    } finally {
      state.close()
    }
  })
})
