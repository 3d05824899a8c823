import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {
  bareLfCount,
  flagsFromInfo,
  headerBlock,
  infoWithFlags,
  newBaseName,
  safeHostName,
  sizeField,
  splitFileName,
  toCrlf,
  virtualSize,
} from '../../../../src/stores/maildir/filename.js'
import {KeywordTable} from '../../../../src/stores/maildir/keywords.js'

/** What Dovecot 2.3 wrote for \Seen \Answered \Flagged \Draft \Deleted $Forwarded NonJunk $Label1. */
const DOVECOT_NAME = '1795640004.M521541P22030.vm,S=40,W=45:2,DFRSTabc'
const DOVECOT_KEYWORDS = '0 $Forwarded\n1 NonJunk\n2 $Label1\n3 Project-X\n'

describe('file names', () => {
  test('split at the last colon', () => {
    assert.deepEqual(splitFileName(DOVECOT_NAME), {base: '1795640004.M521541P22030.vm,S=40,W=45', info: '2,DFRSTabc'})
    assert.deepEqual(splitFileName('123.new-delivery'), {base: '123.new-delivery', info: null})
  })

  test('S= and W= sizes', () => {
    const {base} = splitFileName(DOVECOT_NAME)
    assert.equal(sizeField(base, 'S'), 40)
    assert.equal(sizeField(base, 'W'), 45)
    assert.equal(sizeField('123.host', 'S'), undefined)
    assert.equal(sizeField('123.host,S=12x', 'S'), undefined, 'malformed')
    assert.equal(sizeField('123.host,W=7,S=9', 'S'), 9, 'any order')
  })

  test('new base names: unique, with sizes, and nothing that breaks the name', () => {
    const time = new Date('2024-05-06T07:08:09.123Z')
    const name = newBaseName({time, sequence: 7, pid: 4242, host: 'mail.example.org', size: 100, vsize: 104})
    assert.equal(name, '1714979289.M123000P4242Q7.mail.example.org,S=100,W=104')
    assert.equal(safeHostName('a/b:c,d e'), 'a\\057b\\072c\\054d_e')
    assert.equal(safeHostName(''), 'localhost')
  })
})

describe('flags in the info', () => {
  const keywords = KeywordTable.parse(DOVECOT_KEYWORDS)
  const at = (index: number) => keywords.nameAt(index)

  test("reads Dovecot's letters", () => {
    assert.deepEqual(
      flagsFromInfo('2,DFRSTabc', at).sort(),
      ['$Forwarded', '$Label1', 'NonJunk', '\\Answered', '\\Deleted', '\\Draft', '\\Flagged', '\\Seen'].sort(),
    )
    assert.deepEqual(flagsFromInfo('2,d', at), ['Project-X'])
    assert.deepEqual(flagsFromInfo(null, at), [], 'a file in new/ has no flags')
    assert.deepEqual(flagsFromInfo('2,', at), [])
    assert.deepEqual(flagsFromInfo('2,PSz', at), ['\\Seen'], 'P (passed) is ignored, as Dovecot does; z has no keyword')
    assert.deepEqual(flagsFromInfo('1,S', at), [], 'experimental info is not flags')
    assert.deepEqual(flagsFromInfo('2,S,X', at), ['\\Seen'], 'a second flag set is not read')
  })

  test("writes Dovecot's letters, sorted by ASCII code", () => {
    const table = KeywordTable.parse(DOVECOT_KEYWORDS)
    const letterOf = (k: string) => table.assign(k)
    const flags = ['\\Seen', '\\Answered', '\\Flagged', '\\Draft', '\\Deleted', '$Forwarded', 'NonJunk', '$Label1']
    assert.deepEqual(infoWithFlags(null, flags, letterOf), {info: '2,DFRSTabc', dropped: []})
    assert.deepEqual(infoWithFlags(null, [], letterOf), {info: '2,', dropped: []})
    assert.deepEqual(infoWithFlags(null, ['\\Recent', '\\seen'], letterOf), {info: '2,S', dropped: []}, '\\Recent is not stored; system flags in any case')
    assert.deepEqual(infoWithFlags(null, ['New-Keyword'], letterOf), {info: '2,e', dropped: []}, 'the first free letter')
  })

  test('keeps letters it does not manage and a second flag set', () => {
    const letterOf = (k: string) => KeywordTable.parse(DOVECOT_KEYWORDS).letterOf(k)
    assert.equal(infoWithFlags('2,PRSa', ['\\Flagged'], letterOf).info, '2,FP')
    assert.equal(infoWithFlags('2,S,extra', ['\\Seen', '\\Flagged'], letterOf).info, '2,FS,extra')
  })

  test('round trip through a name', () => {
    const table = new KeywordTable()
    const flags = ['\\Seen', 'Project-X', '$MDNSent', '\\Draft']
    const {info} = infoWithFlags(null, flags, (k) => table.assign(k))
    assert.deepEqual(flagsFromInfo(info, (i) => table.nameAt(i)).sort(), [...flags].sort())
  })

  test('keywords beyond the 26 letters are reported as dropped', () => {
    const table = new KeywordTable()
    const many = Array.from({length: 28}, (_, i) => `kw${i}`)
    const {info, dropped} = infoWithFlags(null, many, (k) => table.assign(k))
    assert.equal(info, '2,abcdefghijklmnopqrstuvwxyz')
    assert.deepEqual(dropped, ['kw26', 'kw27'])
  })
})

describe('bytes', () => {
  test('bare LFs become CRLF; CRLF and lone CR are kept', () => {
    assert.equal(toCrlf(Buffer.from('a\nb\r\nc\rd\n')).toString(), 'a\r\nb\r\nc\rd\r\n')
    assert.equal(toCrlf(Buffer.from('\n\n')).toString(), '\r\n\r\n')
    const crlf = Buffer.from('x\r\ny\r\n')
    assert.equal(toCrlf(crlf), crlf, 'no copy when nothing changes')
    assert.equal(bareLfCount(Buffer.from('\nx'), 0x0d), 0, 'the byte before the chunk counts')
  })

  test('virtual size counts every bare LF twice', () => {
    assert.equal(virtualSize(Buffer.from('From: a@b\nSubject: lf\n\nbody\n')), 32, 'Dovecot wrote W=32 for this S=28 file')
    assert.equal(virtualSize(Buffer.from('a\r\n')), 3)
  })

  test('header block as IMAP BODY[HEADER]', () => {
    assert.equal(headerBlock(Buffer.from('A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore'), true)?.toString(), 'A: 1\r\nB: 2\r\n\r\n')
    assert.equal(headerBlock(Buffer.from('A: 1\r\n'), true)?.toString(), 'A: 1\r\n', 'no empty line: everything')
    assert.equal(headerBlock(Buffer.from('A: 1\r\n'), false), undefined, 'more bytes needed')
    assert.equal(headerBlock(Buffer.from('\r\nbody'), true)?.toString(), '\r\n', 'empty header')
  })
})
