/**
 * The long-lines repair of message bodies: every line ends up within the limit, each part's decoded
 * content is byte for byte what it was (decoded here by a decoder of the test's own, part by part
 * along boundaries the test knows), and every byte outside the re-encoded parts stays. A structure
 * it cannot read is left alone with a reason.
 */
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {describe, it} from 'node:test'

import {corpusSkipReason, loadCorpus} from '../../harness/corpus.js'
import {repairLongLines} from '../../../src/check/long-lines.js'
import {ENCODED_LINE} from '../../../src/check/transfer-encoding.js'
import {repairMessage, repairOutcome} from '../../../src/check/repair.js'

const crlf = (text: string) => Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1')
const latin = (data: Buffer | undefined) => data?.toString('latin1') ?? ''
const lines = (data: Buffer) => latin(data).split(/\r?\n/)
const longest = (data: Buffer) => Math.max(...lines(data).map((line) => line.length))

/** RFC 2045 6.7 decoding: soft breaks out, =XX to its byte, everything else as it is. */
function decodeQp(text: string): Buffer {
  const joined = text.replace(/=\r?\n/g, '')
  const out: number[] = []
  for (let i = 0; i < joined.length; i++) {
    if (joined[i] === '=' && /^[0-9A-F]{2}$/i.test(joined.slice(i + 1, i + 3))) {
      out.push(parseInt(joined.slice(i + 1, i + 3), 16))
      i += 2
    } else out.push(joined.charCodeAt(i))
  }
  return Buffer.from(out)
}

/** One entity's header (as text) and body (bytes), split at the first empty line. */
function split(entity: Buffer): {head: string; body: Buffer} {
  const at = latin(entity).search(/\r?\n\r?\n/)
  const sep = /\r?\n\r?\n/.exec(latin(entity))![0].length
  return {head: latin(entity.subarray(0, at)), body: entity.subarray(at + sep)}
}

/** The entity's content decoded by its Content-Transfer-Encoding. */
function decoded(entity: Buffer): Buffer {
  const {head, body} = split(entity)
  const cte = /^content-transfer-encoding:\s*(\S+)/im.exec(head)?.[1]?.toLowerCase()
  if (cte === 'quoted-printable') return decodeQp(latin(body))
  if (cte === 'base64') return Buffer.from(latin(body).replace(/\s/g, ''), 'base64')
  return body
}

/** The parts between `--boundary` delimiter lines (the line end before a delimiter belongs to it). */
function parts(data: Buffer, boundary: string): Buffer[] {
  const text = latin(data)
  const pieces = text.split(new RegExp(`(?:^|\\r\\n)--${boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:--)?[ \\t]*(?:\\r\\n|$)`))
  return pieces.slice(1, -1).map((piece) => Buffer.from(piece, 'latin1'))
}

/** Every leaf part's decoded content, in order, walking multiparts and message/rfc822 parts (the test's own MIME walk). */
function leaves(entity: Buffer): Buffer[] {
  const {head, body} = split(entity)
  const unfolded = head.replace(/\r?\n[ \t]/g, ' ')
  const type = /^content-type:\s*([^;\s]+)/im.exec(unfolded)?.[1]?.toLowerCase() ?? 'text/plain'
  const boundary = /^content-type:.*;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/im.exec(unfolded)
  if (type.startsWith('multipart/') && boundary) return parts(body, boundary[1] ?? boundary[2]).flatMap(leaves)
  if (type === 'message/rfc822') return leaves(body)
  return [decoded(entity)]
}

const header = (lines: string[]) => lines.join('\r\n') + '\r\n\r\n'

describe('long-lines: body parts', () => {
  it('a single text part with a 20,000-character line: quoted-printable, the decoded body the same, the header only gains the encoding', () => {
    const body = `Hello,\r\n${'lorem ipsum dolor sit amet, caf\xe9 = 100% -- '.repeat(500).slice(0, 20_000)}\r\nend with space \r\n`
    const head = header(['From: a@example.com', 'Subject: long', 'Content-Type: text/plain; charset=iso-8859-1', 'Message-ID: <ll-1@example.com>'])
    const raw = Buffer.from(head + body, 'latin1')
    const out = repairMessage(raw, ['long-lines'])!
    assert.deepEqual(out.applied, ['long-lines'])
    assert.ok(longest(out.raw) <= ENCODED_LINE)
    const {head: newHead} = split(out.raw)
    assert.equal(newHead, `${head.slice(0, -4)}\r\nContent-Transfer-Encoding: quoted-printable`)
    assert.ok(decoded(out.raw).equals(Buffer.from(body, 'latin1')), 'decoded content unchanged')
    assert.doesNotMatch(latin(out.raw), /[^\r]\n/, 'every line end is CRLF')
    // The short first line stays readable; the space before the line end is encoded.
    assert.match(latin(out.raw), /\r\n\r\nHello,\r\n/)
    assert.match(latin(out.raw), /end with space=20\r\n$/)
  })

  it('an existing 7bit or 8bit encoding is replaced; a part with bytes of every value becomes base64', () => {
    const text = Buffer.from(`Subject: x\r\nContent-Transfer-Encoding: 8bit\r\nX-After: kept\r\n\r\n${'\xe4'.repeat(1500)}\r\n`, 'latin1')
    const out = repairLongLines(text, 998).raw!
    assert.match(latin(out), /^Subject: x\r\nContent-Transfer-Encoding: quoted-printable\r\nX-After: kept\r\n\r\n=E4=E4/)
    assert.ok(decoded(out).equals(split(text).body))

    // Bytes of every value, with a first line of 1,500 bytes (no LF in it).
    const bytes = randomBytes(5000).map((byte, i) => (i < 1500 && byte === 0x0a ? 0x0b : byte))
    const binary = Buffer.concat([Buffer.from('Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n'), bytes, Buffer.from('\r\n')])
    const encoded = repairLongLines(binary, 998).raw!
    assert.match(latin(encoded), /^Content-Type: application\/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n/)
    assert.ok(decoded(encoded).equals(split(binary).body))
    assert.ok(longest(encoded) <= ENCODED_LINE)
    assert.equal(lines(split(encoded).body)[0].length, ENCODED_LINE)
  })

  it('nested multiparts: only the parts with long lines change; boundaries, preamble, epilogue and other parts are byte-identical', () => {
    const longText = `${'The quick brown fox jumps over the lazy dog. '.repeat(60)}\r\nsecond line`
    const shortHtml = '<p>short</p>'
    const attachment = randomBytes(3000)
    const oneLineBase64 = attachment.toString('base64')
    const inner = `From: c@example.com\r\nSubject: forwarded\r\n\r\nshort forwarded body\r\n`
    const alternative = [
      '--alt-2',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      longText,
      '--alt-2',
      'Content-Type: text/html',
      'Content-Transfer-Encoding: 7bit',
      '',
      shortHtml,
      '--alt-2--',
    ].join('\r\n')
    const raw = Buffer.from(
      [
        'From: a@example.com',
        'Content-Type: multipart/mixed; boundary="mix 1"',
        '',
        'This is a preamble.',
        '--mix 1',
        'Content-Type: multipart/alternative; boundary=alt-2',
        '',
        alternative,
        '--mix 1',
        'Content-Type: application/pdf; name="a.pdf"',
        'Content-Transfer-Encoding: base64',
        '',
        oneLineBase64,
        '--mix 1',
        'Content-Type: message/rfc822',
        '',
        inner,
        '--mix 1--',
        'epilogue',
        '',
      ].join('\r\n'),
      'latin1',
    )
    const out = repairLongLines(raw, 998).raw!
    assert.ok(longest(out) <= 998)
    const [altOut, pdfOut, rfcOut] = parts(split(out).body, 'mix 1')
    const [altIn, pdfIn, rfcIn] = parts(split(raw).body, 'mix 1')
    assert.equal(latin(rfcOut), latin(rfcIn), 'the message/rfc822 part is untouched')
    assert.ok(decoded(pdfOut).equals(attachment), 'the attachment decodes to the same bytes')
    assert.ok(decoded(pdfOut).equals(decoded(pdfIn)))
    assert.ok(longest(pdfOut) <= ENCODED_LINE)
    const [plainOut, htmlOut] = parts(split(altOut).body, 'alt-2')
    const [plainIn, htmlIn] = parts(split(altIn).body, 'alt-2')
    assert.equal(latin(htmlOut), latin(htmlIn), 'the short html part is untouched')
    assert.ok(decoded(plainOut).equals(Buffer.from(longText, 'latin1')))
    assert.ok(decoded(plainOut).equals(decoded(plainIn)))
    assert.match(split(plainOut).head, /^Content-Type: text\/plain; charset=us-ascii\r\nContent-Transfer-Encoding: quoted-printable$/)
    // Everything but the two re-encoded parts, byte for byte.
    const outside = (data: Buffer, plain: Buffer, pdf: Buffer) => latin(data).replace(latin(plain), '<plain>').replace(latin(pdf), '<pdf>')
    assert.equal(outside(out, plainOut, pdfOut), outside(raw, plainIn, pdfIn))
  })

  it('a long line inside a forwarded message (message/rfc822) is repaired inside it; the part keeps its own encoding', () => {
    const innerBody = 'y'.repeat(1500)
    const raw = crlf(`Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nSubject: inner\n\n${innerBody}\n--b--\n`)
    const out = repairLongLines(raw, 998).raw!
    const [part] = parts(split(out).body, 'b')
    assert.equal(split(part).head, 'Content-Type: message/rfc822')
    const innerMessage = split(part).body
    assert.match(split(innerMessage).head, /^Subject: inner\r\nContent-Transfer-Encoding: quoted-printable$/)
    assert.equal(latin(decoded(innerMessage)), innerBody)
  })

  it('already quoted-printable: over-long lines are broken softly, never inside an =XX; decoded the same', () => {
    const qpLine = `${'caf=E9 '.repeat(300)}-dash =3D end=`
    const tail = 'next line\r\n'
    const raw = crlf(`Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n${qpLine}\n${tail}`)
    const out = repairLongLines(raw, 998).raw!
    assert.ok(longest(out) <= ENCODED_LINE)
    assert.ok(decoded(out).equals(decoded(raw)))
    for (const line of lines(split(out).body)) assert.doesNotMatch(line.endsWith('=') ? line.slice(0, -1) : line, /=[0-9A-F]?$/, `cut inside an escape: ${line}`)
    assert.equal(split(out).head, split(raw).head, 'the header is unchanged')
    assert.ok(latin(out).endsWith(`\r\n${tail}`), 'short lines stay as they were')
  })

  it('already base64 with long lines: the same characters re-wrapped at 76', () => {
    const data = randomBytes(2000)
    const raw = Buffer.from(`Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n${data.toString('base64')}\r\n`, 'latin1')
    const out = repairLongLines(raw, 998).raw!
    assert.ok(decoded(out).equals(data))
    assert.equal(latin(split(out).body).replace(/\r\n/g, ''), data.toString('base64'))
    assert.ok(lines(split(out).body).every((line) => line.length <= ENCODED_LINE))
  })

  it('LF-only messages keep LF line ends', () => {
    const raw = Buffer.from(`Subject: lf\n\n${'z'.repeat(1200)}\nlast\n`, 'latin1')
    const out = repairLongLines(raw, 998).raw!
    assert.ok(!latin(out).includes('\r'))
    assert.ok(decodeQp(latin(split(out).body)).equals(Buffer.from(`${'z'.repeat(1200)}\nlast\n`)))
  })

  it('a multipart whose boundary is missing or misused is left alone, with the reason', () => {
    const long = 'q'.repeat(1200)
    const cases: Array<[string, RegExp]> = [
      [`Content-Type: multipart/mixed; boundary=b\n\n${long}\n`, /boundary "b" of a multipart\/mixed part never occurs/],
      [`Content-Type: multipart/mixed\n\n--b\n\n${long}\n--b--\n`, /no boundary parameter/],
      [`Content-Type: multipart/mixed; boundary=b\n\n--b\n\n${long}\n--bogus\n--b--\n`, /starts with the boundary "b" but is no delimiter/],
      [`Content-Type: multipart/mixed; boundary=b\n\n${long}\n--b\n\nx\n--b--\n`, /in the preamble/],
      [`Content-Type: text/plain\nContent-Transfer-Encoding: x-uuencode\n\n${long}\n`, /x-uuencode is not one it re-encodes/],
    ]
    for (const [text, reason] of cases) {
      const raw = crlf(text)
      assert.equal(repairMessage(raw, ['long-lines']), undefined, text.slice(0, 60))
      const outcome = repairOutcome(raw, ['long-lines'])
      assert.ok(outcome.raw.equals(raw))
      assert.match(outcome.unrepaired[0]?.reason ?? '', reason)
    }
    // A broken multipart elsewhere does not matter when the long line is not in it.
    const elsewhere = crlf(`Content-Type: multipart/mixed; boundary=b\n\n--b\n\n${long}\n--b\nContent-Type: multipart/related; boundary=never\n\nno delimiters here\n--b--\n`)
    assert.ok(repairLongLines(elsewhere, 998).raw)
  })

  it('a multipart never closed (a message cut short): its last part runs to the end of the body and is repaired there; nothing is added', () => {
    const long = `${'r'.repeat(1200)}\n`
    // The long line in the last part, which runs to the end; and in a part before it, the last part untouched.
    for (const [text, changed] of [
      [`Subject: cut\nContent-Type: multipart/mixed; boundary=b\n\npreamble\n--b\nContent-Type: text/plain\n\nfirst\n--b\n\n${long}`, 1],
      [`Subject: cut\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\n${long}--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAAA\n`, 0],
    ] as const) {
      const raw = crlf(text)
      const out = repairMessage(raw, ['long-lines'])!
      assert.ok(out, text.slice(0, 60))
      assert.ok(longest(out.raw) <= ENCODED_LINE)
      assert.doesNotMatch(latin(out.raw), /--b--/, 'no close delimiter is added')
      const before = latin(raw).split(/\r\n--b\r\n/)
      const after = latin(out.raw).split(/\r\n--b\r\n/)
      assert.equal(after.length, before.length, 'the same delimiters')
      after.forEach((piece, i) => {
        // The last part keeps its final line end; before a delimiter the line end belongs to the delimiter.
        const content = changed === 1 ? long.replace('\n', '\r\n') : long.trimEnd()
        if (i === changed + 1) assert.equal(latin(decoded(Buffer.from(piece, 'latin1'))), content, 'the long part decodes the same')
        else assert.equal(piece, before[i], `piece ${i} is byte-identical`)
      })
    }
    // Cut short inside a nested multipart whose outer one is closed: the inner last part ends at the outer delimiter.
    const nested = crlf(`Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\n\n${long}--o\nContent-Type: text/plain\n\nafter\n--o--\n`)
    const repaired = latin(repairLongLines(nested, 998).raw)
    assert.ok(longest(Buffer.from(repaired, 'latin1')) <= ENCODED_LINE)
    const [head, rest] = repaired.split('\r\n--i\r\n')
    const [inner, tail] = rest.split('\r\n--o\r\n')
    assert.equal(head, latin(nested).split('\r\n--i\r\n')[0])
    assert.equal(latin(decoded(Buffer.from(inner, 'latin1'))), long.trimEnd())
    assert.equal(tail, 'Content-Type: text/plain\r\n\r\nafter\r\n--o--\r\n')
  })

  it('lines exactly at the limit are left alone; one character more is repaired', () => {
    const at = crlf(`Subject: x\n\n${'a'.repeat(998)}\n`)
    assert.equal(repairMessage(at, ['long-lines']), undefined)
    assert.ok(repairLongLines(at, 998).raw!.equals(at))
    const over = crlf(`Subject: x\n\n${'a'.repeat(999)}\n`)
    assert.deepEqual(repairMessage(over, ['long-lines'])?.applied, ['long-lines'])
    // With a smaller destination limit, a part with a line of exactly that length stays as it is.
    const two = crlf(`Content-Type: multipart/mixed; boundary=b\n\n--b\n\n${'c'.repeat(200)}\n--b\n\n${'d'.repeat(201)}\n--b--\n`)
    const out = repairMessage(two, ['long-lines'], {maxLineLength: 200})!
    const [first, second] = parts(split(out.raw).body, 'b')
    assert.equal(latin(first), `\r\n${'c'.repeat(200)}`)
    assert.equal(latin(decoded(second)), 'd'.repeat(201))
  })

  it('a continuation line never starts with "-" (it could read as a boundary), in encoded and refolded text', () => {
    const content = `${'x'.repeat(75)}--b${'y'.repeat(1000)}`
    for (const cte of ['7bit', 'quoted-printable']) {
      const raw = crlf(`Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: ${cte}\n\n${content}\n--b--\n`)
      const out = repairLongLines(raw, 998).raw!
      const [part] = parts(split(out).body, 'b')
      assert.equal(latin(decoded(part)), content)
      for (const line of lines(split(part).body)) assert.ok(!line.startsWith('-'), line)
      assert.match(latin(out), /\r\n=2D-b/)
    }
  })

  it('the corpus messages with lines over 998 characters: repaired, every leaf part decoded the same', (t) => {
    const skip = corpusSkipReason()
    if (skip) return t.skip(skip)
    let repaired = 0
    for (const messages of Object.values(loadCorpus()!.folders)) {
      for (const message of messages) {
        if (longest(message.raw) <= 998) continue
        const out = repairLongLines(message.raw, 998)
        assert.ok(out.raw, `${message.name}: ${out.unrepaired}`)
        assert.ok(longest(out.raw) <= 998, message.name)
        const before = leaves(message.raw)
        const after = leaves(out.raw)
        assert.equal(after.length, before.length, message.name)
        after.forEach((leaf, i) => assert.ok(leaf.equals(before[i]), `${message.name}: part ${i + 1} decodes differently`))
        repaired++
      }
    }
    assert.ok(repaired > 0, 'the corpus has messages with long lines')
  })
})
