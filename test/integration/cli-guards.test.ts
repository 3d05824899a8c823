/**
 * Configuration guards of the real binary that stop a run before it connects (exit 2, one line
 * with a hint, no stack trace): plaintext to a host that is not loopback, a log file that is a
 * symbolic link. No server is needed: nothing may be contacted.
 */
import assert from 'node:assert/strict'
import {existsSync, readFileSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, test} from 'node:test'

import {runCli, tempDir} from './cli.js'

const tmp = tempDir()
after(() => tmp.cleanup())

const ENV = {MF_GUARD_PW: 'guard-secret'}

/** A sync whose destination is a Maildir in the temp dir. */
const syncTo = (source: string, ...more: string[]) => [
  'sync',
  '--source',
  source,
  '--source-password-env',
  'MF_GUARD_PW',
  '--dest',
  `maildir:${join(tmp.dir, 'backup')}`,
  '--state',
  join(tmp.dir, 'state.sqlite'),
  ...more,
]

const assertOneLineError = (stderr: string) => {
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace')
  assert.ok(!stderr.includes('guard-secret'), 'no secret')
}

test('--source-tls none to a non-loopback host: exit 2 naming side and host; --allow-plaintext lets it try', async () => {
  // 192.0.2.1 (TEST-NET-1) is never routed: a run that does try to connect fails with exit 4.
  const args = syncTo('imap://alice@192.0.2.1:143', '--source-tls', 'none', '--retries', '0')
  const refused = await runCli(args, ENV)
  assert.equal(refused.code, 2, refused.stderr)
  assert.match(refused.stderr, /source: tls none \(plaintext\) to host 192\.0\.2\.1, which is not a loopback address/)
  assert.match(refused.stderr, /--allow-plaintext/)
  assertOneLineError(refused.stderr)
  assert.equal(existsSync(join(tmp.dir, 'state.sqlite')), false, 'nothing was started')

  const allowed = await runCli([...args, '--allow-plaintext'], ENV, {killAfterMs: 60_000})
  assert.notEqual(allowed.code, 2, `allowed: it goes on to connect: ${allowed.stderr}`)
  assert.match(allowed.stderr, /plaintext connection to host 192\.0\.2\.1/)
})

test('--log-file that is a directory: exit 2, one line saying so, with a hint', async () => {
  const run = await runCli(syncTo('imap://alice@127.0.0.1:1', '--source-tls', 'none', '--log-file', tmp.dir), ENV)
  assert.equal(run.code, 2, run.stderr)
  assert.equal(run.stderr, `Error: log file ${tmp.dir} cannot be opened: it is a directory\nHint: give the path of a file, not of a directory\n`)
})

test('--log-file that is a symbolic link: exit 2, the link target untouched', async () => {
  const target = join(tmp.dir, 'precious.txt')
  writeFileSync(target, 'keep me\n', {mode: 0o644})
  const link = join(tmp.dir, 'run.log')
  symlinkSync(target, link)
  const run = await runCli(syncTo('imap://alice@127.0.0.1:1', '--source-tls', 'none', '--log-file', link), ENV)
  assert.equal(run.code, 2, run.stderr)
  assert.match(run.stderr, /log file \S+run\.log is a symbolic link; it is not followed/)
  assert.match(run.stderr, /give the path of the file itself/)
  assertOneLineError(run.stderr)
  assert.equal(readFileSync(target, 'utf8'), 'keep me\n')
  assert.equal(statSync(target).mode & 0o777, 0o644)
})

test('a bad flag: exit 2 with one line and a hint, not the whole help; with --json the report', async () => {
  const unknown = await runCli(syncTo('imap://alice@127.0.0.1:1', '--bogus'), ENV)
  assert.equal(unknown.code, 2, unknown.stderr)
  assert.equal(unknown.stderr, 'Error: unknown flag: --bogus\nHint: mailferry sync --help lists its flags\n')
  assert.equal(unknown.stdout, '')

  // An unknown flag's value is not echoed: it may be a password written to a misspelt flag.
  const withValue = await runCli(syncTo('imap://alice@127.0.0.1:1', '--source-pass=Secr3t-pw', '--bogus'), ENV)
  assert.equal(withValue.code, 2, withValue.stderr)
  assert.equal(withValue.stderr, 'Error: unknown flags: --source-pass, --bogus\nHint: mailferry sync --help lists its flags\n')

  const option = await runCli(syncTo('imap://alice@127.0.0.1:1', '--source-tls', 'nope'), ENV)
  assert.equal(option.code, 2, option.stderr)
  assert.equal(option.stderr, 'Error: Expected --source-tls=nope to be one of: implicit, starttls, none\nHint: mailferry sync --help lists its flags\n')

  const parsed = await runCli(['batch', '--parallel', 'x'], ENV)
  assert.equal(parsed.code, 2, parsed.stderr)
  assert.equal(parsed.stderr, 'Error: --parallel: Expected an integer but received: x\nHint: mailferry batch --help lists its flags\n')

  const backup = await runCli(['backup', '--to', join(tmp.dir, 'b'), '--bogus'], ENV)
  assert.equal(backup.code, 2, backup.stderr)
  assert.match(backup.stderr, /^Error: unknown flag: --bogus\nHint: mailferry backup --help/)

  const json = await runCli(syncTo('imap://alice@127.0.0.1:1', '--bogus', '--json'), ENV)
  assert.equal(json.code, 2, json.stderr)
  assert.equal(json.json?.exitCode, 2)
  assert.equal(json.json?.error, 'unknown flag: --bogus')
  assert.equal(existsSync(join(tmp.dir, 'state.sqlite')), false, 'nothing was started')
})

test('an unknown command, or an argument after one: exit 2 with one line and a hint', async () => {
  const typo = await runCli(['snyc', '--source', 'imap://alice@127.0.0.1:1'], ENV)
  assert.equal(typo.code, 2, typo.stderr)
  assert.equal(typo.stderr, 'Error: unknown command "snyc"\nHint: mailferry --help lists the commands\n')

  const argument = await runCli(['sync', 'alice@example.com', '--json'], ENV)
  assert.equal(argument.code, 2, argument.stderr)
  assert.equal(argument.stderr, 'Error: mailferry sync takes no argument, got "alice@example.com"\nHint: mailferry sync --help lists its flags\n')
  assert.equal(argument.json?.exitCode, 2)

  const help = await runCli(['help', 'sync'], ENV)
  assert.equal(help.code, 0, help.stderr)
  assert.match(help.stdout, /^Copy every folder and message[^\n]*\n\nUSAGE\n {2}\$ mailferry sync /)
  const root = await runCli(['help'], ENV)
  assert.equal(root.code, 0, root.stderr)
  assert.match(root.stdout, /^Migrate, back up and mirror IMAP mailboxes/)
})
