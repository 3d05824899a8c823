/**
 * Pipelined body reads and listings (src/imap/read-pipeline.ts) on a real Dovecot: reads of several
 * folders in flight at once on one connection, whose messages have the same UIDs, each get their own
 * folder's bytes; listings and statuses in flight among them each describe their own folder, as a
 * session of imapflow sees it; a folder that does not exist fails its read only; a read after a new
 * pass sees what arrived since the connection's EXAMINE.
 */
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'

import type {EndpointConfig} from '../../src/config/schema.js'
import {listFlags, listMeta, listedMeta, peekFolder} from '../../src/imap/listings.js'
import {openSession} from '../../src/imap/session.js'
import {ReadPipeline} from '../../src/imap/read-pipeline.js'
import {openWireConnection} from '../../src/imap/wire-login.js'
import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {HostileImapServer} from '../harness/hostile-imap.js'
import {appendOne, expunge, seed, setFlags, withClient} from '../harness/mailbox.js'
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
  return new ReadPipeline({connect: () => openWireConnection(endpoint, {label: 'source'}), onRefused: (error) => assert.fail(`no connection: ${String(error)}`)})
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

test('a missing folder fails its read only; a new pass sees messages added since the EXAMINE; a listing checks UIDVALIDITY', async () => {
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

    // A listing under another UIDVALIDITY than the one its caller took the folder's UIDs under fails.
    const {status} = await pipeline.list('INBOX', '1', {condstore: false, where: 'source test'})
    assert.equal(status.messages, 4)
    await assert.rejects(pipeline.list('INBOX', '1', {condstore: false, uidValidity: status.uidValidity + 1, where: 'source test'}), /UIDVALIDITY changed during the run/)
    assert.equal((await pipeline.list('INBOX', '1', {condstore: false, uidValidity: status.uidValidity, where: 'source test'})).rows.length, 4)
  } finally {
    await pipeline.close()
  }
})

test('listings and statuses in flight among reads on one connection each describe their own folder, as a session sees it', async () => {
  const user = freshUser('rp')
  const folders: Record<string, SeedMessage[]> = {}
  for (const [i, [path, count]] of ([['INBOX', 12], ['A', 5], ['B/C', 9], ['Ünïcödé', 3]] as const).entries()) {
    folders[path] = generateMessages(count, {seed: 90 + i, meanSize: 2500})
  }
  await seed(server, user, folders)
  // What imapflow's own session says of each folder: its status and every message's listing items.
  const expected = await withClient(server, user, async (client) => {
    const out: Record<string, {status: unknown; listing: unknown[]}> = {}
    for (const path of Object.keys(folders)) {
      const status = await client.status(path, {uidValidity: true, uidNext: true, messages: true, highestModseq: true})
      assert.ok(status, `${path}: STATUS answered`)
      const listing: unknown[] = []
      await client.mailboxOpen(path, {readOnly: true})
      for await (const message of client.fetch('1:*', {uid: true, flags: true, size: true, internalDate: true, headers: ['message-id']}, {uid: true})) {
        listing.push(listedMeta({uid: message.uid, flags: [...(message.flags ?? [])], size: message.size, internalDate: message.internalDate as Date, header: message.headers}))
      }
      await client.mailboxClose()
      out[path] = {status: {uidValidity: Number(status.uidValidity), uidNext: status.uidNext, messages: status.messages, highestModseq: status.highestModseq}, listing}
    }
    return out
  })
  const pipeline = pipelineFor(user)
  try {
    for (let round = 0; round < 3; round++) {
      const paths = Object.keys(folders)
      // All sent before any answer: per folder a status, a read of all messages but the last, a listing
      // and a read of the last, interleaved across folders. The rows of the bigger folders' reads come
      // while the smaller ones' listings wait for their answer, with sequence numbers those folders do
      // not have. (Reads of one folder in flight together see each other's rows: their UIDs differ here.)
      const statuses = paths.map((path) => pipeline.status(path, String(round), true))
      const allButLast = (path: string) => folders[path].slice(0, -1).map((_, i) => i + 1)
      const firstReads = paths.map((path) => read(pipeline, path, String(round), allButLast(path), folders[path]))
      const listings = paths.map((path) => pipeline.list(path, String(round), {condstore: true, where: 'source test'}))
      const lastReads = paths.map((path) => read(pipeline, path, String(round), [folders[path].length], folders[path]))
      const [status, first, listed, last] = await Promise.all([Promise.all(statuses), Promise.all(firstReads), Promise.all(listings), Promise.all(lastReads)])
      for (const [i, path] of paths.entries()) {
        const want = expected[path]
        const {permanentFlags, ...seen} = status[i]
        assert.equal(permanentFlags, undefined, `${path}: EXAMINE says nothing of PERMANENTFLAGS`)
        assert.deepEqual(seen, want.status, `round ${round}: ${path}: status`)
        assert.ok(seen.highestModseq !== undefined, `${path}: HIGHESTMODSEQ reported (CONDSTORE)`)
        const {permanentFlags: listedPermanent, ...listedStatus} = listed[i].status
        assert.equal(listedPermanent, undefined)
        assert.deepEqual(listedStatus, want.status, `round ${round}: ${path}: the listing's status`)
        const rows = listed[i].rows.map(listedMeta).sort((a, b) => a.uid - b.uid)
        assert.deepEqual(rows, want.listing, `round ${round}: ${path}: listing`)
        assert.deepEqual([...first[i].keys()], allButLast(path), `${path}: first read`)
        assert.deepEqual([...last[i].keys()], [folders[path].length], `${path}: last read`)
      }
    }
  } finally {
    await pipeline.close()
  }
})

test('flag listings since a MODSEQ, with what vanished, and listings of some UIDs are what a session lists', async () => {
  const user = freshUser('rp')
  const folders: Record<string, SeedMessage[]> = {A: generateMessages(20, {seed: 120, meanSize: 1500}), 'B/C': generateMessages(10, {seed: 121, meanSize: 1500})}
  await seed(server, user, folders)
  const endpoint: EndpointConfig = {host: server.host, port: server.port, tls: 'none', tlsOptions: {verify: true}, user, password: server.password}
  const session = await openSession(endpoint, {label: 'source'})
  try {
    const since = new Map<string, bigint>()
    for (const path of Object.keys(folders)) since.set(path, (await peekFolder(session, path, true)).highestModseq!)
    await setFlags(server, user, 'A', [2, 5, 9], ['\\Flagged', 'kw1'], 'add')
    await expunge(server, user, 'A', [3, 4, 17])
    await expunge(server, user, 'B/C', [1, 10])
    await appendOne(server, user, 'B/C', generateMessages(1, {seed: 122})[0])

    // What the session lists (listings.ts listFlags: UID FETCH ... (CHANGEDSINCE m VANISHED)).
    const want: Record<string, {changed: unknown[]; vanished: number[]; all: unknown[]; some: unknown[]}> = {}
    for (const path of Object.keys(folders)) {
      await session.mailboxOpen(path, {readOnly: true})
      const vanished: number[] = []
      const changed = await listFlags(session, {where: 'source', path}, {changedSince: since.get(path), onVanished: (uid) => vanished.push(uid)})
      const all = await listFlags(session, {where: 'source', path}, {})
      const some = await listMeta(session, {where: 'source', path}, [2, 5, 6], new Map())
      want[path] = {changed, vanished: vanished.sort((a, b) => a - b), all, some}
    }
    assert.deepEqual(want.A.vanished, [3, 4, 17], 'the session reports what vanished (QRESYNC)')

    const pipeline = pipelineFor(user)
    try {
      // All in flight at once, on the one connection.
      const paths = Object.keys(folders)
      const options = {condstore: true, where: 'source test'}
      const vanished = new Map<string, number[]>(paths.map((path) => [path, []]))
      const [changed, all, some] = await Promise.all([
        Promise.all(paths.map((path) => pipeline.listFlags(path, '1', {...options, changedSince: since.get(path), onVanished: (uid) => vanished.get(path)!.push(uid)}))),
        Promise.all(paths.map((path) => pipeline.listFlags(path, '1', options))),
        Promise.all(paths.map((path) => pipeline.list(path, '1', {...options, uids: '2,5:6'}))),
      ])
      const flagsOf = (rows: Array<{uid: number; flags?: string[]}> | undefined) => rows!.map((row) => ({uid: row.uid, flags: row.flags ?? []})).sort((a, b) => a.uid - b.uid)
      for (const [i, path] of paths.entries()) {
        assert.deepEqual(flagsOf(changed[i]), flagsOf(want[path].changed as never), `${path}: changed since`)
        assert.deepEqual(vanished.get(path)!.sort((a, b) => a - b), want[path].vanished, `${path}: vanished`)
        assert.deepEqual(flagsOf(all[i]), flagsOf(want[path].all as never), `${path}: every message`)
        assert.deepEqual(some[i].rows.map(listedMeta).sort((a, b) => a.uid - b.uid), want[path].some, `${path}: some UIDs`)
      }
    } finally {
      await pipeline.close()
    }
  } finally {
    await session.logout()
  }
})

test('a listing that goes on past the folder\'s EXISTS is cut: it fails with the reason and the connection is closed', async () => {
  const seeded = generateMessages(3, {seed: 99, meanSize: 1500}).map((message, i) => ({...message, uid: i + 1}))
  const hostile = new HostileImapServer(seeded, {endlessListingBytes: 200_000_000})
  await hostile.start()
  const endpoint: EndpointConfig = {host: '127.0.0.1', port: hostile.port, tls: 'none', tlsOptions: {verify: true}, user: 'mallory', password: 'x'}
  const pipeline = new ReadPipeline({connect: () => openWireConnection(endpoint, {label: 'source'}), onRefused: (error) => assert.fail(`no connection: ${String(error)}`)})
  try {
    await assert.rejects(
      pipeline.list('INBOX', '0', {condstore: false, where: 'source test'}),
      /^FolderError: source test: folder "INBOX": the server listed more messages than the folder holds \(3\); the session was closed$/,
    )
    assert.ok(hostile.floodBytes < 100_000_000, `the client read on for ${hostile.floodBytes} bytes`)
  } finally {
    await pipeline.close()
    await hostile.stop()
  }
})

test('STATUS of several folders in flight on one connection: each answer is its own folder\'s; none of the folder the connection has selected', async () => {
  const user = freshUser('rp')
  const folders: Record<string, SeedMessage[]> = {INBOX: generateMessages(4, {seed: 101}), A: generateMessages(2, {seed: 102}), 'B/C': generateMessages(7, {seed: 103}), 'Ünïcödé': generateMessages(1, {seed: 104})}
  await seed(server, user, folders)
  const expected = await withClient(server, user, async (client) => {
    const out: Record<string, unknown> = {}
    for (const path of Object.keys(folders)) {
      const status = await client.status(path, {uidValidity: true, uidNext: true, messages: true, highestModseq: true})
      assert.ok(status, `${path}: STATUS answered`)
      out[path] = {uidValidity: Number(status.uidValidity), uidNext: status.uidNext, messages: status.messages, highestModseq: status.highestModseq}
    }
    return out
  })
  const pipeline = pipelineFor(user)
  try {
    const paths = Object.keys(folders)
    const peeks = await Promise.all([...paths, ...paths].map((path) => pipeline.peek(path, true)))
    for (const [i, peeked] of peeks.entries()) assert.deepEqual(peeked, expected[paths[i % paths.length]], paths[i % paths.length])
    // Dovecot would answer from the connection's last view of the folder it has selected: that one is left to a session.
    await read(pipeline, 'B/C', '0', [1], folders['B/C'])
    assert.equal(await pipeline.peek('B/C', true), undefined)
    assert.deepEqual(await pipeline.peek('A', true), expected.A)
  } finally {
    await pipeline.close()
  }
})
