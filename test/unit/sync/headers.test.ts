import assert from 'node:assert/strict'
import {test} from 'node:test'

import {endsAtHeaderEnd, headerBlock} from '../../../src/sync/headers.js'

const block = (text: string) => headerBlock(Buffer.from(text, 'latin1')).toString('latin1')

test('headerBlock ends at the first empty line, CRLF or bare LF, whichever comes first', () => {
  assert.equal(block('A: 1\r\nB: 2\r\n\r\nbody\n\nmore'), 'A: 1\r\nB: 2\r\n\r\n')
  assert.equal(block('A: 1\nB: 2\n\nbody\r\n\r\nmore'), 'A: 1\nB: 2\n\n')
  // A bare-LF empty line inside a CRLF header ends the header there.
  assert.equal(block('A: 1\n\nB: 2\r\n\r\nbody'), 'A: 1\n\n')
  // A CRLF empty line followed by a blank LF line in the body: the CRLF one.
  assert.equal(block('A: 1\r\n\r\n\n\nbody'), 'A: 1\r\n\r\n')
  assert.equal(block('A: 1\r\nB: 2\r\n'), 'A: 1\r\nB: 2\r\n')
  assert.equal(block(''), '')
})

test('endsAtHeaderEnd: true only for a block that stops exactly at its empty line', () => {
  assert.equal(endsAtHeaderEnd(Buffer.from('A: 1\r\n\r\n')), true)
  assert.equal(endsAtHeaderEnd(Buffer.from('A: 1\r\n\r\nbody')), false)
  assert.equal(endsAtHeaderEnd(Buffer.from('A: 1\r\n')), false)
})
