import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {parseBatchCsv, parseBatchYaml, parseSecretCell} from '../../../src/batch/config.js'
import {jobFlags, jobStatePath} from '../../../src/batch/run.js'
import {ConfigError} from '../../../src/errors.js'

function configError(run: () => unknown): ConfigError {
  try {
    run()
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`)
    return error
  }
  assert.fail('expected a ConfigError')
}

const YAML = `
stateDir: state
defaults:
  concurrency: 3
  source: {host: old.example, tls: implicit, passwordEnv: OLD_PW}
  dest: {host: new.example, port: 1993, tls: starttls}
jobs:
  - source: {user: alice}
    dest: {user: alice@new.example, passwordEnv: ALICE_NEW}
  - source: {user: bob, passwordFile: secrets/bob-old}
    dest: {user: bob, passwordFile: /etc/mf/bob-new, host: other.example}
    concurrency: 1
`

describe('parseBatchYaml', () => {
  it('merges defaults into each job, resolves paths against the file', () => {
    const config = parseBatchYaml(YAML, '/cfg/batch.yaml', '/cfg')
    assert.equal(config.stateDir, '/cfg/state')
    assert.equal(config.jobs.length, 2)
    const [alice, bob] = config.jobs
    assert.deepEqual(alice.source, {host: 'old.example', port: 993, tls: 'implicit', user: 'alice'})
    assert.deepEqual(alice.dest, {host: 'new.example', port: 1993, tls: 'starttls', user: 'alice@new.example'})
    assert.equal(alice.settings.source?.passwordEnv, 'OLD_PW')
    assert.equal(alice.settings.dest?.passwordEnv, 'ALICE_NEW')
    assert.equal(alice.concurrency, 3)
    assert.equal(alice.id, 'alice@old.example:993 -> alice@new.example@new.example:1993')
    // A job's passwordFile replaces the defaults' passwordEnv (one login source per side).
    assert.equal(bob.settings.source?.passwordFile, '/cfg/secrets/bob-old')
    assert.equal(bob.settings.source?.passwordEnv, undefined)
    assert.equal(bob.dest.host, 'other.example')
    assert.equal(bob.concurrency, 1)
  })

  it('defaults stateDir to the file directory and concurrency to 2', () => {
    const config = parseBatchYaml(
      'jobs:\n  - source: {host: a, user: u, passwordEnv: A}\n    dest: {host: b, user: u, passwordEnv: B}\n',
      '/x/b.yaml',
      '/x',
    )
    assert.equal(config.stateDir, '/x')
    assert.equal(config.jobs[0].concurrency, 2)
  })

  it('names the key path of a mistake', () => {
    assert.match(configError(() => parseBatchYaml('jobs:\n  - source: {host: a, user: u, passwordEnv: A, prot: 1}\n', 'b.yaml', '/')).message, /b\.yaml: jobs\[0\]\.source\.prot: unknown key \(did you mean port\?\)/)
    assert.match(configError(() => parseBatchYaml('defaults:\n  source: {port: 99999}\njobs: []\n', 'b.yaml', '/')).message, /defaults\.source\.port: expected an integer 1-65535/)
    assert.match(configError(() => parseBatchYaml('jobs: []\n', 'b.yaml', '/')).message, /jobs: expected a non-empty list/)
    assert.match(
      configError(() => parseBatchYaml('jobs:\n  - source: {host: a, user: u}\n    dest: {host: b, user: u, passwordEnv: B}\n', 'b.yaml', '/')).message,
      /jobs\[0\]: source\.passwordEnv, passwordFile, passwordCommand or a token source is missing/,
    )
  })

  it('refuses a plaintext password key without echoing it', () => {
    const error = configError(() => parseBatchYaml('jobs:\n  - source: {host: a, user: u, password: hunter2}\n', 'b.yaml', '/'))
    assert.match(error.message, /jobs\[0\]\.source\.password: passwords are not accepted/)
    assert.ok(!error.message.includes('hunter2'))
  })

  it('a file that is one line of text (a password file given by mistake) is refused without echoing it', () => {
    const error = configError(() => parseBatchYaml('s3cret-Passw0rd\n', 'b.yaml', '/'))
    assert.match(error.message, /^b\.yaml: \(top level\): expected a mapping with defaults: and jobs:, got text that is not a mapping \(not shown/)
    assert.ok(!error.message.includes('s3cret'))
  })

  it('takes every sync config key per job or as a default: TLS, OAuth2, folder rules, tuning, log files', () => {
    const config = parseBatchYaml(
      `defaults:
  source: {host: old.example, caFile: certs/old-ca.pem, minTls: "1.3", passwordEnv: OLD_PW}
  dest:
    host: outlook.office365.com
    authMethod: xoauth2
    oauth2: {tokenUrl: "https://login.example/token", clientId: app, refreshTokenFile: tokens/default.rt}
  folders: {exclude: [Junk]}
  maxErrors: 20
  logFile: logs/{account}.log
jobs:
  - source: {user: alice}
    dest: {user: alice@new.example, oauth2: {tokenUrl: "https://login.example/token", clientId: app, refreshTokenFile: tokens/alice.rt}}
  - source: {user: bob, passwordCommand: pass show old/bob}
    dest: {user: bob@new.example}
    folders: {include: [INBOX]}
    maxAge: 90
`,
      '/cfg/batch.yaml',
      '/cfg',
    )
    const [alice, bob] = config.jobs
    assert.equal(alice.settings.source?.caFile, '/cfg/certs/old-ca.pem')
    assert.equal(alice.settings.source?.minTls, '1.3')
    assert.equal(alice.settings.dest?.authMethod, 'xoauth2')
    assert.equal((alice.settings.dest?.oauth2 as {refreshTokenFile?: string} | undefined)?.refreshTokenFile, '/cfg/tokens/alice.rt')
    assert.deepEqual(alice.settings.folders?.exclude, ['Junk'])
    assert.equal(alice.settings.maxErrors, 20)
    assert.match(alice.settings.logFile!, /^\/cfg\/logs\/alice@old\.example-993--alice@new\.example@outlook\.office365\.com-993/)
    assert.notEqual(alice.settings.logFile, bob.settings.logFile)
    assert.equal(bob.settings.source?.passwordCommand, 'pass show old/bob')
    assert.equal(bob.settings.source?.passwordEnv, undefined)
    assert.deepEqual(bob.settings.folders?.include, ['INBOX'])
    assert.equal(bob.settings.folders?.exclude, undefined, 'folders: is replaced whole, not merged')
    assert.equal(bob.settings.maxAge, 90)
  })

  it('refuses state:, a shared log file, a password prompt and a bad key in defaults, naming where', () => {
    const job = '  - source: {host: a, user: u, passwordEnv: A}\n    dest: {host: b, user: u, passwordEnv: B}\n'
    assert.match(configError(() => parseBatchYaml(`defaults:\n  state: x.sqlite\njobs:\n${job}`, 'b.yaml', '/')).message, /b\.yaml: defaults\.state: each account gets its state file under stateDir/)
    const shared = configError(() => parseBatchYaml(`defaults:\n  logFile: all.log\njobs:\n${job}  - source: {host: a, user: v, passwordEnv: A}\n    dest: {host: b, user: v, passwordEnv: B}\n`, 'b.yaml', '/'))
    assert.match(shared.message, /jobs\[1\]: logFile \/all\.log is also the log of jobs\[0\]/)
    assert.match(shared.hint ?? '', /\{account\}/)
    assert.match(configError(() => parseBatchYaml('jobs:\n  - source: {host: a, user: u, passwordPrompt: true}\n    dest: {host: b, user: u, passwordEnv: B}\n', 'b.yaml', '/')).message, /passwordPrompt: a batch runs unattended/)
    assert.match(configError(() => parseBatchYaml(`defaults:\n  source: {minTls: "1.1"}\njobs:\n${job}`, 'b.yaml', '/')).message, /defaults\.source\.minTls: expected "1\.2" or "1\.3"/)
  })

  it('refuses the same account pair twice', () => {
    const job = '  - source: {host: a, user: u, passwordEnv: A}\n    dest: {host: b, user: u, passwordEnv: B}\n'
    assert.match(configError(() => parseBatchYaml(`jobs:\n${job}${job}`, 'b.yaml', '/')).message, /jobs\[1\]: the same account pair as jobs\[0\]/)
  })
})

describe('parseBatchCsv', () => {
  it("reads imapsync's order, ; or , separated, comments skipped, host:port", () => {
    const jobs = parseBatchCsv('# migration\nold.example;alice;env:A1;new.example:1993;alice;file:pw/alice\n\nold.example,bob,env:B1,new.example,bob,env:B2\n', 'a.csv', {
      resolvePath: (p) => `/base/${p}`,
    })
    assert.equal(jobs.length, 2)
    assert.deepEqual(jobs[0].source, {host: 'old.example', port: 993, tls: 'implicit', user: 'alice'})
    assert.deepEqual(jobs[0].dest, {host: 'new.example', port: 1993, tls: 'implicit', user: 'alice'})
    assert.deepEqual(jobs[0].settings.source, {host: 'old.example', port: 993, tls: 'implicit', user: 'alice', passwordEnv: 'A1'})
    assert.deepEqual(jobs[0].settings.dest, {host: 'new.example', port: 1993, tls: 'implicit', user: 'alice', passwordFile: '/base/pw/alice'})
    assert.equal(jobs[0].origin, 'a.csv:2')
    assert.equal(jobs[1].origin, 'a.csv:4')
  })

  it('takes a header row naming the columns in any order', () => {
    const jobs = parseBatchCsv('user1;host1;password1;user2;host2;password2\nalice;old;env:A;alice2;new;env:B\n', 'a.csv', {sourceTls: 'none', destTls: 'starttls'})
    assert.equal(jobs[0].source.user, 'alice')
    assert.equal(jobs[0].source.host, 'old')
    assert.equal(jobs[0].source.port, 143)
    assert.equal(jobs[0].dest.user, 'alice2')
    assert.equal(jobs[0].dest.tls, 'starttls')
  })

  it('refuses a plaintext password cell, naming the line, not echoing it', () => {
    const error = configError(() => parseBatchCsv('h;alice;env:A;h2;alice;Secret-Pw-42\n', 'accounts.csv'))
    assert.match(error.message, /^accounts\.csv:1: password2 must be a reference, env:VARIABLE or file:\/path/)
    assert.ok(!error.message.includes('Secret-Pw-42'))
    assert.ok(!configError(() => parseSecretCell('env:not a name!', 'x:1', 'password1', (p) => p)).message.includes('not a name!'))
  })

  it('counts the cells', () => {
    const short = configError(() => parseBatchCsv('h;alice;env:A;h2;alice\n', 'a.csv'))
    assert.match(short.message, /a\.csv:1: expected 6 cells/)
    assert.match(short.hint ?? '', /separated by ;/)
    assert.match(configError(() => parseBatchCsv('# nothing\n', 'a.csv')).message, /no accounts/)
  })
})

describe('jobFlags', () => {
  it('gives sync the state DB and concurrency; one state DB per pair', () => {
    const [job] = parseBatchCsv('old;a@b.example;env:A;new:1143;a;file:/p\n', 'a.csv', {sourceTls: 'none'})
    assert.deepEqual(jobFlags('/s/x.sqlite', 2), {settings: {state: '/s/x.sqlite', concurrency: 2}})
    assert.match(jobStatePath('/s', job), /^\/s\/.*\.sqlite$/)
  })
})

describe('examples/batch.yaml', () => {
  it('parses', async () => {
    const {readFileSync} = await import('node:fs')
    const path = new URL('../../../examples/batch.yaml', import.meta.url).pathname
    const config = parseBatchYaml(readFileSync(path, 'utf8'), path, '/ex')
    assert.equal(config.jobs.length, 2)
    assert.equal(config.stateDir, '/ex/batch-state')
  })
})
