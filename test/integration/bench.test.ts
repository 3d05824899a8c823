/**
 * `scripts/bench.ts` end to end at a tiny size (the real figures come from `npm run bench`, not from tests).
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {after, test} from 'node:test'

import {tempDir} from './cli.js'

const tmp = tempDir('mailferry-bench-test-')
after(() => tmp.cleanup())

test('bench --messages 50 runs the limit, (a)-(d) and verify, and writes latest.json, latest.md and latest.svg', () => {
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
  assert.deepEqual(Object.keys(result.runs).filter((key) => !peers.includes(key)), ['limit', 'firstSync', 'rawAppend', 'noChange', 'noChangeNoCondstore', 'incremental', 'verify', 'verifyDeep'])
  for (const peer of peers) assert.equal(result.runs[peer] === undefined, result.skipped.includes(`${peer} (not installed)`), peer)
  assert.equal(result.runs.limit.messages, 50)
  assert.ok(result.firstSyncVsLimit > 0)
  if (result.runs.mbsync) assert.equal(result.runs.mbsync.messages, 50)
  assert.equal(result.runs.incremental.messages, 1)
  assert.ok(result.runs.firstSync.peakRssReportedBytes > 0)
  assert.ok(result.firstSyncVsRawAppend > 0)
})
