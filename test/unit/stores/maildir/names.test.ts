import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {
  decodeModifiedUtf7,
  encodeModifiedUtf7,
  escapeSegment,
  folderDirName,
  folderFromDirName,
  FolderNameError,
  unescapeSegment,
} from '../../../../src/stores/maildir/names.js'

describe('modified UTF-7', () => {
  test('encodes as Dovecot 2.3 names Maildir++ directories', () => {
    // Both observed on disk under a Dovecot 2.3.19 with the default Maildir++ layout.
    assert.equal(encodeModifiedUtf7('Entwürfe'), 'Entw&APw-rfe')
    assert.equal(encodeModifiedUtf7('a&b list'), 'a&-b list')
    // RFC 3501 5.1.3 example and a character outside the BMP (a surrogate pair).
    assert.equal(encodeModifiedUtf7('~peter/mail/台北/日本語'), '~peter/mail/&U,BTFw-/&ZeVnLIqe-')
    assert.equal(encodeModifiedUtf7('📧 Post'), '&2D3c5w- Post')
  })

  test('decodes what it encodes', () => {
    for (const name of ['Entwürfe', 'a&b list', '&&&', 'Ünïcödé', '日本語 & 台北', '📧', 'plain', '', 'tab\there']) {
      assert.equal(decodeModifiedUtf7(encodeModifiedUtf7(name)), name)
    }
  })

  test('refuses text that is not modified UTF-7', () => {
    for (const bad of ['a&b', '&U,BTFw', '&!!-', 'ü', '&A-']) assert.throws(() => decodeModifiedUtf7(bad), FolderNameError, bad)
  })
})

describe('escapes', () => {
  test("'/', control characters, a leading '~' and a '\\' before two hex digits are escaped", () => {
    assert.equal(escapeSegment('a/b', true), 'a\\2fb')
    assert.equal(escapeSegment('~home', true), '\\7ehome')
    assert.equal(escapeSegment('~home', false), '~home', 'only at the start of the name')
    assert.equal(escapeSegment('x~y', true), 'x~y')
    assert.equal(escapeSegment('back\\slash', true), 'back\\slash', 'a \\ Dovecot keeps as it is stays')
    assert.equal(escapeSegment('lit\\2f', true), 'lit\\5c2f')
    assert.equal(escapeSegment('tab\there', true), 'tab\\09here')
  })

  test('unescape is the inverse, and leaves "\\2e" alone (it would add a level)', () => {
    for (const segment of ['a/b', '~home', 'back\\slash', 'lit\\2f', 'tab\there', 'x\\y\\zz']) {
      assert.equal(unescapeSegment(escapeSegment(segment, true)), segment)
    }
    assert.equal(unescapeSegment('a\\2eb'), 'a\\2eb')
  })
})

describe('folder <-> directory name', () => {
  test('INBOX is the root, whatever its case', () => {
    assert.equal(folderDirName('INBOX'), '')
    assert.equal(folderDirName('inbox'), '')
  })

  test('levels are joined with "." under a leading "."', () => {
    assert.equal(folderDirName('Entwürfe'), '.Entw&APw-rfe')
    assert.equal(folderDirName('Lists.a&b list'), '.Lists.a&-b list')
    assert.equal(folderDirName('Work.Projects 2024.Q3 & Q4'), '.Work.Projects 2024.Q3 &- Q4')
    assert.equal(folderDirName('Ablage/2024'), '.Ablage\\2f2024')
    assert.equal(folderDirName('INBOX.Sub'), '.INBOX.Sub')
  })

  test('round trip', () => {
    for (const path of ['Entwürfe', 'Lists.a&b list', 'Ablage/2024.Ä/Ö', '~x.~y', 'back\\slash', 'Spam', '日本語.サブ']) {
      assert.equal(folderFromDirName(folderDirName(path)), path)
    }
  })

  test('names that cannot be stored', () => {
    assert.throws(() => folderDirName('a..b'), FolderNameError)
    assert.throws(() => folderDirName('.a'), FolderNameError)
    assert.throws(() => folderDirName('a.'), FolderNameError)
    assert.throws(() => folderDirName('x'.repeat(300)), /too long/)
    // The limit counts bytes of the encoded name: 90 x ü -> 243 bytes, 100 x ü -> 270.
    assert.doesNotThrow(() => folderDirName('ü'.repeat(90)))
    assert.throws(() => folderDirName('ü'.repeat(100)), /too long/)
  })

  test('root entries that are not folders', () => {
    for (const name of ['.', '..', 'cur', 'new', 'tmp', 'dovecot-uidlist', 'mailferry-state.sqlite', '..a', '.a..b', '.a.']) {
      assert.equal(folderFromDirName(name), undefined, name)
    }
  })

  test('a name that is not valid modified UTF-7 is taken as it is', () => {
    assert.equal(folderFromDirName('.Caf\u00e9'), 'Caf\u00e9')
    assert.equal(folderFromDirName('.a&b'), 'a&b')
  })
})

describe('subscriptions file', () => {
  test("reads and writes what Dovecot 2.3 wrote for three subscribed folders", async () => {
    const {formatSubscriptions, parseSubscriptions} = await import('../../../../src/stores/maildir/subscriptions.js')
    const dovecot = 'V\t2\n\nEntw&APw-rfe\nLists\ta&-b list\nback\\slash\n'
    assert.deepEqual(parseSubscriptions(dovecot), ['Entwürfe', 'Lists.a&b list', 'back\\slash'])
    assert.equal(formatSubscriptions(['Entwürfe', 'Lists.a&b list', 'back\\slash']), dovecot)
    assert.deepEqual(parseSubscriptions('Old.Style\nOther\n'), ['Old.Style', 'Other'], 'version 1: the delimiter itself')
    assert.deepEqual(parseSubscriptions(formatSubscriptions(['a/b.~c', 'Ablage/2024'])), ['a/b.~c', 'Ablage/2024'])
    assert.deepEqual(parseSubscriptions(''), [])
  })
})
