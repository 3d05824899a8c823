/**
 * FETCH rows as imapflow's own parser leaves them, read into plain fields (src/imap/fetch-items.ts):
 * the same values imapflow's formatted message objects carried (the copy reads bodies, listings and
 * header blocks this way).
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'
import parser from 'imapflow/lib/handler/imap-parser.js'

import {fetchSeq, readFetchItems, type FetchRow} from '../../../src/imap/fetch-items.js'

/** One response as the stream hands it over: the line with its literals cut out and given apart. */
async function parse(line: string, literals: string[] = []) {
  return parser(Buffer.from(line), {literals: literals.map((text) => Buffer.from(text))}) as Promise<{tag: string; command: string; attributes: unknown[]}>
}

async function rowOf(line: string, literals: string[] = []): Promise<FetchRow> {
  const response = await parse(line, literals)
  const row: FetchRow = {}
  readFetchItems(response.attributes[1] as unknown[], row)
  return row
}

test('a body row: UID, flags, internal date and the body literal, byte for byte', async () => {
  const body = 'Subject: hi\r\n\r\nbody \u00e9\r\n'
  const row = await rowOf(`* 12 FETCH (UID 4711 FLAGS (\\Seen $Forwarded) INTERNALDATE "17-Jul-1996 02:44:25 -0700" BODY[] {${Buffer.byteLength(body)}}\r\n)`, [body])
  assert.equal(row.uid, 4711)
  assert.deepEqual(row.flags, ['\\Seen', '$Forwarded'])
  assert.equal(row.internalDate?.toISOString(), '1996-07-17T09:44:25.000Z')
  assert.deepEqual(row.body, Buffer.from(body))
  assert.equal(row.header, undefined)
})

test('a listing row: size and the Message-ID header field; a header block; a quoted section is taken as its bytes', async () => {
  const field = 'Message-ID: <a@b>\r\n\r\n'
  const listed = await rowOf(`* 3 FETCH (UID 9 FLAGS () RFC822.SIZE 51234 BODY[HEADER.FIELDS (MESSAGE-ID)] {${field.length}}\r\n)`, [field])
  assert.deepEqual(listed, {uid: 9, flags: [], size: 51234, header: Buffer.from(field)})
  const header = await rowOf('* 3 FETCH (UID 9 BODY[HEADER] "X: y")')
  assert.deepEqual(header.header, Buffer.from('X: y'))
})

test('a partial body and other sections are not the message; flags and date may come in a row of their own', async () => {
  const partial = await rowOf('* 1 FETCH (UID 2 BODY[]<0> {3}\r\n)', ['abc'])
  assert.equal(partial.body, undefined)
  const part = await rowOf('* 1 FETCH (UID 2 BODY[1] {3}\r\n)', ['abc'])
  assert.equal(part.body, undefined)
  assert.equal(part.header, undefined)
  const flagsOnly = await rowOf('* 1 FETCH (FLAGS (\\Flagged))')
  assert.deepEqual(flagsOnly, {flags: ['\\Flagged']})
})

test('fetchSeq: the sequence number of a FETCH row, nothing for other untagged responses', async () => {
  assert.equal(fetchSeq(await parse('* 12 FETCH (UID 1)')), 12)
  assert.equal(fetchSeq(await parse('* 12 EXISTS')), undefined)
  assert.equal(fetchSeq(await parse('* OK [UIDNEXT 5] ok')), undefined)
})
