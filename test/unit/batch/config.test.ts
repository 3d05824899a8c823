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
    assert.deepEqual(alice.source, {host: 'old.example', port: 993, tls: 'implicit', user: 'alice', secret: {kind: 'env', name: 'OLD_PW'}})
    assert.deepEqual(alice.dest, {host: 'new.example', port: 1993, tls: 'starttls', user: 'alice@new.example', secret: {kind: 'env', name: 'ALICE_NEW'}})
    assert.equal(alice.concurrency, 3)
    assert.equal(alice.id, 'alice@old.example:993 -> alice@new.example@new.example:1993')
    assert.deepEqual(bob.source.secret, {kind: 'file', path: '/cfg/secrets/bob-old'})
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
      /jobs\[0\]: source\.passwordEnv or passwordFile is missing/,
    )
  })

  it('refuses a plaintext password key without echoing it', () => {
    const error = configError(() => parseBatchYaml('jobs:\n  - source: {host: a, user: u, password: hunter2}\n', 'b.yaml', '/'))
    assert.match(error.message, /jobs\[0\]\.source\.password: passwords are not accepted/)
    assert.ok(!error.message.includes('hunter2'))
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
    assert.deepEqual(jobs[0].source, {host: 'old.example', port: 993, tls: 'implicit', user: 'alice', secret: {kind: 'env', name: 'A1'}})
    assert.deepEqual(jobs[0].dest, {host: 'new.example', port: 1993, tls: 'implicit', user: 'alice', secret: {kind: 'file', path: '/base/pw/alice'}})
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
    assert.match(configError(() => parseBatchCsv('h;alice;env:A;h2;alice\n', 'a.csv')).message, /a\.csv:1: expected 6 cells/)
    assert.match(configError(() => parseBatchCsv('# nothing\n', 'a.csv')).message, /no accounts/)
  })
})

describe('jobFlags', () => {
  it('builds the flags sync would get, the user percent-encoded, one state DB per pair', () => {
    const [job] = parseBatchCsv('old;a@b.example;env:A;new:1143;a;file:/p\n', 'a.csv', {sourceTls: 'none'})
    const flags = jobFlags(job, '/s/x.sqlite', 2)
    assert.equal(flags.source, 'imap://a%40b.example@old:143')
    assert.equal(flags.sourceTls, 'none')
    assert.equal(flags.sourcePasswordEnv, 'A')
    assert.equal(flags.dest, 'imap://a@new:1143')
    assert.equal(flags.destPasswordFile, '/p')
    assert.equal(flags.concurrency, 2)
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
