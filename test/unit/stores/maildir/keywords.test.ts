import assert from 'node:assert/strict'
import {test} from 'node:test'

import {KeywordTable, MAX_KEYWORDS} from '../../../../src/stores/maildir/keywords.js'

test("parses Dovecot's dovecot-keywords and formats it back the same", () => {
  const text = '0 $Forwarded\n1 NonJunk\n2 $Label1\n3 Project-X\n'
  const table = KeywordTable.parse(text)
  assert.deepEqual(table.names(), ['$Forwarded', 'NonJunk', '$Label1', 'Project-X'])
  assert.equal(table.format(), text)
  assert.equal(table.letterOf('nonjunk'), 'b', 'looked up without regard to case, as Dovecot does')
  assert.equal(table.nameAt(3), 'Project-X')
  assert.equal(table.letterOf('$Junk'), undefined)
})

test('gaps, junk lines and out-of-range indexes', () => {
  const table = KeywordTable.parse('garbage\n5 Five\n26 TooFar\n-1 Negative\n7 \n0 Zero\r\n')
  assert.deepEqual(table.names(), ['Zero', 'Five'])
  assert.equal(table.letterOf('Five'), 'f')
  assert.equal(table.assign('New'), 'b', 'the first free index')
  assert.equal(table.format(), '0 Zero\n1 New\n5 Five\n')
})

test('at most 26 keywords', () => {
  const table = new KeywordTable()
  for (let i = 0; i < MAX_KEYWORDS; i++) assert.equal(table.assign(`k${i}`), String.fromCharCode(97 + i))
  assert.equal(table.full, true)
  assert.equal(table.assign('one-more'), undefined)
  assert.equal(table.assign('K3'), 'd', 'known keywords still have their letter')
})
