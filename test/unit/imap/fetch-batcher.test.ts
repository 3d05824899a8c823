/**
 * FetchBatcher's use of a pipelined read (read-pipeline.ts): what it hands on with the listed size is
 * taken; a row of another size, or a UID the answer lacks, is left to the sessions' read.
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {FetchBatcher} from '../../../src/imap/fetch-batcher.js'

const body = (size: number) => Buffer.alloc(size, 'x')

test('a pipelined read settles the rows of the listed size; anything else goes to a session', async () => {
  let pipelinedCalls = 0
  const batcher = new FetchBatcher({
    workers: 1,
    // The session path fails here (a fake has no server to read): what went there is rejected.
    inFolder: async () => {
      throw new Error('read on a session')
    },
    sizeOf: () => undefined,
    pipelined: (path, uids, onRow) => {
      pipelinedCalls++
      assert.equal(path, 'INBOX')
      assert.deepEqual(uids, [1, 2, 3])
      onRow({uid: 1, body: body(100)}) // as listed
      onRow({uid: 2, body: body(99)}) // not as listed: another message's bytes, say
      onRow({uid: 9, body: body(100)}) // not asked for
      return Promise.resolve() // UID 3 missing from the answer
    },
  })
  const results = await Promise.allSettled([batcher.fetch('INBOX', 1, 100), batcher.fetch('INBOX', 2, 100), batcher.fetch('INBOX', 3, 100)])
  assert.equal(pipelinedCalls, 1)
  assert.equal(results[0].status, 'fulfilled')
  assert.equal((results[0] as PromiseFulfilledResult<{raw: Buffer} | null>).value?.raw.length, 100)
  for (const result of results.slice(1)) {
    assert.equal(result.status, 'rejected', 'left to the session read')
    assert.match(String((result as PromiseRejectedResult).reason), /read on a session/)
  }
})

test('a pipelined read that declines or fails leaves the whole batch to a session', async () => {
  for (const pipelined of [() => undefined, () => Promise.reject(new Error('connection lost'))]) {
    let sessions = 0
    const batcher = new FetchBatcher({
      workers: 1,
      inFolder: async () => {
        sessions++
        throw new Error('read on a session')
      },
      pipelined,
    })
    const results = await Promise.allSettled([batcher.fetch('A', 1, 10), batcher.fetch('A', 2, 10)])
    assert.equal(sessions, 1)
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected'])
  }
})
