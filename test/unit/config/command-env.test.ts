/**
 * passwordCommand and tokenCommand run with the caller's environment minus every secret variable of
 * either side and minus MAILFERRY_*: each command writes what it sees to a file.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, test} from 'node:test'

import {parseBatchYaml} from '../../../src/batch/config.js'
import {batch as runBatch} from '../../../src/app/batch.js'
import {parseConfigText} from '../../../src/config/config-file.js'
import {resolveSyncConfig, type SyncFlagValues} from '../../../src/config/load.js'

const dir = mkdtempSync(join(tmpdir(), 'mf-cmd-env-'))
after(() => rmSync(dir, {recursive: true, force: true}))

const ENV = {
  PATH: process.env.PATH,
  HOME: '/home/alice',
  GNUPGHOME: '/home/alice/.gnupg',
  OLD_PW: 'old-secret',
  NEW_PW: 'new-secret',
  DEST_TOKEN: 'dest-token',
  CLIENT_SECRET: 'client-secret',
  MAILFERRY_SOMETHING: 'mailferry-secret',
  UNRELATED: 'kept',
}

/** The variables the command saw (names only), from `env` written into a file. */
const seen = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.split('=')[0])
    .filter((name) => name !== '')

test('passwordCommand sees neither the other side\'s password nor MAILFERRY_*; PATH and HOME stay', () => {
  const out = join(dir, 'password-command.env')
  const flags: SyncFlagValues = {
    source: 'imaps://alice@old.example.com',
    dest: 'imaps://alice@new.example.com',
    destPasswordEnv: 'NEW_PW',
    sourcePasswordCommand: `env > '${out}'; echo from-command`,
  }
  const {config} = resolveSyncConfig(flags, ENV, {platform: 'linux', homeDir: '/home/alice'})
  assert.equal(config.source.password, 'from-command')
  const names = seen(out)
  for (const name of ['PATH', 'HOME', 'GNUPGHOME', 'UNRELATED', 'OLD_PW', 'DEST_TOKEN', 'CLIENT_SECRET']) assert.ok(names.includes(name), `${name} kept: ${names}`)
  for (const name of ['NEW_PW', 'MAILFERRY_SOMETHING']) assert.ok(!names.includes(name), `${name} must not reach the command`)
})

test('tokenCommand sees no password, token, client secret or refresh token variable of either side', async () => {
  const out = join(dir, 'token-command.env')
  const yaml = `
source:
  url: imaps://alice@old.example.com
  passwordEnv: OLD_PW
dest:
  url: imaps://alice@new.example.com
  authMethod: xoauth2
  tokenCommand: "env > '${out}'; echo token-from-command"
`
  const parsed = parseConfigText(yaml, join(dir, 'migrate.yaml'))
  const {config} = resolveSyncConfig({}, ENV, {platform: 'linux', homeDir: '/home/alice', file: {input: parsed.input, baseDir: dir}})
  const token = config.dest.auth?.token
  assert.ok(token, 'a token source')
  assert.equal((await token.fetch()).accessToken, 'token-from-command')
  const names = seen(out)
  for (const name of ['PATH', 'HOME', 'DEST_TOKEN', 'CLIENT_SECRET', 'UNRELATED']) assert.ok(names.includes(name), `${name} kept: ${names}`)
  for (const name of ['OLD_PW', 'MAILFERRY_SOMETHING']) assert.ok(!names.includes(name), `${name} must not reach the command`)

  // With an oauth2 source on the other side: its client secret and refresh token variables go too.
  const both = parseConfigText(
    yaml.replace(
      '  passwordEnv: OLD_PW',
      '  authMethod: xoauth2\n  oauth2: {tokenUrl: "https://login.example.com/token", clientId: app, clientSecretEnv: CLIENT_SECRET, refreshTokenEnv: DEST_TOKEN}',
    ),
    join(dir, 'migrate.yaml'),
  )
  const second = resolveSyncConfig({}, ENV, {platform: 'linux', homeDir: '/home/alice', file: {input: both.input, baseDir: dir}})
  await second.config.dest.auth!.token!.fetch()
  const after = seen(out)
  for (const name of ['CLIENT_SECRET', 'DEST_TOKEN', 'MAILFERRY_SOMETHING']) assert.ok(!after.includes(name), `${name} must not reach the command`)
  assert.ok(after.includes('OLD_PW') && after.includes('PATH'), 'variables nobody named as a secret stay')
})

test('in a batch, one account\'s passwordCommand sees no other account\'s secret variables', async () => {
  const out = join(dir, 'batch-command.env')
  // Port 1 on loopback refuses at once: the commands run at config time, then the logins fail.
  const batch = parseBatchYaml(
    `
defaults:
  source: {host: 127.0.0.1, port: 1, tls: none}
  dest: {host: 127.0.0.1, port: 1, tls: none}
  retries: 0
jobs:
  - source: {user: alice, passwordEnv: ALICE_PW}
    dest: {user: alice, passwordEnv: ALICE_NEW_PW}
  - source: {user: bob, passwordCommand: "env > '${out}'; echo bob-secret"}
    dest: {user: bob, passwordEnv: BOB_NEW_PW}
`,
    join(dir, 'batch.yaml'),
    dir,
  )
  const env = {PATH: process.env.PATH, HOME: '/home/ops', ALICE_PW: 'a1', ALICE_NEW_PW: 'a2', BOB_NEW_PW: 'b2', UNRELATED: 'kept'}
  await runBatch(batch.jobs, {stateDir: join(dir, 'batch-state'), parallel: 1, env})
  const names = seen(out)
  for (const name of ['ALICE_PW', 'ALICE_NEW_PW', 'BOB_NEW_PW']) assert.ok(!names.includes(name), `${name} must not reach bob's command`)
  for (const name of ['PATH', 'HOME', 'UNRELATED']) assert.ok(names.includes(name), `${name} kept`)
})
