/**
 * TLS on both sides against Dovecot with a self-signed CA: implicit TLS (imaps) on the source,
 * STARTTLS on the destination, configured through YAML with caFile. Without the CA, verification
 * fails with a one-line error and exit 4.
 */
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {seed, snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {freshUser, runCli, tempDir} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()

before(async () => {
  ;[source, dest] = await Promise.all([startDovecot({separator: '/'}), startDovecot({separator: '.'})])
})
after(async () => {
  await Promise.all([source?.stop(), dest?.stop()])
  tmp.cleanup()
})

function writeConfig(users: {source: string; dest: string}, withCa: boolean): string {
  const ca = (instance: DovecotInstance) => (withCa ? `\n  caFile: ${instance.caFile}` : '')
  const file = join(tmp.dir, `${users.source}-${withCa ? 'ca' : 'noca'}.yaml`)
  writeFileSync(
    file,
    `source:\n  url: imaps://${users.source}@127.0.0.1:${source.tlsPort}\n  passwordEnv: MF_TLS_SOURCE_PW${ca(source)}\n` +
      `dest:\n  url: imap://${users.dest}@127.0.0.1:${dest.port}\n  passwordEnv: MF_TLS_DEST_PW${ca(dest)}\n` +
      `state: ${join(tmp.dir, `${users.source}.sqlite`)}\n`,
    {mode: 0o600},
  )
  return file
}

const env = () => ({MF_TLS_SOURCE_PW: source.password, MF_TLS_DEST_PW: dest.password})

test('implicit TLS and STARTTLS with the CA given as caFile', async () => {
  const users = {source: freshUser('tls'), dest: freshUser('tls')}
  await seed(source, users.source, {INBOX: generateMessages(5, {seed: 2}), Sent: generateMessages(3, {seed: 3})})
  const run = await runCli(['sync', '--config', writeConfig(users, true), '--json'], env())
  assert.equal(run.code, 0, run.stderr)
  assert.equal(run.json.totals.copied, 8)
  assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
})

test('an unknown CA fails verification: one line, exit 4, nothing copied', async () => {
  const users = {source: freshUser('tls'), dest: freshUser('tls')}
  await seed(source, users.source, {INBOX: generateMessages(2, {seed: 4})})
  const run = await runCli(['sync', '--config', writeConfig(users, false)], env())
  assert.equal(run.code, 4, run.stderr)
  assert.match(run.stderr, /^Error: (source|destination) tls-[^\n]*TLS failed: [^\n]+\n/)
  assert.doesNotMatch(run.stderr, /\n\s+at /)
  assert.equal((await snapshot(dest, users.dest)).INBOX?.length ?? 0, 0)
})
