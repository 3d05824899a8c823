/**
 * The opt-in repairs: each produces exactly its documented form, leaves the body alone (header
 * repairs), applies only when allowed and needed, and leaves a message inspect.ts finds nothing
 * wrong with for the repairs it was given.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {inspectMessage} from '../../../src/check/inspect.js'
import {encodedWords, repairMessage, repairOutcome} from '../../../src/check/repair.js'
import {corpusSkipReason, loadCorpus} from '../../harness/corpus.js'

const msg = (text: string) => Buffer.from(text.replace(/\n/g, '\r\n'), 'latin1')
const text = (buffer: Buffer | undefined) => buffer?.toString('latin1')
const ALL = ['headers', 'nul', 'from-line', 'long-lines'] as const

/** RFC 2047 B-decoding of every encoded-word of a header value, for round trips. */
const decode = (value: string) =>
  Buffer.concat(
    value
      .replace(/\?=\r?\n?\s+=\?/g, '?==?')
      .split(/(=\?[^?]+\?B\?[^?]*\?=)/)
      .map((part) => {
        const m = /^=\?([^?]+)\?B\?([^?]*)\?=$/.exec(part)
        return m ? Buffer.from(m[2], 'base64') : Buffer.from(part, 'latin1')
      }),
  )

describe('repairMessage', () => {
  it('a line that is not a header field becomes an X-Mailferry-Repaired-Header field; the body is untouched', () => {
    const body = 'Body line\r\nno colon\x80 here either\r\n'
    const raw = msg(`From: a@example.com\nthis is not a header\nSubject: x\n\n`)
    const out = repairMessage(Buffer.concat([raw, Buffer.from(body, 'latin1')]), ['headers'])
    assert.deepEqual(out?.applied, ['headers'])
    assert.equal(text(out?.raw), `From: a@example.com\r\nX-Mailferry-Repaired-Header: this is not a header\r\nSubject: x\r\n\r\n${body}`)
  })

  it('a space before the colon is dropped (obsolete syntax); a continuation at the top becomes a field; LF line ends stay LF', () => {
    assert.equal(text(repairMessage(msg('Subject : spaced\n\nbody\n'), ['headers'])?.raw), 'Subject: spaced\r\n\r\nbody\r\n')
    assert.equal(
      text(repairMessage(Buffer.from(' leading\nSubject: x\n\nbody\n'), ['headers'])?.raw),
      'X-Mailferry-Repaired-Header: leading\nSubject: x\n\nbody\n',
    )
  })

  it('a header block that runs into the body: each line until the empty line is a field', () => {
    assert.equal(
      text(repairMessage(msg('Subject: x\nHello Bob,\nsee you\n'), ['headers'])?.raw),
      'Subject: x\r\nX-Mailferry-Repaired-Header: Hello Bob,\r\nX-Mailferry-Repaired-Header: see you\r\n',
    )
  })

  it('raw 8-bit header bytes are RFC 2047-encoded (UTF-8 when valid, else windows-1252), bytes kept, spaces kept', () => {
    const utf8 = Buffer.concat([Buffer.from('Subject: Gr'), Buffer.from('üße an alle', 'utf8'), Buffer.from('\r\n\r\nbody\r\n')])
    const out = repairMessage(utf8, ['headers'])
    assert.equal(text(out?.raw), `Subject: ${encodedWords(Buffer.from('Grüße', 'utf8')).join('')} an alle\r\n\r\nbody\r\n`)
    assert.match(text(out?.raw)!, /^Subject: =\?UTF-8\?B\?R3LDvMOfZQ==\?= an alle\r\n/)
    // Latin-1 bytes, a quoted display name with two 8-bit words: one encoded run without the quotes.
    const latin = repairMessage(msg('From: "J\xfcrgen M\xfcller" <j@example.com>\nSubject: ok\n\nbody\n'), ['headers'])
    assert.equal(text(latin?.raw), `From: ${encodedWords(Buffer.from('J\xfcrgen M\xfcller', 'latin1'))[0]} <j@example.com>\r\nSubject: ok\r\n\r\nbody\r\n`)
    assert.match(text(latin?.raw)!, /=\?windows-1252\?B\?/)
    const value = text(latin?.raw)!.split('\r\n')[0].slice('From: '.length)
    assert.equal(decode(value).toString('latin1'), 'J\xfcrgen M\xfcller <j@example.com>')
  })

  it('a long 8-bit value is split into encoded-words of at most 75 characters, never inside a UTF-8 character, folded', () => {
    const long = 'ä'.repeat(100)
    const out = repairMessage(Buffer.from(`Subject: ${long}\r\n\r\nb\r\n`, 'utf8'), ['headers'])!
    const header = text(out.raw)!.split('\r\n\r\n')[0]
    for (const word of header.match(/=\?[^?]+\?B\?[^?]*\?=/g)!) assert.ok(word.length <= 75, word)
    assert.equal(decode(header.slice('Subject: '.length)).toString('utf8'), long)
    assert.deepEqual(inspectMessage(out.raw), [])
  })

  it('NUL bytes are removed everywhere; an mbox From line becomes a header field', () => {
    assert.deepEqual(repairMessage(msg('Subject: a\x00b\n\nbo\x00dy\n'), ['nul']), {raw: msg('Subject: ab\n\nbody\n'), applied: ['nul']})
    assert.equal(
      text(repairMessage(msg('From alice@example.com Mon Jan  1 00:00:00 2024\nSubject: x\n\nbody\n'), ['from-line'])?.raw),
      'X-Mailferry-Mbox-From: alice@example.com Mon Jan  1 00:00:00 2024\r\nSubject: x\r\n\r\nbody\r\n',
    )
  })

  it('a From line further down the header block becomes a header field too', () => {
    assert.equal(
      text(repairMessage(msg('Subject: x\nFrom  :<a@example.com>\nFrom: b@example.com\n\nFrom the body\n'), ['from-line'])?.raw),
      'Subject: x\r\nX-Mailferry-Mbox-From:  :<a@example.com>\r\nFrom: b@example.com\r\n\r\nFrom the body\r\n',
    )
  })

  it('header lines over 998 characters are folded at their last space before the limit; the unfolded value is unchanged', () => {
    const words = Array.from({length: 300}, (_, i) => `word${i}`).join(' ')
    const raw = msg(`Subject: ${words}\n\nshort body\n`)
    const out = repairMessage(raw, ['long-lines'])!
    assert.deepEqual(out.applied, ['long-lines'])
    const [head, body] = text(out.raw)!.split('\r\n\r\n')
    for (const line of head.split('\r\n')) assert.ok(line.length <= 998)
    assert.equal(head.replace(/\r\n(?=[ \t])/g, ''), `Subject: ${words}`)
    assert.equal(body, 'short body\r\n', 'a body without long lines is not changed')
    // No space to fold at: the message is left as it is, and the outcome says why.
    const solid = msg(`X-Token: ${'a'.repeat(1200)}\n\nb\n`)
    assert.equal(repairMessage(solid, ['long-lines']), undefined)
    assert.deepEqual(repairOutcome(solid, ['long-lines']).unrepaired, [{repair: 'long-lines', reason: 'a header line over 998 characters has no space or tab to fold at'}])
    // The destination's own limit, when known, is the one repaired to.
    const folded = repairMessage(raw, ['long-lines'], {maxLineLength: 200})!
    for (const line of text(folded.raw)!.split('\r\n')) assert.ok(line.length <= 200)
    assert.equal(repairMessage(msg(`Subject: ${'a '.repeat(145)}x\n\nb\n`), ['long-lines'], {maxLineLength: 300}), undefined, '300 characters: within a limit of 300')
  })

  it('only allowed repairs, only where needed; undefined when nothing changes', () => {
    const bad = msg('From x Mon\nSubject: caf\xe9\x00\nnot a header\n\nbody\n')
    assert.equal(repairMessage(bad, []), undefined)
    assert.equal(repairMessage(msg('Subject: fine\n\nbody\n'), ALL), undefined)
    assert.deepEqual(repairMessage(bad, ['nul'])?.applied, ['nul'])
    const all = repairMessage(bad, ALL)!
    assert.deepEqual(all.applied, ['nul', 'from-line', 'headers'])
    assert.equal(
      text(all.raw),
      `X-Mailferry-Mbox-From: x Mon\r\nSubject: ${encodedWords(Buffer.from('caf\xe9', 'latin1'))[0]}\r\nX-Mailferry-Repaired-Header: not a header\r\n\r\nbody\r\n`,
    )
    assert.deepEqual(inspectMessage(all.raw), [])
  })

  it('the corpus messages inspect flags are clean after every repair, and their bodies are byte-identical', (t) => {
    const skip = corpusSkipReason()
    if (skip) return t.skip(skip)
    let repaired = 0
    for (const messages of Object.values(loadCorpus()!.folders)) {
      for (const message of messages) {
        const findings = inspectMessage(message.raw, {maxLineLength: 998})
        const headerFindings = findings.filter((f) => f.problem !== 'long-line' && f.problem !== 'nul')
        if (headerFindings.length === 0) continue
        const out = repairMessage(message.raw, ['headers', 'from-line'])
        assert.ok(out, message.name)
        repaired++
        const after = inspectMessage(out.raw).filter((f) => f.problem !== 'long-line' && f.problem !== 'nul')
        assert.deepEqual(after, [], message.name)
        const bodyOf = (raw: Buffer) => {
          const i = raw.indexOf('\n\n') === -1 ? -1 : raw.indexOf('\n\n')
          const j = raw.indexOf('\r\n\r\n')
          const cut = [i === -1 ? Infinity : i + 2, j === -1 ? Infinity : j + 4].reduce((a, b) => Math.min(a, b))
          return cut === Infinity ? Buffer.alloc(0) : raw.subarray(cut)
        }
        assert.ok(bodyOf(out.raw).equals(bodyOf(message.raw)) || bodyOf(message.raw).length === 0, `${message.name}: body changed`)
      }
    }
    assert.ok(repaired > 0, 'the corpus has messages to repair')
  })
})
