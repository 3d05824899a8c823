/**
 * The real-mail corpus (../shared/corpus, or $MAILFERRY_CORPUS) copied between two Dovecots with
 * different separators. Skipped, with a message, where the corpus is not present.
 */
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {after, test} from 'node:test'

import {corpusSkipReason, loadCorpus} from '../harness/corpus.js'
import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {folderTree, seed, snapshot} from '../harness/mailbox.js'
import {freshUser, runCli, syncArgs, tempDir} from './cli.js'

const instances: DovecotInstance[] = []
const tmp = tempDir()
after(async () => {
  await Promise.all(instances.map((instance) => instance.stop()))
  tmp.cleanup()
})

test('the real-mail corpus arrives byte for byte with flags and dates; re-runs append nothing', async (t) => {
  const reason = corpusSkipReason()
  if (reason) {
    t.skip(reason)
    return
  }
  const corpus = loadCorpus()!
  const [source, dest] = await Promise.all([startDovecot({separator: '.'}), startDovecot({separator: '/'})])
  instances.push(source, dest)
  const users = {source: freshUser('corpus'), dest: freshUser('corpus')}
  await seed(source, users.source, corpus.folders)
  const expected = await snapshot(source, users.source)
  const messages = Object.values(expected).reduce((n, list) => n + list.length, 0)

  const {args, env} = syncArgs(source, dest, users, join(tmp.dir, 'corpus.sqlite'))
  const first = await runCli([...args, '--json'], env)
  assert.equal(first.code, 0, first.stderr)
  assert.equal(first.json.totals.copied, messages)
  assert.deepEqual(await snapshot(dest, users.dest), expected)
  assert.deepEqual(await snapshot(source, users.source), expected, 'the source is untouched')
  assert.deepEqual(await folderTree(dest, users.dest), await folderTree(source, users.source))
  t.diagnostic(
    `corpus: ${messages} messages, ${(first.json.totals.bytes / 1048576).toFixed(1)} MiB in ` +
      `${(first.json.durationMs / 1000).toFixed(1)} s, peak RSS ${(first.json.peakRssBytes / 1048576).toFixed(0)} MiB`,
  )

  const second = await runCli([...args, '--json'], env)
  assert.equal(second.code, 0, second.stderr)
  assert.equal(second.json.totals.copied, 0)
  t.diagnostic(`no-change re-run: ${second.json.durationMs} ms`)

  const stateless = await runCli([...syncArgs(source, dest, users, join(tmp.dir, 'fresh.sqlite')).args, '--json'], env)
  assert.equal(stateless.code, 0, stateless.stderr)
  assert.equal(stateless.json.totals.copied, 0)
  assert.equal(stateless.json.totals.recognised, messages)
  assert.deepEqual(await snapshot(dest, users.dest), expected)
})
