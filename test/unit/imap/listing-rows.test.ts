/**
 * ListingRows (src/imap/examine.ts): a listing's rows as they come, merged by sequence number; with
 * onHeader, each header block is handed on as its row has it and dropped from the row, so a scan of
 * a folder of any size holds only the messages' metadata.
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'
import parser from 'imapflow/lib/handler/imap-parser.js'

import {ListingRows} from '../../../src/imap/examine.js'
import type {WireConnection, WireResponse} from '../../../src/imap/wire.js'

async function parse(line: string, literals: string[] = []): Promise<WireResponse> {
  return parser(Buffer.from(line), {literals: literals.map((text) => Buffer.from(text))}) as Promise<WireResponse>
}

/** Only what ListingRows may call on its connection: close, when a listing runs past EXISTS. */
function connection(): WireConnection & {closedWith?: Error} {
  const fake = {closedWith: undefined as Error | undefined, close: (error?: Error) => void (fake.closedWith = error)}
  return fake as unknown as WireConnection & {closedWith?: Error}
}

const headerOf = (n: number) => `Subject: ${n}\r\nMessage-ID: <${n}@x>\r\n\r\n`

test('onHeader gets each block once its row has a UID; the rows keep the metadata, not the blocks', async () => {
  const handed: Array<[number, string]> = []
  const rows = new ListingRows(connection(), () => 3, {where: 'source', path: 'INBOX'}, (row) => handed.push([row.uid, row.header!.toString()]))
  for (let seq = 1; seq <= 2; seq++) {
    const block = headerOf(seq)
    rows.read(await parse(`* ${seq} FETCH (UID ${seq * 10} FLAGS (\\Seen) RFC822.SIZE ${100 + seq} BODY[HEADER] {${block.length}}\r\n)`, [block]))
  }
  // A server may split a row: the block first, the UID later (the block is handed on then).
  const third = headerOf(3)
  rows.read(await parse(`* 3 FETCH (BODY[HEADER] {${third.length}}\r\n)`, [third]))
  assert.equal(handed.length, 2, 'a block without its UID was handed on')
  rows.read(await parse('* 3 FETCH (UID 30 FLAGS () RFC822.SIZE 103)'))
  assert.deepEqual(handed, [
    [10, headerOf(1)],
    [20, headerOf(2)],
    [30, headerOf(3)],
  ])
  assert.deepEqual(
    rows.rows().map((row) => [row.uid, row.size, row.header]),
    [
      [10, 101, undefined],
      [20, 102, undefined],
      [30, 103, undefined],
    ],
  )
})

test('without onHeader the blocks stay in the rows; a listing longer than EXISTS closes the connection', async () => {
  const conn = connection()
  const rows = new ListingRows(conn, () => 1, {where: 'source', path: 'INBOX'})
  const block = headerOf(1)
  rows.read(await parse(`* 1 FETCH (UID 7 BODY[HEADER] {${block.length}}\r\n)`, [block]))
  assert.deepEqual(rows.rows()[0].header, Buffer.from(block))
  rows.read(await parse('* 2 FETCH (UID 8)'))
  assert.match(String(rows.failure?.message), /INBOX/)
  assert.equal(conn.closedWith, rows.failure)
})
