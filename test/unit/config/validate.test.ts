import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {ConfigError} from '../../../src/errors.js'
import {
  ConfigKeyError,
  checkConcurrency,
  checkHost,
  checkPort,
  checkTlsMode,
  describeValue,
  suggestKey,
  validateFileConfig,
} from '../../../src/config/validate.js'

const SECRET = 'Zq9-Wombat-Secret!'

function keyError(run: () => unknown): ConfigKeyError {
  try {
    run()
  } catch (error) {
    assert.ok(error instanceof ConfigKeyError, `expected a ConfigKeyError, got ${String(error)}`)
    assert.ok(error instanceof ConfigError)
    return error
  }
  assert.fail('expected an error')
}

const endpoint = {host: 'old.example.com', port: 993, tls: 'implicit', user: 'alice', passwordEnv: 'OLD_PW'}

describe('describeValue', () => {
  it('says what was given and its type', () => {
    assert.equal(describeValue('abc'), '"abc" (string)')
    assert.equal(describeValue(70000), '70000 (number)')
    assert.equal(describeValue(true), 'true (boolean)')
    assert.equal(describeValue(null), 'null')
    assert.equal(describeValue([1]), 'a list')
    assert.equal(describeValue({a: 1}), 'a mapping')
    assert.match(describeValue('x'.repeat(200)), /^"x{57}\.\.\." \(string\)$/)
  })
})

describe('single values', () => {
  it('ports are integers 1-65535', () => {
    assert.equal(checkPort(993, 'source.port'), 993)
    assert.equal(checkPort(65535, 'p'), 65535)
    assert.equal(keyError(() => checkPort('abc', 'source.port')).message, 'source.port: expected an integer 1-65535, got "abc" (string)')
    assert.equal(keyError(() => checkPort(0, 'p')).message, 'p: expected an integer 1-65535, got 0 (number)')
    assert.equal(keyError(() => checkPort(65536, 'p')).message, 'p: expected an integer 1-65535, got 65536 (number)')
    assert.equal(keyError(() => checkPort(99.5, 'p')).message, 'p: expected an integer 1-65535, got 99.5 (number)')
    assert.equal(keyError(() => checkPort('993', 'p')).message, 'p: expected an integer 1-65535, got "993" (string)')
  })

  it('concurrency is 1-64', () => {
    assert.equal(checkConcurrency(1, 'c'), 1)
    assert.equal(checkConcurrency(64, 'c'), 64)
    assert.equal(keyError(() => checkConcurrency(0, 'concurrency')).message, 'concurrency: expected an integer 1-64, got 0 (number)')
    assert.match(keyError(() => checkConcurrency(65, 'c')).message, /got 65 \(number\)/)
    assert.match(keyError(() => checkConcurrency(Number.NaN, '--concurrency')).message, /^--concurrency: .*NaN/)
  })

  it('tls is implicit, starttls or none', () => {
    assert.equal(checkTlsMode('none', 't'), 'none')
    assert.equal(
      keyError(() => checkTlsMode('ssl', '--source-tls')).message,
      '--source-tls: expected one of implicit, starttls, none, got "ssl" (string)',
    )
  })

  it('hosts: names, IPv4, IPv6 with or without brackets', () => {
    assert.equal(checkHost('mail.example.com', 'h'), 'mail.example.com')
    assert.equal(checkHost('127.0.0.1', 'h'), '127.0.0.1')
    assert.equal(checkHost('[::1]', 'h'), '::1')
    assert.equal(checkHost('fe80::1%eth0', 'h'), 'fe80::1%eth0')
    assert.match(keyError(() => checkHost('a b', 'h')).message, /^h: expected a host name or IP address, got "a b"/)
    assert.match(keyError(() => checkHost('user@host', 'h')).message, /expected a host name/)
    assert.match(keyError(() => checkHost('', 'h')).message, /expected a host name/)
    assert.match(keyError(() => checkHost(12, 'h')).message, /got 12 \(number\)/)
  })

  it('suggests a close key', () => {
    assert.equal(suggestKey('prot', ['host', 'port']), 'port')
    assert.equal(suggestKey('Host', ['host', 'port']), 'host')
    assert.equal(suggestKey('zzzzzz', ['host', 'port']), undefined)
  })
})

describe('validateFileConfig', () => {
  it('accepts a complete file', () => {
    const input = {
      source: {...endpoint, caFile: '/ca.pem', insecure: false, servername: 'imap.example.com'},
      dest: {url: 'imaps://alice@new.example.com', tls: 'starttls', passwordFile: '/pw'},
      state: './alice.sqlite',
      concurrency: 8,
    }
    assert.deepEqual(validateFileConfig(input), input)
  })

  it('an empty file is an empty config; null values mean "not given"', () => {
    assert.deepEqual(validateFileConfig(null), {})
    assert.deepEqual(validateFileConfig({source: null, state: null, dest: {host: 'h', port: null}}), {dest: {host: 'h'}})
  })

  it('the top level must be a mapping', () => {
    const error = keyError(() => validateFileConfig(['a']))
    assert.match(error.message, /^\(top level\): expected a mapping .* got a list$/)
    assert.deepEqual(error.keyPath, [])
  })

  it('names the key path and expected vs given', () => {
    const error = keyError(() => validateFileConfig({source: {...endpoint, port: 'abc'}}))
    assert.equal(error.message, 'source.port: expected an integer 1-65535, got "abc" (string)')
    assert.deepEqual(error.keyPath, ['source', 'port'])
    assert.match(keyError(() => validateFileConfig({dest: {...endpoint, tls: 'ssl'}})).message, /^dest\.tls: expected one of/)
    assert.match(keyError(() => validateFileConfig({dest: {...endpoint, insecure: 'yes'}})).message, /^dest\.insecure: expected true or false, got "yes" \(string\)$/)
    assert.match(keyError(() => validateFileConfig({source: {...endpoint, user: ''}})).message, /^source\.user: expected a user name/)
    assert.match(keyError(() => validateFileConfig({source: {...endpoint, user: 'a\r\nb'}})).message, /control characters/)
    assert.match(keyError(() => validateFileConfig({concurrency: 100})).message, /^concurrency: expected an integer 1-64, got 100 \(number\)$/)
    assert.match(keyError(() => validateFileConfig({state: 5})).message, /^state: expected a file path, got 5 \(number\)$/)
    assert.match(keyError(() => validateFileConfig({source: 'imaps://a@h'})).message, /^source: expected a mapping/)
  })

  it('unknown keys are errors, with a suggestion when one is close', () => {
    assert.match(keyError(() => validateFileConfig({source: {...endpoint, prot: 1}})).message, /^source\.prot: unknown key \(did you mean port\?\)$/)
    assert.match(keyError(() => validateFileConfig({sorce: {}})).message, /^sorce: unknown key \(did you mean source\?\)$/)
    assert.match(keyError(() => validateFileConfig({dest: {...endpoint, foo: 1}})).message, /^dest\.foo: unknown key \(known keys: url, host/)
    assert.match(keyError(() => validateFileConfig({source: {...endpoint, password_env: 'X'}})).message, /did you mean passwordEnv/)
  })

  it('a password key is refused with the alternatives, without echoing the value', () => {
    for (const key of ['password', 'pass', 'passwd', 'Password']) {
      const error = keyError(() => validateFileConfig({source: {...endpoint, [key]: SECRET}}))
      assert.match(error.message, new RegExp(`^source\\.${key}: passwords are not accepted`))
      assert.match(error.message, /passwordEnv/)
      assert.match(error.message, /passwordFile/)
      assert.ok(!error.message.includes(SECRET))
    }
    const typo = keyError(() => validateFileConfig({source: {...endpoint, pasword: SECRET}}))
    assert.match(typo.message, /^source\.pasword: unknown key; passwords are not accepted/)
    assert.ok(!typo.message.includes(SECRET))
    const topLevel = keyError(() => validateFileConfig({password: SECRET}))
    assert.match(topLevel.message, /^password: passwords are not accepted/)
  })

  it('passwordEnv must be a variable name, and a bad one is not echoed', () => {
    const error = keyError(() => validateFileConfig({source: {...endpoint, passwordEnv: SECRET}}))
    assert.match(error.message, /^source\.passwordEnv: expected the name of an environment variable/)
    assert.ok(!error.message.includes(SECRET))
  })

  it('url excludes host, port and user; passwordEnv excludes passwordFile', () => {
    assert.match(
      keyError(() => validateFileConfig({source: {url: 'imaps://a@h', host: 'h'}})).message,
      /^source\.host: cannot be combined with source\.url/,
    )
    assert.match(keyError(() => validateFileConfig({source: {url: 'imaps://a@h', port: 1}})).message, /^source\.port: cannot/)
    assert.doesNotThrow(() => validateFileConfig({source: {url: 'imaps://a@h', tls: 'none'}}))
    assert.match(
      keyError(() => validateFileConfig({dest: {...endpoint, passwordFile: '/pw'}})).message,
      /^dest\.passwordFile: give only one of dest\.passwordEnv and dest\.passwordFile$/,
    )
  })
})
