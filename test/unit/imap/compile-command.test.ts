/**
 * compileCommand writes APPEND's message bodies without copying them: the same bytes as imapflow's
 * compiler, split at the same synchronizing literals, with each body the caller's own Buffer.
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'

import compiler from 'imapflow/lib/handler/imap-compiler.js'

import {compileCommand} from '../../../src/imap/wire.js'

const bodies = [Buffer.from('Subject: a\r\n\r\nfirst\r\n'), Buffer.alloc(5000, 'x'), Buffer.from('Subject: "c"\r\n\r\nthird')]
const attributes = [
  {type: 'ATOM', value: 'Archive/2024 "x"'},
  ...bodies.flatMap((body, i) => [
    i === 1 ? [] : [{type: 'ATOM', value: '\\Seen'}, {type: 'ATOM', value: '$Label1'}],
    {type: 'STRING', value: '03-Dec-2026 19:00:00 +0000'},
    {type: 'LITERAL', value: body},
  ]),
]

for (const options of [
  {literalPlus: true, literalMinus: false},
  {literalPlus: false, literalMinus: true},
  {literalPlus: false, literalMinus: false},
]) {
  test(`the same bytes and chunks as imapflow's compiler (${JSON.stringify(options)})`, () => {
    const expected = compiler({tag: 'P7', command: 'APPEND', attributes}, {asArray: true, ...options}) as Buffer[]
    const chunks = compileCommand('P7', 'APPEND', attributes, options)
    assert.deepEqual(chunks.map((chunk) => Buffer.concat(chunk).toString('latin1')), expected.map((chunk) => chunk.toString('latin1')))
    const written = chunks.flat()
    for (const body of bodies) assert.ok(written.includes(body), 'the body is the caller\'s Buffer, not a copy')
  })
}

test('commands without a top-level literal are compiled whole', () => {
  assert.deepEqual(compileCommand('P1', 'LOGOUT', [], {literalPlus: true, literalMinus: false}), [[Buffer.from('P1 LOGOUT')]])
})
