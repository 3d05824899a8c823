/**
 * recognise() over two in-memory stores (only what it reads: fetchHeaders, fetchMessage). The
 * real-server cases are in test/integration (resume, reconnect, corpus).
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'

import type {MessageMeta, Store} from '../../../src/stores/store.js'
import {endsAtHeaderEnd} from '../../../src/sync/headers.js'
import {recognise} from '../../../src/sync/recognise.js'

interface Stored {
  meta: MessageMeta
  raw: Buffer
}

function message(uid: number, id: string, body: string, date = '2020-01-01T00:00:00Z'): Stored {
  const raw = Buffer.from(`Message-ID: ${id}\r\nSubject: ${body}\r\n\r\n${body}\r\n`)
  return {meta: {uid, size: raw.length, messageId: id, flags: [], internalDate: new Date(date)}, raw}
}

/** A store whose headers and bodies come from `files`: for a damaged server, not what its listing says. */
function store(files: Map<number, Buffer>): Store {
  const header = (raw: Buffer) => raw.subarray(0, raw.indexOf('\r\n\r\n') + 4)
  return {
    fetchHeaders: async (_path: string, uids: number[]) => new Map(uids.filter((u) => files.has(u)).map((u) => [u, header(files.get(u)!)])),
    fetchMessage: async (_path: string, uid: number) => (files.has(uid) ? {uid, raw: files.get(uid)!, flags: [], internalDate: new Date(0)} : null),
  } as unknown as Store
}

function setup(destFiles: Map<number, Buffer>, candidates: Stored[], unclaimed: MessageMeta[]) {
  return {
    source: store(new Map(candidates.map((m) => [m.meta.uid, m.raw]))),
    dest: store(destFiles),
    sourcePath: 'INBOX',
    destPath: 'INBOX',
    candidates: candidates.map((m) => m.meta),
    unclaimed,
  }
}

test('a copy is recognised by size and Message-ID, then its header', async () => {
  const x = message(7, '<x@a>', 'xxxxx')
  const found = await recognise(setup(new Map([[40, x.raw]]), [x], [{...x.meta, uid: 40}]))
  assert.deepEqual([...found], [[7, 40]])
})

test('a destination message listed as the candidate but whose header is another message: not a copy by default', async () => {
  const x = message(7, '<x@a>', 'xxxxx')
  const other = message(8, '<o@a>', 'other message, other size')
  // Listed with x's size, Message-ID and date; its file is another message's (Dovecot after a killed save).
  const input = setup(new Map([[21, other.raw]]), [x], [{...x.meta, uid: 21}])
  assert.equal((await recognise(input)).size, 0)

  const reported: Array<[number, number]> = []
  const found = await recognise({...input, onSelfContradiction: (s, d) => reported.push([s, d])})
  assert.deepEqual([...found], [[7, 21]], 'trusted when asked: the listing matches exactly')
  assert.deepEqual(reported, [[7, 21]])
})

test('a self-contradicting message is not trusted when its listing differs from the candidate (date)', async () => {
  const x = message(7, '<x@a>', 'xxxxx')
  const other = message(8, '<o@a>', 'other')
  const input = setup(new Map([[21, other.raw]]), [x], [{...x.meta, uid: 21, internalDate: new Date('2021-05-05T00:00:00Z')}])
  assert.equal((await recognise({...input, onSelfContradiction: () => assert.fail('not trusted')})).size, 0)
})

test('a message sharing size and Message-ID but with another header, and consistent, is never trusted', async () => {
  const x = message(7, '<x@a>', 'xxxxx')
  const twin = message(21, '<x@a>', 'yyyyy')
  const input = setup(new Map([[21, twin.raw]]), [x], [{...twin.meta}])
  assert.equal((await recognise({...input, onSelfContradiction: () => assert.fail('not trusted')})).size, 0)
})

test('a header that stops short or runs into the body contradicts itself too (same Message-ID)', async () => {
  const x = message(7, '<x@a>', 'xxxxx')
  const cut = (n: number) => setup(new Map([[21, x.raw.subarray(0, n)]]), [x], [{...x.meta, uid: 21}])
  const headerLength = x.raw.indexOf('\r\n\r\n') + 4
  for (const length of [headerLength - 3, headerLength + 3]) {
    // fetchHeaders of the fake store cuts at the blank line; serve the raw slice instead.
    const input = cut(length)
    input.dest = {...input.dest, fetchHeaders: async (_p: string, uids: number[]) => new Map(uids.map((u) => [u, x.raw.subarray(0, length)]))} as Store
    const reported: number[] = []
    const found = await recognise({...input, onSelfContradiction: (_s, d) => reported.push(d)})
    assert.deepEqual([...found], [[7, 21]], `header of ${length} bytes (whole: ${headerLength})`)
    assert.deepEqual(reported, [21])
  }
})

test('endsAtHeaderEnd: whole header blocks only', () => {
  assert.ok(endsAtHeaderEnd(Buffer.from('A: b\r\nC: d\r\n\r\n')))
  assert.ok(endsAtHeaderEnd(Buffer.from('A: b\n\n')))
  assert.ok(!endsAtHeaderEnd(Buffer.from('A: b\r\nC: d\r\n')), 'cut short at a line end')
  assert.ok(!endsAtHeaderEnd(Buffer.from('A: b\r\n\r\nbody')), 'runs into the body')
})
