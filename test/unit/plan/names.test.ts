import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {
  MAX_NAME_BYTES,
  MAX_SEGMENT_BYTES,
  displayName,
  fromSegments,
  invalidName,
  parseName,
  resolveNamespace,
  toSegments,
} from '../../../src/plan/names.js'

const courier = {prefix: 'INBOX.', delimiter: '.'}
const plain = {prefix: '', delimiter: '/'}

describe('names: namespaces and separators', () => {
  it("drops the source prefix and splits on its separator ('INBOX.' + '.' -> segments)", () => {
    assert.deepEqual(toSegments('INBOX.Lists.fork', courier), ['Lists', 'fork'])
    assert.deepEqual(toSegments('Lists/fork', plain), ['Lists', 'fork'])
    assert.deepEqual(toSegments('INBOX', courier), ['INBOX'])
    assert.deepEqual(toSegments('inbox', plain), ['inbox'], 'spelt as listed; the inbox rule spells it INBOX')
  })

  it('a folder outside the personal namespace has no normalised name', () => {
    assert.equal(toSegments('shared.team', courier), null)
  })

  it('adds the destination prefix and separator, never to INBOX itself', () => {
    assert.equal(fromSegments(['Lists', 'fork'], courier), 'INBOX.Lists.fork')
    assert.equal(fromSegments(['Lists', 'fork'], plain), 'Lists/fork')
    assert.equal(fromSegments(['INBOX'], courier), 'INBOX')
  })

  it('a child of INBOX round-trips exactly through a prefixed namespace', () => {
    const there = fromSegments(['INBOX', 'Sub'], courier)
    assert.equal(there, 'INBOX.INBOX.Sub')
    assert.deepEqual(toSegments(there, courier), ['INBOX', 'Sub'])
    assert.equal(fromSegments(toSegments(there, courier)!, plain), 'INBOX/Sub')
  })

  it('completes a reported prefix with the separator, and falls back to the listing without NAMESPACE', () => {
    assert.deepEqual(resolveNamespace([], {prefix: 'INBOX', delimiter: '.'}), courier)
    assert.deepEqual(resolveNamespace([{path: 'INBOX', delimiter: '.', noSelect: false}]), {prefix: '', delimiter: '.'})
    assert.deepEqual(resolveNamespace([]), {prefix: '', delimiter: '/'})
  })

  it('parses names written by people: "/" = hierarchy, INBOX case-insensitive', () => {
    assert.deepEqual(parseName('inbox/Sub'), ['INBOX', 'Sub'])
    assert.deepEqual(parseName('Old/Name'), ['Old', 'Name'])
    assert.equal(displayName(['Entwürfe', '日本語']), 'Entwürfe/日本語')
  })
})

describe('names: invalid destination names', () => {
  it('empty segments, NUL/CR/LF and overlong names are refused', () => {
    assert.equal(invalidName(['a', '', 'b'], 'a//b'), 'empty name segment')
    assert.equal(invalidName([''], ''), 'empty name segment')
    assert.equal(invalidName(['a\r\nb'], 'a\r\nb'), 'contains NUL, CR or LF')
    assert.equal(invalidName(['a\u0000'], 'a\u0000'), 'contains NUL, CR or LF')
    const long = 'ü'.repeat(MAX_SEGMENT_BYTES / 2 + 1)
    assert.match(invalidName([long], long) ?? '', /segment longer than 255 bytes/)
    const many = Array.from({length: 10}, () => 'x'.repeat(120))
    assert.match(invalidName(many, many.join('/')) ?? '', new RegExp(`name longer than ${MAX_NAME_BYTES} bytes`))
    assert.equal(invalidName(['Año 2024', 'R&D'], 'Año 2024/R&D'), undefined)
  })
})
