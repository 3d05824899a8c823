/**
 * Authentication and secrets, against real Dovecot:
 * - XOAUTH2 / OAUTHBEARER with a token from tokenCommand, validated by Dovecot's oauth2 passdb at
 *   a small RFC 7662 introspection endpoint started here; with --log-file, --debug-imap and --json,
 *   neither the password nor the token shows up in the log, the protocol trace, the report, stderr
 *   or the state database;
 * - an OAuth2 refresh token exchanged at a token endpoint; tokens live 2 s, so sessions opened
 *   later in the run (after the destination's imap processes are killed) need fresh ones;
 * - a wrong password and a refused token: exit 3;
 * - a Dovecot master user migrates another user's mailbox (`user*master` with LOGIN, and SASL PLAIN
 *   with an authorization identity);
 * - the server's log names mailferry and its version as the client (ID), not imapflow's.
 */
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, test} from 'node:test'

import Database from 'better-sqlite3'

import {instanceProcesses, startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {startFormEndpoint, type FormEndpoint} from '../harness/form-endpoint.js'
import {seed, snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {VERSION} from '../../src/version.js'
import {BIN, freshUser, runCli, tempDir} from './cli.js'

const MASTER = {name: 'admin', password: `M-${randomBytes(6).toString('hex')}`}
const REFRESH_TOKEN = `rt-${randomBytes(12).toString('hex')}`

/** The identity provider: RFC 7662 introspection (for Dovecot) and RFC 6749 refresh (for mailferry). */
class TokenServer {
  /** access token -> user and expiry (ms). */
  readonly tokens = new Map<string, {user: string; expiresAt: number}>()
  refreshCalls = 0
  introspections = 0
  ttlSeconds = 3600
  /** Who the refreshed tokens are for. */
  refreshUser = ''
  /** Refresh tokens the endpoint accepts; with rotate, each use replaces the one used (RFC 6749 10.4). */
  readonly refreshTokens = new Set([REFRESH_TOKEN])
  rotate = false
  endpoint!: FormEndpoint
  url = ''

  issue(user: string, ttlSeconds = this.ttlSeconds): string {
    const token = `at-${randomBytes(16).toString('base64url')}`
    this.tokens.set(token, {user, expiresAt: Date.now() + ttlSeconds * 1000})
    return token
  }

  async start(): Promise<void> {
    this.endpoint = await startFormEndpoint((path, form) => {
      const reply = (status: number, json: unknown) => ({status, json})
      if (path === '/introspect') {
        this.introspections++
        const entry = this.tokens.get(form.get('token') ?? '')
        if (!entry || entry.expiresAt < Date.now()) return reply(200, {active: false})
        return reply(200, {active: true, username: entry.user})
      }
      if (path === '/token') {
        this.refreshCalls++
        const used = form.get('refresh_token') ?? ''
        if (form.get('grant_type') !== 'refresh_token' || !this.refreshTokens.has(used) || form.get('client_id') !== 'mailferry-test') {
          return reply(400, {error: 'invalid_grant'})
        }
        const rotated = this.rotate ? `rt-${randomBytes(12).toString('hex')}` : undefined
        if (rotated) {
          this.refreshTokens.delete(used)
          this.refreshTokens.add(rotated)
        }
        return reply(200, {access_token: this.issue(this.refreshUser), token_type: 'Bearer', expires_in: this.ttlSeconds, refresh_token: rotated})
      }
      return reply(404, {error: 'not_found'})
    })
    this.url = this.endpoint.url
  }

  stop(): Promise<void> {
    return this.endpoint.close()
  }
}

let source: DovecotInstance
let dest: DovecotInstance
const idp = new TokenServer()
const tmp = tempDir()

before(async () => {
  await idp.start()
  ;[source, dest] = await Promise.all([
    // imap_id_log: the server logs what a client says of itself in ID (RFC 2971).
    startDovecot({separator: '/', name: 'auth-src', masterUser: MASTER, extraConfig: 'imap_id_log = *\n'}),
    startDovecot({separator: '.', name: 'auth-dst', oauth2IntrospectionUrl: `${idp.url}/introspect`}),
  ])
})
after(async () => {
  await Promise.all([source?.stop(), dest?.stop()])
  await idp.stop()
  tmp.cleanup()
})

const url = (instance: DovecotInstance, user: string) => `imap://${encodeURIComponent(user)}@127.0.0.1:${instance.port}`

/** Every row of every table, as text: what `sqlite3 state.db .dump` would show of the data. */
function dumpDatabase(path: string): string {
  const db = new Database(path, {readonly: true})
  try {
    const tables = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all() as Array<{name: string; sql: string}>
    return tables.map((t) => `${t.sql}\n${JSON.stringify(db.prepare(`SELECT * FROM "${t.name}"`).all())}`).join('\n')
  } finally {
    db.close()
  }
}

const base64Forms = (secret: string): string[] => [secret, Buffer.from(secret).toString('base64'), encodeURIComponent(secret)]

test('XOAUTH2 with a token from tokenCommand; no password or token in the log, trace, report or state', async () => {
  const users = {source: freshUser('xo'), dest: freshUser('xo')}
  await seed(source, users.source, {INBOX: generateMessages(12, {seed: 41}), Sent: generateMessages(5, {seed: 42})})
  const token = idp.issue(users.dest)
  const tokenFile = join(tmp.dir, `${users.dest}.token`)
  writeFileSync(tokenFile, `${token}\n`, {mode: 0o600})
  const logFile = join(tmp.dir, `${users.dest}.log`)
  const state = join(tmp.dir, `${users.dest}.sqlite`)
  const args = [
    'sync',
    '--source', url(source, users.source), '--source-tls', 'none', '--source-password-env', 'MF_AUTH_SRC_PW', '--source-auth-method', 'login',
    '--dest', url(dest, users.dest), '--dest-tls', 'none', '--dest-auth-method', 'xoauth2', '--dest-token-command', `cat ${tokenFile}`,
    '--state', state, '--log-file', logFile, '--debug-imap', '--json',
  ]
  const run = await runCli(args, {MF_AUTH_SRC_PW: source.password})
  assert.equal(run.code, 0, run.stderr)
  assert.equal(run.json.totals.copied, 17)
  assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))

  const log = readFileSync(logFile, 'utf8')
  // The trace is there, with the logins in it (redacted)...
  assert.match(log, /IMAP  source#\S+ C: \S+ LOGIN /)
  assert.match(log, /IMAP  destination#\S+ C: \S+ AUTHENTICATE (XOAUTH2|OAUTHBEARER)/)
  assert.match(log, /INFO  run finished: exit 0/)
  // ...and no secret anywhere, in any encoding.
  const places = {log, report: run.stdout, stderr: run.stderr, state: dumpDatabase(state)}
  const sasl = [`user=${users.dest}\x01auth=Bearer ${token}\x01\x01`, `\x00${users.source}\x00${source.password}`]
  for (const [place, text] of Object.entries(places)) {
    for (const secret of [source.password, token, ...sasl]) {
      for (const form of base64Forms(secret)) assert.ok(!text.includes(form), `a secret in the ${place}`)
    }
  }
  assert.equal((readFileSync(logFile).length > 0 && (await import('node:fs')).statSync(logFile).mode & 0o777), 0o600)
})

test('an access token that expires mid-run is refreshed with the OAuth2 refresh token; the run completes', async () => {
  const users = {source: freshUser('rf'), dest: freshUser('rf')}
  // Enough messages at 40/s that the run outlasts the first token by seconds: copies are reported
  // in bursts (a MULTIAPPEND answers for many), so the 20th one can come late.
  await seed(source, users.source, {INBOX: generateMessages(300, {seed: 43, meanSize: 2000})})
  idp.refreshUser = users.dest
  idp.ttlSeconds = 2
  idp.refreshCalls = 0
  const config = join(tmp.dir, `${users.dest}.yaml`)
  writeFileSync(
    config,
    `source:\n  url: ${url(source, users.source)}\n  tls: none\n  passwordEnv: MF_AUTH_SRC_PW\n` +
      `dest:\n  url: ${url(dest, users.dest)}\n  tls: none\n  authMethod: oauthbearer\n` +
      `  oauth2:\n    tokenUrl: ${idp.url}/token\n    clientId: mailferry-test\n    refreshTokenEnv: MF_AUTH_REFRESH\n` +
      `state: ${join(tmp.dir, `${users.dest}.sqlite`)}\nmaxMessagesPerSecond: 40\nlogFile: ${join(tmp.dir, `${users.dest}.log`)}\n`,
    {mode: 0o600},
  )
  const running = runCli(['sync', '--config', config, '--json'], {MF_AUTH_SRC_PW: source.password, MF_AUTH_REFRESH: REFRESH_TOKEN})
  // Once copying is under way and the first token has expired, every destination session is
  // killed: the new sessions need a new token.
  const logFile = join(tmp.dir, `${users.dest}.log`)
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    let text = ''
    try {
      text = readFileSync(logFile, 'utf8')
    } catch {
      // not yet
    }
    if ((text.match(/ copied \(/g) ?? []).length >= 20) break
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  // Every token the destination got so far has expired: new sessions need a new one.
  const expired = () => [...idp.tokens.values()].every((token) => token.user !== users.dest || token.expiresAt < Date.now())
  while (!expired() && Date.now() < deadline + 5000) await new Promise((resolve) => setTimeout(resolve, 20))
  for (const pid of instanceProcesses(dest)) {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'imap') process.kill(pid, 'SIGKILL')
  }
  const run = await running
  idp.ttlSeconds = 3600
  assert.equal(run.code, 0, `${run.stderr}${run.json?.error}`)
  assert.ok(idp.refreshCalls >= 2, `the token endpoint was asked ${idp.refreshCalls} times`)
  assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
  const text = readFileSync(join(tmp.dir, `${users.dest}.log`), 'utf8') + run.stdout + run.stderr
  assert.ok(!text.includes(REFRESH_TOKEN))
  for (const token of idp.tokens.keys()) assert.ok(!text.includes(token))
})

test('a refresh token rotated by the endpoint is saved to refreshTokenFile (0600) and used by the next run', async () => {
  const users = {source: freshUser('rot'), dest: freshUser('rot')}
  await seed(source, users.source, {INBOX: generateMessages(4, {seed: 44})})
  idp.refreshUser = users.dest
  const first = `rt-${randomBytes(12).toString('hex')}`
  idp.refreshTokens.add(first)
  idp.rotate = true
  const tokenFile = join(tmp.dir, `${users.dest}.refresh`)
  writeFileSync(tokenFile, `${first}\n`, {mode: 0o600})
  const config = join(tmp.dir, `${users.dest}.yaml`)
  writeFileSync(
    config,
    `source:\n  url: ${url(source, users.source)}\n  tls: none\n  passwordEnv: MF_AUTH_SRC_PW\n` +
      `dest:\n  url: ${url(dest, users.dest)}\n  tls: none\n  authMethod: xoauth2\n` +
      `  oauth2:\n    tokenUrl: ${idp.url}/token\n    clientId: mailferry-test\n    refreshTokenFile: ${tokenFile}\n` +
      `state: ${join(tmp.dir, `${users.dest}.sqlite`)}\n`,
    {mode: 0o600},
  )
  try {
    const run = await runCli(['sync', '--config', config], {MF_AUTH_SRC_PW: source.password})
    assert.equal(run.code, 0, run.stderr)
    const saved = readFileSync(tokenFile, 'utf8').trim()
    assert.notEqual(saved, first, 'the rotated token replaced the used one')
    assert.ok(idp.refreshTokens.has(saved) && !idp.refreshTokens.has(first))
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600)
    assert.ok(!(run.stdout + run.stderr).includes(saved))

    // The first token is now refused by the endpoint: only the saved one lets this run log in.
    await seed(source, users.source, {INBOX: generateMessages(2, {seed: 45})})
    const again = await runCli(['sync', '--config', config, '--json'], {MF_AUTH_SRC_PW: source.password})
    assert.equal(again.code, 0, again.stderr)
    assert.equal(again.json.totals.copied, 2)
  } finally {
    idp.rotate = false
  }
})

test('a wrong password and a refused token: exit 3, one line naming the side', async () => {
  const users = {source: freshUser('bad'), dest: freshUser('bad')}
  const common = ['--state', join(tmp.dir, `${users.source}.sqlite`), '--source-tls', 'none', '--dest-tls', 'none']
  const wrongPassword = await runCli(
    ['sync', '--source', url(source, users.source), '--source-password-env', 'PW1', '--dest', url(dest, users.dest), '--dest-password-env', 'PW2', ...common],
    {PW1: 'not-the-password', PW2: dest.password},
  )
  assert.equal(wrongPassword.code, 3, wrongPassword.stderr)
  assert.match(wrongPassword.stderr, /^Error: source \S+: login failed: .*\nHint: check the user name and the password from env PW1\n/)
  assert.ok(!wrongPassword.stderr.includes('not-the-password'))

  const badToken = await runCli(
    ['sync', '--source', url(source, users.source), '--source-password-env', 'PW1', '--dest', url(dest, users.dest),
      '--dest-auth-method', 'xoauth2', '--dest-token-command', 'echo at-not-a-valid-token', ...common],
    {PW1: source.password},
  )
  assert.equal(badToken.code, 3, badToken.stderr)
  assert.match(badToken.stderr, /^Error: destination \S+: login failed: .*\nHint: check the user name and the access token from tokenCommand\n/)
  assert.ok(!badToken.stderr.includes('at-not-a-valid-token'))
})

test("a Dovecot master user migrates another user's mailbox (user*master, and SASL PLAIN authzid)", async () => {
  const owner = freshUser('carol')
  await seed(source, owner, {INBOX: generateMessages(6, {seed: 44}), Archive: generateMessages(4, {seed: 45})})
  const env = {MF_MASTER_PW: MASTER.password, MF_AUTH_DST_PW: dest.password}
  for (const [tag, login] of [
    ['star', ['--source', url(source, `${owner}*${MASTER.name}`)]],
    ['authzid', ['--source', url(source, MASTER.name), '--source-authzid', owner]],
  ] as const) {
    const target = freshUser(`mu-${tag}`)
    const run = await runCli(
      ['sync', ...login, '--source-tls', 'none', '--source-password-env', 'MF_MASTER_PW', '--dest', url(dest, target), '--dest-tls', 'none',
        '--dest-password-env', 'MF_AUTH_DST_PW', '--state', join(tmp.dir, `${target}.sqlite`), '--json'],
      env,
    )
    assert.equal(run.code, 0, `${tag}: ${run.stderr}`)
    assert.equal(run.json.totals.copied, 10, tag)
    assert.deepEqual(await snapshot(dest, target), await snapshot(source, owner), tag)
  }
})

test('--source-password-prompt on a terminal: asked once, not echoed, and the run completes', {skip: hasScript() ? false : 'needs util-linux `script` for a pseudo-terminal'}, async () => {
  const users = {source: freshUser('tty'), dest: freshUser('tty')}
  await seed(source, users.source, {INBOX: generateMessages(5, {seed: 43})})
  const args = [
    'sync',
    '--source', url(source, users.source), '--source-tls', 'none', '--source-password-prompt',
    '--dest', url(dest, users.dest), '--dest-tls', 'none', '--dest-password-env', 'MF_AUTH_DST_PW',
    '--state', join(tmp.dir, `${users.source}.sqlite`),
  ]
  const command = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
  // `script` runs the command on a pseudo-terminal: its stdin is a TTY, as for a person at a shell.
  const child = spawn('script', ['-qec', command, '/dev/null'], {env: {...process.env, MF_AUTH_DST_PW: dest.password}})
  let output = ''
  let answered = 0
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString()
    // Typed only once the prompt is up (raw mode, no echo), as a person would.
    if (answered === 0 && /source password for .*: $/.test(output)) {
      answered++
      child.stdin.write(`${source.password}\r`)
    }
  })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  child.stdin.destroy()
  assert.equal(code, 0, output)
  assert.equal(answered, 1, output)
  assert.equal(output.match(/password for/g)?.length, 1, 'asked once')
  assert.ok(!output.includes(source.password), 'the typed password is not echoed')
  assert.match(output, /Totals: 5 messages copied/)
  assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
})

function hasScript(): boolean {
  return spawnSync('script', ['--version']).status === 0
}

test("the server's log names mailferry and its version as the client (ID, RFC 2971), and nothing of imapflow's", async () => {
  const user = freshUser('idlog')
  await seed(source, user, {INBOX: generateMessages(2, {seed: 46})})
  // The seeding's own sessions (imapflow's defaults) are logged before this.
  const logStart = statSync(source.logFile).size
  const run = await runCli(
    ['sync', '--source', url(source, user), '--source-tls', 'none', '--source-password-env', 'MF_SRC_PW', '--dest', url(dest, freshUser('idlog-dst')),
      '--dest-tls', 'none', '--dest-password-env', 'MF_DST_PW', '--state', join(tmp.dir, `${user}.sqlite`), '--json'],
    {MF_SRC_PW: source.password, MF_DST_PW: dest.password},
  )
  assert.equal(run.code, 0, run.stderr)
  const sent = readFileSync(source.logFile).subarray(logStart).toString('utf8').split('\n').filter((line) => line.includes('ID sent') && line.includes(user))
  assert.ok(sent.length > 0, 'the source logged no ID of this user')
  for (const line of sent) {
    assert.match(line, new RegExp(`ID sent: name=mailferry, version=${VERSION.replace(/\./g, '\\.')}($|[:,])`), line)
    assert.doesNotMatch(line, /Postal Systems|imapflow/i, line)
  }
})
