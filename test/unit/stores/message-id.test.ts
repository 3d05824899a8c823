import assert from 'node:assert/strict'
import {test} from 'node:test'

import {parseMessageId} from '../../../src/stores/message-id.js'

test('parses, unfolds and trims the Message-ID header', () => {
  assert.equal(parseMessageId('Subject: x\r\nMessage-ID: <a@b>\r\n\r\n'), '<a@b>')
  assert.equal(parseMessageId('message-id:\r\n   <folded@b>  \r\n\r\n'), '<folded@b>')
  assert.equal(parseMessageId('Message-Id: <lf@b>\n\n'), '<lf@b>')
})

test('absent or empty Message-ID is undefined, and the body is not searched', () => {
  assert.equal(parseMessageId('Subject: x\r\n\r\nMessage-ID: <in-body@b>\r\n'), undefined)
  assert.equal(parseMessageId('Message-ID:   \r\n\r\n'), undefined)
})

test('8-bit bytes are kept one to one', () => {
  const raw = Buffer.concat([Buffer.from('Message-ID: <caf'), Buffer.from([0xe9]), Buffer.from('@x>\r\n\r\n')])
  assert.equal(parseMessageId(raw), '<caf\u00e9@x>')
})
