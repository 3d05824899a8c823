/**
 * The real-mail corpus (../shared/corpus, or $MAILFERRY_CORPUS) backed up to a Maildir and restored
 * to a server with another separator. Skipped, with a message, where the corpus is not present.
 */
import assert from 'node:assert/strict'
import {chownSync, cpSync, mkdirSync, readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {after, test} from 'node:test'

import {corpusSkipReason, loadCorpus} from '../harness/corpus.js'
import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {seed, snapshot} from '../harness/mailbox.js'
import {freshUser, runCli, tempDir} from './cli.js'

const instances: DovecotInstance[] = []
const tmp = tempDir('mailferry-backup-corpus-')
after(async () => {
  await Promise.all(instances.map((instance) => instance.stop()))
  tmp.cleanup()
})

const MiB = 1048576

test('the corpus survives IMAP -> Maildir -> IMAP byte for byte; Dovecot serves the backup; a re-run writes nothing', async (t) => {
  const reason = corpusSkipReason()
  if (reason) {
    t.skip(reason)
    return
  }
  const corpus = loadCorpus()!
  const [source, dest] = await Promise.all([startDovecot({separator: '.', name: 'bkcsrc'}), startDovecot({separator: '/', name: 'bkcdst'})])
  instances.push(source, dest)
  const user = freshUser('corpus')
  await seed(source, user, corpus.folders)
  const expected = await snapshot(source, user)
  const messages = Object.values(expected).reduce((n, list) => n + list.length, 0)
  const env = {MF_TEST_SOURCE_PW: source.password, MF_TEST_DEST_PW: dest.password}
  const dir = join(tmp.dir, 'backup')
  const backupArgs = ['backup', '--source', `imap://${user}@127.0.0.1:${source.port}`, '--source-tls', 'none', '--source-password-env', 'MF_TEST_SOURCE_PW', '--to', dir, '--json']

  const first = await runCli(backupArgs, env)
  assert.equal(first.code, 0, first.stderr)
  assert.equal(first.json.totals.copied, messages)

  // Dovecot serves a copy of the backup as a user's own Maildir.
  const served = freshUser('corpus-served')
  const home = join(source.dir, 'home', served)
  mkdirSync(home)
  cpSync(dir, join(home, 'Maildir'), {recursive: true, preserveTimestamps: true})
  const {uid, gid} = statSync(join(source.dir, 'home'))
  const chownAll = (path: string) => {
    chownSync(path, uid, gid)
    if (statSync(path).isDirectory()) for (const name of readdirSync(path)) chownAll(join(path, name))
  }
  chownAll(home)
  assert.deepEqual(await snapshot(source, served), expected, 'Dovecot serves the backup exactly as the source')

  const second = await runCli(backupArgs, env)
  assert.equal(second.code, 0, second.stderr)
  assert.equal(second.json.totals.copied, 0)

  const restored = freshUser('corpus-restored')
  const restore = await runCli(
    ['restore', '--from', dir, '--dest', `imap://${restored}@127.0.0.1:${dest.port}`, '--dest-tls', 'none', '--dest-password-env', 'MF_TEST_DEST_PW',
      '--state', join(tmp.dir, 'restore.sqlite'), '--json'],
    env,
  )
  assert.equal(restore.code, 0, restore.stderr)
  assert.equal(restore.json.totals.copied, messages)
  assert.deepEqual(await snapshot(dest, restored), expected, 'the restored account equals the source')

  const rate = (report: {totals: {bytes: number}; durationMs: number}) =>
    `${(report.totals.bytes / MiB).toFixed(1)} MiB in ${(report.durationMs / 1000).toFixed(1)} s`
  t.diagnostic(`corpus backup: ${messages} messages in ${Object.keys(expected).length} folders, ${rate(first.json)}, peak RSS ${(first.json.peakRssBytes / MiB).toFixed(0)} MiB`)
  t.diagnostic(`no-change backup re-run: ${second.json.durationMs} ms`)
  t.diagnostic(`corpus restore: ${rate(restore.json)}, peak RSS ${(restore.json.peakRssBytes / MiB).toFixed(0)} MiB`)
})
