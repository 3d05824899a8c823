/**
 * previewPlan and its text form, on fake stores (the real servers are in test/integration/mapping.test.ts).
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {DEFAULT_MAPPING} from '../../../src/config/mapping.js'
import {renderPlan} from '../../../src/report/plan.js'
import type {StateReader} from '../../../src/state/reader.js'
import type {FolderInfo, Store, StoreCapabilities} from '../../../src/stores/store.js'
import {previewPlan} from '../../../src/sync/preview.js'

interface FakeFolder extends FolderInfo {
  uidValidity?: number
  sizes?: number[]
}

/** Only what previewPlan may call; anything that writes throws. */
function fakeStore(label: string, folders: FakeFolder[], caps: Partial<StoreCapabilities> = {}, scans = true): Store & {calls: string[]} {
  const calls: string[] = []
  const byPath = (path: string) => folders.find((f) => f.path === path)!
  const refuse = () => {
    throw new Error('written in a preview')
  }
  const status = (path: string) => {
    const f = byPath(path)
    return {uidValidity: f.uidValidity ?? 1, uidNext: (f.sizes?.length ?? 0) + 1, messages: f.sizes?.length ?? 0}
  }
  const sizes = (path: string) => (byPath(path).sizes ?? []).map((size, i) => ({uid: i + 1, size}))
  return {
    label,
    calls,
    open: async () => {},
    close: async () => {},
    stats: () => ({retries: 0, droppedSessions: 0, droppedKeywords: {}}),
    capabilities: () => ({uidplus: true, condstore: false, expungeByUid: true, ...caps}),
    listFolders: async () => folders.map(({uidValidity: _v, sizes: _s, ...info}) => info),
    peek: async (path: string) => {
      calls.push(`STATUS ${path}`)
      return status(path)
    },
    scanSizes: scans
      ? async (path: string) => {
          calls.push(`SCAN ${path}`)
          return {status: status(path), sizes: sizes(path)}
        }
      : undefined,
    listMeta: async (path: string) => {
      calls.push(`FETCH ${path}`)
      return sizes(path).map((m) => ({...m, flags: [], internalDate: new Date(0)}))
    },
    status: refuse,
    listFlags: refuse,
    fetchHeaders: refuse,
    fetchMessage: refuse,
    createFolder: refuse,
    appendMessage: refuse,
    setFlags: refuse,
    deleteMessages: refuse,
    subscribeFolder: refuse,
  } as Store & {calls: string[]}
}

const folder = (path: string, extra: Partial<FakeFolder> = {}): FakeFolder => ({path, delimiter: '.', noSelect: false, subscribed: true, ...extra})

describe('previewPlan', () => {
  const source = fakeStore(
    'source',
    [
      folder('INBOX', {sizes: [100, 200, 300]}),
      folder('INBOX.Sent Items', {specialUse: '\\Sent', sizes: [1000], uidValidity: 5}),
      folder('INBOX.Empty'),
      folder('INBOX.Trash', {sizes: [50]}),
    ],
    {namespace: {prefix: 'INBOX.', delimiter: '.'}},
  )
  const dest = fakeStore('destination', [{path: 'INBOX', delimiter: '/', noSelect: false}, {path: 'Sent', delimiter: '/', specialUse: '\\Sent', noSelect: false}], {
    namespace: {prefix: '', delimiter: '/'},
  })
  const state: Pick<StateReader, 'path' | 'accounts' | 'copied'> = {
    path: '/x/state.sqlite',
    accounts: {source: 'a@h:1', dest: 'b@h:2'},
    copied: (s, d) =>
      s === 'INBOX' && d === 'INBOX'
        ? {sourceUidValidity: 1, uids: new Set([1, 3, 99]), claimed: new Set<number>()}
        : s === 'INBOX.Sent Items'
          ? {sourceUidValidity: 4, uids: new Set([1]), claimed: new Set<number>()}
          : undefined,
  }

  it('counts per folder from one scan of it (status and RFC822.SIZE), "copied" from the state, and writes nothing', async () => {
    const preview = await previewPlan(
      {source, dest, sourceName: 'a@h:1', destName: 'b@h:2', statePath: state.path, state},
      {mapping: {...DEFAULT_MAPPING, exclude: ['^Trash$']}, concurrency: 2},
    )
    const rows = Object.fromEntries(preview.folders.map((r) => [r.source, [r.dest, r.rule, r.messages, r.size, r.copied, r.toCopy, r.toCopySize]]))
    assert.deepEqual(rows, {
      INBOX: ['INBOX', 'name', 3, 600, 2, 1, 200],
      'INBOX.Empty': ['Empty', 'name', 0, 0, 0, 0, 0],
      'INBOX.Sent Items': ['Sent', 'special-use', 1, 1000, 0, 1, 1000],
      'INBOX.Trash': [null, 'exclude', null, null, null, null, null],
    })
    assert.deepEqual(preview.totals, {folders: 3, messages: 4, size: 1600, copied: 2, toCopy: 2, toCopySize: 1200})
    assert.ok(preview.warnings.some((w) => /INBOX\.Sent Items: UIDVALIDITY changed/.test(w)))
    assert.equal(preview.stateFound, true)
    assert.deepEqual(preview.create, ['Empty'])
    assert.deepEqual(source.calls.sort(), ['SCAN INBOX', 'SCAN INBOX.Empty', 'SCAN INBOX.Sent Items'], 'one pass per folder, nothing else')
    assert.equal(preview.ok, true)

    preview.exitMeaning = 'the folder plan is fine; nothing was written'
    const text = renderPlan(preview)
    assert.match(text, /^INBOX\.Sent Items\s+Sent \(subscribe\)\s+special-use\s+1\s+1000 B\s+0\s+1\s+1000 B$/m)
    assert.match(text, /^INBOX\.Trash\s+-\s+exclude\s+-/m)
    assert.match(text, /INBOX\.Sent Items -> Sent: special-use: \\Sent \(attribute on both sides\)/)
    assert.match(text, /^Source: +a@h:1 \(prefix "INBOX\.", separator "\."\)$/m)
  })

  it('a store that cannot scan a folder in one pass is asked its status, then its listing where it has messages', async () => {
    const folders = [folder('INBOX', {sizes: [100, 200, 300]}), folder('INBOX.Empty')]
    const plain = fakeStore('source', folders, {namespace: {prefix: 'INBOX.', delimiter: '.'}}, false)
    const preview = await previewPlan({source: plain, dest, sourceName: 'a@h:1', destName: 'b@h:2', statePath: state.path, state}, {mapping: DEFAULT_MAPPING, concurrency: 1})
    assert.deepEqual(preview.totals, {folders: 2, messages: 3, size: 600, copied: 2, toCopy: 1, toCopySize: 200})
    assert.deepEqual(plain.calls.sort(), ['FETCH INBOX', 'STATUS INBOX', 'STATUS INBOX.Empty'], 'no listing of an empty folder')
  })

  it('a state database of other accounts is not used, and conflicts make exit 2', async () => {
    const preview = await previewPlan(
      {source, dest, sourceName: 'other@h:1', destName: 'b@h:2', statePath: state.path, state},
      {mapping: {...DEFAULT_MAPPING, map: [{from: 'Trash', to: 'INBOX'}]}, concurrency: 1},
    )
    assert.equal(preview.stateFound, false)
    assert.ok(preview.warnings.some((w) => /belongs to a@h:1 -> b@h:2/.test(w)))
    assert.equal(preview.exitCode, 2)
    assert.equal(preview.ok, false)
    assert.deepEqual(preview.conflicts, ['source folders "INBOX" (rule name) and "INBOX.Trash" (rule map: "Trash=INBOX") both map to destination folder "INBOX"'])
  })
})
