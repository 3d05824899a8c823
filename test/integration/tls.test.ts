/**
 * TLS on both sides against Dovecot with a self-signed CA: implicit TLS (imaps) on the source,
 * STARTTLS on the destination, configured through YAML with caFile. Without the CA, verification
 * fails with a one-line error and exit 4.
 */
import assert from 'node:assert/strict'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {createServer, type AddressInfo} from 'node:net'
import {dirname, join} from 'node:path'
import {createServer as createTlsServer} from 'node:tls'
import {test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {seed, snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {freshUser, runCli, serversForFile, tempDir} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()

serversForFile(() => Promise.all([startDovecot({separator: '/'}), startDovecot({separator: '.'})]), (started) => ([source, dest] = started), tmp)

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

test('insecure: true connects without the CA, and says that verification is off', async () => {
  const users = {source: freshUser('tls'), dest: freshUser('tls')}
  await seed(source, users.source, {INBOX: generateMessages(2, {seed: 5})})
  const file = join(tmp.dir, `${users.source}-insecure.yaml`)
  writeFileSync(
    file,
    `source:\n  url: imaps://${users.source}@127.0.0.1:${source.tlsPort}\n  passwordEnv: MF_TLS_SOURCE_PW\n  insecure: true\n` +
      `dest:\n  url: imap://${users.dest}@127.0.0.1:${dest.port}\n  passwordEnv: MF_TLS_DEST_PW\n  caFile: ${dest.caFile}\n  minTls: "1.3"\n` +
      `state: ${join(tmp.dir, `${users.source}.sqlite`)}\n`,
    {mode: 0o600},
  )
  const run = await runCli(['sync', '--config', file, '--json'], env())
  assert.equal(run.code, 0, run.stderr)
  assert.equal(run.json.totals.copied, 2)
  assert.ok(run.json.warnings.some((w: string) => /TLS certificate verification is off for source \(insecure: true\)/.test(w)), run.json.warnings.join('\n'))
})

test('STARTTLS is required, never skipped: a server that does not offer it gets no login, exit 4', async () => {
  // A bare IMAP greeting without STARTTLS; it records what the client sends.
  const received: string[] = []
  const server = createServer((socket) => {
    socket.write('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN] plaintext only\r\n')
    socket.on('data', (chunk) => {
      received.push(chunk.toString())
      for (const line of chunk.toString().split('\r\n').filter(Boolean)) {
        const tag = line.split(' ')[0]
        if (/ CAPABILITY/i.test(line)) socket.write(`* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN\r\n${tag} OK done\r\n`)
        else socket.write(`${tag} BAD not here\r\n`)
      }
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  try {
    const users = {source: freshUser('tls'), dest: freshUser('tls')}
    const run = await runCli(
      ['sync', '--source', `imap://${users.source}@127.0.0.1:${port}`, '--source-password-env', 'MF_TLS_SOURCE_PW',
        '--dest', `imap://${users.dest}@127.0.0.1:${dest.port}`, '--dest-password-env', 'MF_TLS_DEST_PW', '--dest-tls', 'none',
        '--state', join(tmp.dir, `${users.source}.sqlite`)],
      env(),
    )
    assert.equal(run.code, 4, run.stderr)
    assert.match(run.stderr, /^Error: source [^\n]*STARTTLS[^\n]*\n/i)
    const sent = received.join('')
    assert.doesNotMatch(sent, /LOGIN|AUTHENTICATE/i, 'no credentials over plaintext')
    assert.ok(!sent.includes(source.password))
  } finally {
    server.close()
  }
})

test('implicit TLS to a plain IMAP port: says the server did not answer in TLS, with the STARTTLS advice; exit 4', async () => {
  const users = {source: freshUser('tls'), dest: freshUser('tls')}
  const state = join(tmp.dir, `${users.source}-plainport.sqlite`)
  const run = await runCli(
    ['sync', '--source', `imaps://${users.source}@127.0.0.1:${source.port}`, '--source-password-env', 'MF_TLS_SOURCE_PW', '--source-ca-file', source.caFile,
      '--dest', `imap://${users.dest}@127.0.0.1:${dest.port}`, '--dest-password-env', 'MF_TLS_DEST_PW', '--dest-tls', 'none', '--state', state],
    env(),
  )
  assert.equal(run.code, 4, run.stderr)
  assert.match(run.stderr, new RegExp(`^Error: source [^\\n]*:${source.port}: TLS failed: the server did not answer in TLS \\(is this a plain IMAP port\\?\\)\\n`))
  assert.match(run.stderr, /\nHint: [^\n]*port 143 use imap:\/\/, which requires STARTTLS/)
  assert.doesNotMatch(run.stderr, /\n\s+at /)
  assert.ok(!existsSync(state), 'no state file before both logins')
})

test('minTls: "1.3" refuses a server that only speaks TLS 1.2: one line, exit 4', async () => {
  const dir = dirname(source.caFile)
  const server = createTlsServer({cert: readFileSync(join(dir, 'server.pem')), key: readFileSync(join(dir, 'server.key')), maxVersion: 'TLSv1.2'}, (socket) => {
    socket.end('* OK ready\r\n')
  })
  server.on('tlsClientError', () => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  try {
    const users = {source: freshUser('tls'), dest: freshUser('tls')}
    const file = join(tmp.dir, `${users.source}-mintls.yaml`)
    writeFileSync(
      file,
      `source:\n  url: imaps://${users.source}@127.0.0.1:${port}\n  passwordEnv: MF_TLS_SOURCE_PW\n  caFile: ${source.caFile}\n  minTls: "1.3"\n` +
        `dest:\n  url: imap://${users.dest}@127.0.0.1:${dest.port}\n  passwordEnv: MF_TLS_DEST_PW\n  tls: none\n` +
        `state: ${join(tmp.dir, `${users.source}.sqlite`)}\n`,
      {mode: 0o600},
    )
    const run = await runCli(['sync', '--config', file], env())
    assert.equal(run.code, 4, run.stderr)
    assert.match(run.stderr, /^Error: source [^\n]*TLS[^\n]*(version|protocol)[^\n]*\n/i)
    assert.doesNotMatch(run.stderr, /\n\s+at /)
  } finally {
    server.close()
  }
})
