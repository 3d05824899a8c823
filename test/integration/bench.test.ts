/**
 * `scripts/bench.ts` end to end at a tiny size (the real figures come from `npm run bench`, not from tests).
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {after, test} from 'node:test'

import {connect, createServer} from 'node:net'

import {DelayLine} from '../../scripts/bench/delay-line.js'
import {tempDir} from './cli.js'

const tmp = tempDir('mailferry-bench-test-')
after(() => tmp.cleanup())

test('bench --messages 50 runs the limit, (a)-(d), the re-runs and verify, and writes latest.json, latest.md and latest.svg', () => {
  const script = fileURLToPath(new URL('../../scripts/bench.ts', import.meta.url))
  const args = ['--messages', '50', '--large-mb', 'none', '--repeat', '1', '--concurrency', '4', '--out', tmp.dir]
  const run = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], {encoding: 'utf8'})
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`)
  assert.match(run.stdout, /\| \(a\) mailferry, first full sync \| 50 \|/)
  assert.ok(existsSync(join(tmp.dir, 'latest.md')))
  assert.match(readFileSync(join(tmp.dir, 'latest.svg'), 'utf8'), /^<svg [^>]*>[\s\S]*mailferry[\s\S]*<\/svg>\n$/)
  const result = JSON.parse(readFileSync(join(tmp.dir, 'latest.json'), 'utf8'))
  assert.equal(result.corpus.messages, 50)
  // (e) mbsync and imapsync are timed only where they are installed, and the report says which were not.
  const peers = ['mbsync', 'imapsync']
  assert.deepEqual(Object.keys(result.runs).filter((key) => !peers.includes(key)), ['limit', 'firstSync', 'oneConnection', 'rawAppend', 'noChange', 'noChangeNoCondstore', 'stateless', 'incremental', 'verify', 'verifyDeep'])
  for (const peer of peers) assert.equal(result.runs[peer] === undefined, result.skipped.includes(`${peer} (not installed)`), peer)
  assert.equal(result.runs.limit.messages, 50)
  assert.ok(result.firstSyncVsLimit > 0)
  if (result.runs.mbsync) assert.equal(result.runs.mbsync.messages, 50)
  assert.equal(result.runs.incremental.messages, 1)
  assert.ok(result.runs.firstSync.peakRssReportedBytes > 0)
  assert.ok(result.firstSyncVsRawAppend > 0)
})

test('the delay line delays each direction by half the round trip and keeps every byte in order', async () => {
  // An echo server behind a 2 x 40 ms delay line: a line comes back no sooner than 80 ms later, and
  // 2 MB written in small pieces come back whole and in order.
  const echo = createServer((socket) => socket.pipe(socket))
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve))
  const line = new DelayLine((echo.address() as {port: number}).port, 40)
  const port = await line.start()
  try {
    const socket = connect({host: '127.0.0.1', port})
    await new Promise((resolve) => socket.once('connect', resolve))
    const sent = Buffer.from(Array.from({length: 2_000_000}, (_, i) => i % 251))
    const received: Buffer[] = []
    let length = 0
    const started = performance.now()
    let firstAt = 0
    const done = new Promise<void>((resolve) =>
      socket.on('data', (chunk: Buffer) => {
        firstAt ||= performance.now() - started
        received.push(chunk)
        if ((length += chunk.length) >= sent.length) resolve()
      }),
    )
    for (let i = 0; i < sent.length; i += 1000) socket.write(sent.subarray(i, i + 1000))
    await done
    socket.destroy()
    assert.ok(firstAt >= 78, `first bytes back after ${firstAt.toFixed(1)} ms, expected at least 80`)
    assert.ok(Buffer.concat(received).equals(sent), 'every byte, in order')
  } finally {
    await line.stop()
    await new Promise((resolve) => echo.close(resolve))
  }
})
