import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {ImapFlow} from 'imapflow'

import {ConnectError, MessageRejectedError} from '../../../src/errors.js'
import {falseAnswer, isTransient, translateFolderError} from '../../../src/imap/errors.js'
import {
  MAX_MESSAGE_BYTES,
  SESSION_LIMITS,
  bodyLiteralLimit,
  canLimitPerCommand,
  limitBreach,
  noteSessionError,
  oversizedBody,
  withLiteralLimit,
} from '../../../src/imap/limits.js'
import {ConnectionPool} from '../../../src/imap/pool.js'
import type {ImapClient} from '../../../src/imap/session.js'

const MiB = 1024 * 1024
/** A client that never connects: enough to reach imapflow's parser limits. */
const offline = () => new ImapFlow({host: '127.0.0.1', port: 1, auth: {user: 'u', pass: 'p'}, logger: false, ...SESSION_LIMITS})
const imapError = (message: string, fields: Record<string, unknown>) => Object.assign(new Error(message), fields)

describe('size limits', () => {
  test('a body may be twice its listed size plus 1 MiB; unknown sizes get the overall cap', () => {
    assert.equal(bodyLiteralLimit(1000), 2000 + MiB)
    assert.equal(bodyLiteralLimit(0), MiB)
    assert.equal(bodyLiteralLimit(undefined), MAX_MESSAGE_BYTES)
    assert.equal(bodyLiteralLimit(900 * MiB), MAX_MESSAGE_BYTES)
  })

  test("this imapflow's parser takes limits per command (guards an upgrade that renames them)", async () => {
    const client = offline()
    assert.ok(canLimitPerCommand(client))
    const streamer = (client as unknown as {streamer: {maxLiteralSize: number; maxResponseSize: number; maxLineLength: number}}).streamer
    assert.deepEqual([streamer.maxLineLength, streamer.maxLiteralSize, streamer.maxResponseSize], [16 * MiB, 16 * MiB, 32 * MiB])
    const seen = await withLiteralLimit(client, 5000, async () => [streamer.maxLiteralSize, streamer.maxResponseSize])
    assert.deepEqual(seen, [5000, 5000 + 16 * MiB])
    await assert.rejects(withLiteralLimit(client, 7, async () => Promise.reject(new Error('boom'))), /boom/)
    assert.deepEqual([streamer.maxLiteralSize, streamer.maxResponseSize], [16 * MiB, 32 * MiB], 'restored, also after a failure')
  })

  test('a breach is remembered per session and named in one line; a literal breach fails only the message', () => {
    const client = offline()
    noteSessionError(client, imapError('Socket timeout', {code: 'ETIMEOUT'}), 'source a@h:1')
    assert.equal(limitBreach(client), undefined)
    noteSessionError(client, imapError('Literal size 900000000 exceeds ...', {code: 'LiteralTooLarge', literalSize: 900_000_000, maxSize: 2000 + MiB}), 'source a@h:1')
    const breach = limitBreach(client)!
    assert.equal(breach.kind, 'literal')
    assert.ok(breach.error instanceof ConnectError && !breach.error.transient)
    assert.equal(breach.error.message, 'source a@h:1: the server sent a literal of 858.3 MiB (limit 1.0 MiB); the session was closed')
    const rejected = oversizedBody(client, 1000)
    assert.ok(rejected instanceof MessageRejectedError)
    assert.equal(rejected.message, 'the server announced a body of 858.3 MiB for a message listed at 1000 bytes (RFC822.SIZE); refused above 1.0 MiB')

    const flooded = offline()
    noteSessionError(flooded, imapError('Line length ...', {code: 'LineTooLarge', lineLength: 16 * MiB + 1, maxSize: 16 * MiB}), 'source a@h:1')
    assert.equal(limitBreach(flooded)!.error.message, 'source a@h:1: the server sent a response line of more than 16 MiB without an end; the session was closed')
    assert.equal(oversizedBody(flooded, 1000), undefined, 'a line flood is not about one message')
  })

  test('the pool fails a task whose session broke a limit with that reason, and does not retry it', async () => {
    let connects = 0
    const client = {usable: true, mailbox: false, close: () => (client.usable = false), logout: async () => {}} as unknown as ImapClient
    const pool = new ConnectionPool({size: 1, connect: async () => (connects++, client), retry: {retries: 3, initialDelayMs: 1, maxDelayMs: 1}})
    const task = pool.use(async (c) => {
      noteSessionError(c, imapError('Line length ...', {code: 'LineTooLarge', lineLength: 17 * MiB, maxSize: 16 * MiB}), 'source a@h:1')
      ;(c as unknown as {usable: boolean}).usable = false
      throw imapError('Connection not available', {code: 'NoConnection'})
    })
    await assert.rejects(task, /response line of more than 16 MiB without an end/)
    assert.equal(connects, 1)
  })
})

describe('answers of false from imapflow', () => {
  test('from a dead session: a lost connection, retried; from a live one: a failure of the folder', () => {
    const dead = translateFolderError(falseAnswer({usable: false}, 'STATUS'), 'destination a@h:1', 'INBOX')
    assert.ok(dead instanceof ConnectError && isTransient(dead), dead.message)
    assert.match(dead.message, /connection lost while working on "INBOX": connection lost during STATUS/)
    const live = translateFolderError(falseAnswer({usable: true}, 'STATUS'), 'destination a@h:1', 'INBOX')
    assert.ok(!isTransient(live))
    assert.equal(live.message, 'destination a@h:1: folder "INBOX": STATUS failed')
  })
})
