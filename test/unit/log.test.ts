import assert from 'node:assert/strict'
import {chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, test} from 'node:test'

import {REDACTED, clearSecrets, createLogger, redact, registerSecret, silentLogger} from '../../src/log.js'

afterEach(() => clearSecrets())

describe('redact', () => {
  test('registered secrets, also percent-encoded and inside base64', () => {
    registerSecret('p@ss word!')
    assert.equal(redact('pw=p@ss word! and p%40ss%20word!'), `pw=${REDACTED} and ${REDACTED}`)
    const blob = Buffer.from('xx p@ss word! yy').toString('base64')
    assert.equal(redact(`data ${blob}`), `data ${REDACTED}`)
  })

  test('LOGIN arguments, AUTHENTICATE initial responses and SASL blobs, registered or not', () => {
    assert.equal(redact('A1 LOGIN "alice" "hunter2"'), `A1 LOGIN "alice" ${REDACTED}`)
    assert.equal(redact('A1 LOGIN alice {7+}'), `A1 LOGIN alice ${REDACTED}`)
    const xoauth = Buffer.from('user=alice\x01auth=Bearer ya29.abc\x01\x01').toString('base64')
    assert.equal(redact(`A2 AUTHENTICATE XOAUTH2 ${xoauth}`), `A2 AUTHENTICATE XOAUTH2 ${REDACTED}`)
    const plain = Buffer.from('\x00alice\x00hunter2').toString('base64')
    assert.equal(redact(`C: ${plain}`), `C: ${REDACTED}`)
    assert.equal(redact('Authorization: Bearer ya29.secret-token'), `Authorization: Bearer ${REDACTED}`)
    assert.equal(redact('{"access_token":"abc","refresh_token":"def"}'), `{"access_token":"${REDACTED}","refresh_token":"${REDACTED}"}`)
  })

  test('leaves ordinary text alone: hashes, paths, folder names', () => {
    const text = 'UID FETCH 1:5 (BODY.PEEK[]) /tmp/mailferry-test-abc/state.sqlite e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 Lists/fork'
    assert.equal(redact(text), text)
  })
})

describe('createLogger', () => {
  test('timestamped lines in a 0600 file, secrets redacted, the trace only when asked', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-log-'))
    try {
      const file = join(dir, 'run.log')
      writeFileSync(file, '')
      chmodSync(file, 0o644)
      registerSecret('s3cret')
      const log = createLogger({file, now: () => new Date('2026-01-02T03:04:05.000Z')})
      log.info('connected with s3cret')
      log.trace('C: A1 LOGIN "a" "b"')
      log.warn('two\nlines')
      log.close()
      assert.equal(statSync(file).mode & 0o777, 0o600)
      assert.equal(
        readFileSync(file, 'utf8'),
        `2026-01-02T03:04:05.000Z INFO  connected with ${REDACTED}\n2026-01-02T03:04:05.000Z WARN  two\\nlines\n`,
      )
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  test('with a log file, what comes after close() (a connection still logging out) goes nowhere, not to stderr', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-log-'))
    try {
      const file = join(dir, 'run.log')
      const stderr: string[] = []
      const log = createLogger({file, trace: true, stderr: {write: (text: string) => stderr.push(text)}})
      log.trace('S: P1 OK Logged in')
      log.close()
      log.trace('S: P9 OK Logout completed')
      log.info('late')
      assert.deepEqual(stderr, [])
      assert.match(readFileSync(file, 'utf8'), /^\S+ IMAP  S: P1 OK Logged in\n$/)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  test('a symbolic link at the log path is not followed: ELOOP, the target untouched', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-log-'))
    try {
      const target = join(dir, 'precious')
      writeFileSync(target, 'keep me\n')
      chmodSync(target, 0o644)
      const link = join(dir, 'run.log')
      symlinkSync(target, link)
      assert.throws(() => createLogger({file: link}), (error: NodeJS.ErrnoException) => error.code === 'ELOOP')
      assert.equal(readFileSync(target, 'utf8'), 'keep me\n')
      assert.equal(statSync(target).mode & 0o777, 0o644)
      // A dangling link is not followed either (it would create its target).
      const dangling = join(dir, 'dangling.log')
      symlinkSync(join(dir, 'created-through-link'), dangling)
      assert.throws(() => createLogger({file: dangling}), (error: NodeJS.ErrnoException) => error.code === 'ELOOP')
      assert.equal(existsSync(join(dir, 'created-through-link')), false)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  test('without a file the trace goes to stderr; without both, nothing is created', () => {
    const lines: string[] = []
    const log = createLogger({trace: true, stderr: {write: (t: string) => lines.push(t)}})
    log.info('not on stderr')
    log.trace('S: * OK')
    assert.equal(lines.length, 1)
    assert.match(lines[0], /IMAP  S: \* OK\n$/)
    assert.equal(createLogger({}), silentLogger)
  })
})
