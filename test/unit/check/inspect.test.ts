/**
 * The message inspection that a preflight check and the repairs rely on: each problem is found at
 * its line, clean mail (and the real-mail corpus's well-formed messages) has none.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {inspectMessage} from '../../../src/check/inspect.js'
import {corpusSkipReason, loadCorpus} from '../../harness/corpus.js'

const msg = (text: string) => Buffer.from(text.replace(/\n/g, '\r\n'), 'latin1')
const problems = (data: Buffer, maxLineLength?: number) => inspectMessage(data, {maxLineLength}).map((f) => `${f.problem}@${f.line}`)

describe('inspectMessage', () => {
  it('a well-formed message has no problem, folded headers and LF line ends included', () => {
    assert.deepEqual(problems(msg('From: a@example.com\nSubject: a long\n subject folded\n\tand again\n\nBody: not a header\nno colon here\n')), [])
    assert.deepEqual(problems(Buffer.from('Subject: x\n\nbody\n')), [])
  })

  it('header lines that are not headers: no colon, a space before the colon, a continuation first', () => {
    assert.deepEqual(problems(msg('From: a@example.com\nthis is not a header\n\nbody\n')), ['header-syntax@2'])
    assert.deepEqual(problems(msg('Subject : spaced\n\nbody\n')), ['header-syntax@1'])
    assert.deepEqual(problems(msg(' leading: continuation\nSubject: x\n\nbody\n')), ['header-syntax@1'])
    // A header block that runs into the body without an empty line.
    assert.deepEqual(problems(msg('Subject: x\nHello Bob,\nbody text\n')), ['header-syntax@2'])
  })

  it('raw 8-bit header bytes, NUL bytes, an mbox From line, long lines', () => {
    assert.deepEqual(problems(msg('Subject: caf\xe9\n\nbody\n')), ['header-8bit@1'])
    assert.deepEqual(problems(msg('Subject: x\n\nbo\x00dy\n')), ['nul@3'])
    assert.deepEqual(problems(msg('From alice@example.com Mon Jan  1 00:00:00 2001\nSubject: x\n\nbody\n')), ['from-line@1'])
    assert.deepEqual(problems(msg('Subject: x\nFrom  :<a@example.com>\nFrom: b@example.com\n\nbody\n')), ['from-header@2'])
    assert.deepEqual(problems(msg(`Subject: x\n\n${'y'.repeat(11000)}\n`), 10500), ['long-line@3'])
    assert.deepEqual(problems(msg(`Subject: x\n\n${'y'.repeat(11000)}\n`)), [], 'no limit given: not checked')
  })

  it('8-bit bytes in the body are not a header problem', () => {
    assert.deepEqual(problems(msg('Subject: x\nContent-Type: text/plain; charset=latin1\n\ncaf\xe9\n')), [])
  })

  it('the real-mail corpus: the counts its README documents (8-bit headers 21, From lines 60, lines over 998: 4)', {skip: corpusSkipReason()}, () => {
    const counts: Record<string, number> = {}
    for (const folder of Object.values(loadCorpus()!.folders)) {
      for (const message of folder) for (const f of inspectMessage(message.raw, {maxLineLength: 998})) counts[f.problem] = (counts[f.problem] ?? 0) + 1
    }
    assert.equal(counts['header-8bit'], 21)
    assert.equal(counts['from-line'], 60)
    assert.equal(counts['long-line'], 4)
    assert.equal(counts.nul, undefined)
    // Hand-made fixtures: "To    : Mary Smith", a header block running into "Good Day,", ...
    assert.ok(counts['header-syntax'] >= 5, JSON.stringify(counts))
  })
})
