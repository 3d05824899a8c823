/**
 * Pipelined body reads (src/imap/read-pipeline.ts) on a real Dovecot: reads of several folders in
 * flight at once on one connection, whose messages have the same UIDs, each get their own folder's
 * bytes; a folder that does not exist fails its read only; a read after a new pass sees what arrived
 * since the connection's EXAMINE.
 */
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'

import type {EndpointConfig} from '../../src/config/schema.js'
import {ReadPipeline} from '../../src/imap/read-pipeline.js'
import {openWireConnection} from '../../src/imap/wire-login.js'
import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {seed, withClient} from '../harness/mailbox.js'
import {generateMessages, type SeedMessage} from '../harness/messages.js'
import {freshUser} from './cli.js'

let server: DovecotInstance
before(async () => {
  server = await startDovecot({separator: '/'})
})
after(async () => {
  await server?.stop()
})

const crlf = (message: SeedMessage) => message.raw.toString('latin1').replace(/\r?\n/g, '\r\n')

function pipelineFor(user: string): ReadPipeline {
  const endpoint: EndpointConfig = {host: server.host, port: server.port, tls: 'none', tlsOptions: {verify: true}, user, password: server.password}
  return new ReadPipeline(() => openWireConnection(endpoint, {label: 'source'}), (error) => assert.fail(`no connection: ${String(error)}`))
}

/**
 * Reads uids of path; the bodies of those UIDs. Every row handed on is checked against `expected`
 * when given: reads of one folder in flight together may each see the others' rows (the caller
 * takes its own UIDs), but never a row of another folder.
 */
async function read(pipeline: ReadPipeline, path: string, pass: string, uids: number[], expected?: SeedMessage[]): Promise<Map<number, string>> {
  const bodies = new Map<number, string>()
  await pipeline.read(path, pass, uids, (row) => {
    const body = row.body.toString('latin1')
    if (expected) assert.equal(body, crlf(expected[row.uid - 1]), `a row handed on for ${path} UID ${row.uid} is that message`)
    if (!uids.includes(row.uid)) return
    assert.ok(!bodies.has(row.uid), `UID ${row.uid} of ${path} handed on twice`)
    bodies.set(row.uid, body)
  })
  return bodies
}


test('reads of several folders in flight on one connection each get their own folder\'s messages', async () => {
  const user = freshUser('rp')
  const folders: Record<string, SeedMessage[]> = {}
  for (const [i, path] of ['INBOX', 'A', 'B/C', 'Ünïcödé'].entries()) folders[path] = generateMessages(12, {seed: 70 + i, meanSize: 3000})
  await seed(server, user, folders)
  const pipeline = pipelineFor(user)
  try {
    for (let round = 0; round < 3; round++) {
      // Every folder twice, interleaved, all sent before any answer: UIDs 1-12 in each folder.
      const reads = Object.keys(folders).flatMap((path) => [
        {path, uids: [1, 2, 3, 4, 5, 6]},
        {path, uids: [7, 8, 9, 10, 11, 12]},
      ])
      reads.sort((a, b) => (a.uids[0] - b.uids[0]) * 10 + a.path.localeCompare(b.path))
      const results = await Promise.all(reads.map(({path, uids}) => read(pipeline, path, '0', uids, folders[path])))
      for (const [i, {path, uids}] of reads.entries()) {
        assert.deepEqual([...results[i].keys()].sort((a, b) => a - b), uids, `round ${round}: ${path} ${uids[0]}-`)
        for (const uid of uids) assert.equal(results[i].get(uid), crlf(folders[path][uid - 1]), `round ${round}: ${path} UID ${uid}`)
      }
    }
  } finally {
    await pipeline.close()
  }
})

test('a missing folder fails its read only; a new pass sees messages added since the EXAMINE', async () => {
  const user = freshUser('rp')
  const messages = generateMessages(4, {seed: 80, meanSize: 2000})
  await seed(server, user, {INBOX: messages.slice(0, 2)})
  const pipeline = pipelineFor(user)
  try {
    const [missing, inbox] = await Promise.allSettled([read(pipeline, 'Gone', '0', [1]), read(pipeline, 'INBOX', '0', [1, 2])])
    assert.equal(missing.status, 'rejected')
    assert.equal(inbox.status, 'fulfilled')
    assert.deepEqual([...(inbox as PromiseFulfilledResult<Map<number, string>>).value.keys()], [1, 2])

    await withClient(server, user, async (client) => {
      for (const message of messages.slice(2)) await client.append('INBOX', message.raw)
    })
    // The connection still has INBOX selected from the first pass.
    assert.deepEqual([...(await read(pipeline, 'INBOX', '1', [3, 4])).keys()], [3, 4])
  } finally {
    await pipeline.close()
  }
})
