import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {AuthError, ConfigError} from '../../../src/errors.js'
import {
  firstLine,
  formatMode,
  isGroupOrWorldAccessible,
  modeWarning,
  passwordAdvice,
  readPassword,
  readTextFile,
  runSecretCommand,
} from '../../../src/credentials/secrets.js'

const SECRET = 'Zq9-Wombat-Secret!'
let dir: string

function configError(run: () => unknown): ConfigError {
  try {
    run()
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`)
    assert.ok(!error.message.includes(SECRET), 'the password leaked into the message')
    assert.ok(!String(error.stack).includes(SECRET), 'the password leaked into the stack')
    return error
  }
  assert.fail('expected a ConfigError')
}

function writeSecret(name: string, content: string, mode = 0o600): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  chmodSync(path, mode)
  return path
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mailferry-secrets-'))
})
after(() => rmSync(dir, {recursive: true, force: true}))

describe('small helpers', () => {
  it('formats modes as four octal digits', () => {
    assert.equal(formatMode(0o100644), '0644')
    assert.equal(formatMode(0o600), '0600')
    assert.equal(formatMode(0o40), '0040')
  })

  it('flags any group/other permission', () => {
    assert.equal(isGroupOrWorldAccessible(0o600), false)
    assert.equal(isGroupOrWorldAccessible(0o400), false)
    assert.equal(isGroupOrWorldAccessible(0o640), true)
    assert.equal(isGroupOrWorldAccessible(0o604), true)
  })

  it('takes the first line without its line end or a BOM', () => {
    assert.equal(firstLine('pw\n'), 'pw')
    assert.equal(firstLine('pw\r\nsecond\n'), 'pw')
    assert.equal(firstLine('pw'), 'pw')
    assert.equal(firstLine('\uFEFFpw\n'), 'pw')
    assert.equal(firstLine(' spaced pw \n'), ' spaced pw ')
    assert.equal(firstLine('\nsecond'), '')
  })

  it('mode warnings are skipped on Windows', () => {
    assert.equal(modeWarning('/x', 0o666, 'f', 'why', 'win32'), undefined)
    assert.equal(modeWarning('/x', 0o600, 'f', 'why', 'linux'), undefined)
    assert.match(String(modeWarning('/x', 0o644, 'f', 'why', 'linux')), /^f \/x .*0644/)
  })

  it('advice names the flags and keys of the side', () => {
    assert.match(passwordAdvice('dest'), /--dest-password-env/)
    assert.match(passwordAdvice('dest'), /--dest-password-file/)
    assert.match(passwordAdvice('dest'), /passwordEnv/)
  })
})

describe('readPassword from the environment', () => {
  it('returns the value', () => {
    assert.deepEqual(readPassword('source', {kind: 'env', name: 'OLD_PW'}, {OLD_PW: SECRET}), {password: SECRET, warnings: []})
  })

  it('a missing variable names the side and the variable', () => {
    const error = configError(() => readPassword('source', {kind: 'env', name: 'OLD_PW'}, {}))
    assert.equal(error.message, 'source password: environment variable OLD_PW is not set')
  })

  it('an empty variable is an error too', () => {
    const error = configError(() => readPassword('dest', {kind: 'env', name: 'NEW_PW'}, {NEW_PW: ''}))
    assert.match(error.message, /^dest password: environment variable NEW_PW is set but empty$/)
  })
})

describe('readPassword from a file', () => {
  it('reads the first line of a 0600 file without warnings', () => {
    const path = writeSecret('pw-ok', `${SECRET}\n`)
    assert.deepEqual(readPassword('source', {kind: 'file', path}, {}, 'linux'), {password: SECRET, warnings: []})
  })

  it('strips CRLF and ignores later lines', () => {
    const path = writeSecret('pw-crlf', `${SECRET}\r\nnot this\r\n`)
    assert.equal(readPassword('source', {kind: 'file', path}, {}, 'linux').password, SECRET)
  })

  it('warns about a file readable by group/others, naming the file and mode, without the password', () => {
    const path = writeSecret('pw-open', `${SECRET}\n`, 0o644)
    const {password, warnings} = readPassword('dest', {kind: 'file', path}, {}, 'linux')
    assert.equal(password, SECRET)
    assert.equal(warnings.length, 1)
    assert.ok(warnings[0].includes(path))
    assert.match(warnings[0], /0644/)
    assert.match(warnings[0], /should be 0600/)
    assert.ok(!warnings[0].includes(SECRET))
  })

  it('a missing file names the side and the file', () => {
    const path = join(dir, 'nope')
    const error = configError(() => readPassword('source', {kind: 'file', path}, {}))
    assert.equal(error.message, `source password file ${path} does not exist`)
    assert.equal(error.hint, 'check the path')
    const relative = configError(() => readPassword('source', {kind: 'file', path: 'nope-relative'}, {}))
    assert.equal(relative.hint, `check the path (relative to ${process.cwd()})`)
  })

  it('a directory is refused', () => {
    const path = join(dir, 'a-dir')
    mkdirSync(path)
    const error = configError(() => readPassword('source', {kind: 'file', path}, {}))
    assert.match(error.message, /is not a regular file$/)
    assert.equal(error.hint, 'give the path of a file, not of a directory')
  })

  it('an empty file (or empty first line) is refused', () => {
    const path = writeSecret('pw-empty', `\n${SECRET}\n`)
    const error = configError(() => readPassword('source', {kind: 'file', path}, {}))
    assert.match(error.message, /^source password file .* is empty/)
  })

  it('an unreadable file is refused, naming the file', {skip: process.getuid?.() === 0 && 'root can read anything'}, () => {
    const path = writeSecret('pw-locked', SECRET, 0o000)
    const error = configError(() => readPassword('source', {kind: 'file', path}, {}))
    assert.equal(error.message, `source password file ${path} cannot be read (permission denied)`)
  })

  it('no password source: says which side and how to give one', () => {
    const error = configError(() => readPassword('dest', undefined, {}))
    assert.match(error.message, /^no password configured for dest: use --dest-password-env NAME .* --dest-password-file PATH/)
  })
})

describe('readPassword from a command', () => {
  it('takes the first line of its output', () => {
    assert.equal(readPassword('source', {kind: 'command', command: `printf '%s\\nsecond\\n' '${SECRET}'`}, {}).password, SECRET)
  })

  it('a failing command or one that prints nothing: named, with a hint, never its output', async () => {
    const failed = configError(() => readPassword('source', {kind: 'command', command: `echo '${SECRET}'; exit 3`}, {}))
    assert.equal(failed.message, 'source passwordCommand: the command failed (exit 3)')
    assert.match(failed.hint ?? '', /run the command by hand/)
    const silent = configError(() => readPassword('dest', {kind: 'command', command: 'true'}, {}))
    assert.equal(silent.message, 'dest passwordCommand: the command printed nothing')
    assert.match(silent.hint ?? '', /first line/)

    // The asynchronous run (tokenCommand, refreshed during a run): an AuthError, the same words.
    const error = await runSecretCommand('source', 'tokenCommand', `echo '${SECRET}'; exit 4`, {PATH: process.env.PATH}).then(
      () => assert.fail('expected an AuthError'),
      (error: unknown) => error,
    )
    assert.ok(error instanceof AuthError)
    assert.equal(error.message, 'source tokenCommand: the command failed (exit 4)')
    assert.match(error.hint ?? '', /run the command by hand/)
    assert.ok(!String(error.stack).includes(SECRET))
  })
})

describe('readTextFile', () => {
  it('returns the text and mode', () => {
    const path = writeSecret('text', 'hello', 0o640)
    const file = readTextFile(path, 'config file')
    assert.equal(file.text, 'hello')
    assert.equal(file.mode & 0o777, 0o640)
  })
})
