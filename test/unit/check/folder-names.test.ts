import assert from 'node:assert/strict'
import {test} from 'node:test'

import {refusedFolderName} from '../../../src/check/folder-names.js'

test('a double quote is refused by Cyrus only; wildcards and control characters everywhere', () => {
  assert.match(refusedFolderName('INBOX.say "hi"', 'Cyrus IMAP') ?? '', /Cyrus/)
  assert.equal(refusedFolderName('INBOX.say "hi"', 'Dovecot'), undefined)
  assert.equal(refusedFolderName('INBOX.say "hi"', undefined), undefined)
  assert.match(refusedFolderName('Stars*', 'Dovecot') ?? '', /wildcard/)
  assert.match(refusedFolderName('100%', undefined) ?? '', /wildcard/)
  assert.match(refusedFolderName('tab\there', undefined) ?? '', /control/)
  assert.equal(refusedFolderName('Lists/Ünïcödé & more', 'Cyrus IMAP'), undefined)
})
