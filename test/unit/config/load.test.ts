import assert from 'node:assert/strict'
import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {ConfigError, ExitCode} from '../../../src/errors.js'
import {DEFAULT_MAPPING} from '../../../src/config/mapping.js'
import {defaultSettings} from '../../../src/config/settings.js'
import {parseConfigText} from '../../../src/config/config-file.js'
import {isLoopbackHost, resolveSyncConfig, type ResolveOptions, type SyncFlagValues} from '../../../src/config/load.js'
import {defaultStateFileName} from '../../../src/config/paths.js'

const SECRET = 'Zq9-Wombat-Secret!'
const OTHER_SECRET = 'Kx7-Pangolin-Secret?'
const ENV = {OLD_PW: SECRET, NEW_PW: OTHER_SECRET}
const OPTIONS: ResolveOptions = {defaultStateDir: '/var/lib/mailferry', platform: 'linux', homeDir: '/home/alice'}
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'

let dir: string
let counter = 0

function file(content: string, mode = 0o600, name = `f${++counter}`): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  chmodSync(path, mode)
  return path
}

function assertNoSecret(text: string): void {
  assert.ok(!text.includes(SECRET) && !text.includes(OTHER_SECRET), `a password leaked into: ${text}`)
}

function configError(run: () => unknown): ConfigError {
  try {
    run()
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`)
    assert.equal(error.exitCode, ExitCode.config)
    assertNoSecret(error.message)
    assertNoSecret(String(error.stack))
    assertNoSecret(String(error.hint ?? ''))
    assert.ok(!error.message.includes('\n'), `not one line: ${error.message}`)
    return error
  }
  assert.fail('expected a ConfigError')
}

function resolve(flags: SyncFlagValues, env: NodeJS.ProcessEnv = ENV, options: ResolveOptions = OPTIONS) {
  const result = resolveSyncConfig(flags, env, options)
  for (const warning of result.warnings) assertNoSecret(warning)
  return result
}

const BOTH_URLS: SyncFlagValues = {
  source: 'imaps://alice@old.example.com',
  dest: 'imap://alice%40example.com@new.example.com:1143',
  sourcePasswordEnv: 'OLD_PW',
  destPasswordEnv: 'NEW_PW',
}

const FULL_YAML = `
source:
  host: old.example.com
  port: 10993
  tls: implicit
  user: alice
  passwordEnv: OLD_PW
dest:
  url: imap://alice@new.example.com
  passwordFile: pw/new
state: ./alice.mailferry.sqlite
concurrency: 8
`

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mailferry-load-'))
})
after(() => rmSync(dir, {recursive: true, force: true}))

describe('resolveSyncConfig: flags only', () => {
  it('builds both endpoints from URLs, with defaults', () => {
    const {config, warnings} = resolve(BOTH_URLS)
    assert.deepEqual(warnings, [])
    assert.deepEqual(config.source, {
      host: 'old.example.com',
      port: 993,
      tls: 'implicit',
      tlsOptions: {verify: true},
      user: 'alice',
      passwordSource: {kind: 'env', name: 'OLD_PW'},
      password: SECRET,
    })
    assert.deepEqual(config.dest, {
      host: 'new.example.com',
      port: 1143,
      tls: 'starttls',
      tlsOptions: {verify: true},
      user: 'alice@example.com',
      passwordSource: {kind: 'env', name: 'NEW_PW'},
      password: OTHER_SECRET,
    })
    assert.equal(config.settings.concurrency, 4)
    assert.equal(
      config.statePath,
      '/var/lib/mailferry/alice@old.example.com-993--alice@example.com@new.example.com-1143.sqlite',
    )
  })

  it('imap:// defaults to port 143', () => {
    const {config} = resolve({...BOTH_URLS, dest: 'imap://bob@new.example.com'})
    assert.equal(config.dest.port, 143)
  })

  it('--source-tls overrides the scheme', () => {
    const {config, warnings} = resolve({...BOTH_URLS, source: 'imap://u@127.0.0.1:1143', sourceTls: 'none'})
    assert.equal(config.source.tls, 'none')
    assert.equal(config.source.port, 1143)
    assert.deepEqual(warnings, [])
  })

  it('without a port in the URL, the default port follows the final TLS mode', () => {
    const {config} = resolve({...BOTH_URLS, source: 'imaps://u@old.example.com', sourceTls: 'starttls'})
    assert.equal(config.source.port, 143)
  })

  it('reads the password from a file given by flag', () => {
    const pw = file(`${SECRET}\n`)
    const {config} = resolve({...BOTH_URLS, sourcePasswordEnv: undefined, sourcePasswordFile: pw})
    assert.equal(config.source.password, SECRET)
    assert.deepEqual(config.source.passwordSource, {kind: 'file', path: pw})
  })

  it('--state and --concurrency', () => {
    const {config} = resolve({...BOTH_URLS, settings: {state: 'here.sqlite', concurrency: 12}})
    assert.equal(config.statePath, 'here.sqlite')
    assert.equal(config.settings.concurrency, 12)
  })

  it('expands ~ in path flags', () => {
    const {config} = resolve({...BOTH_URLS, settings: {state: '~/m.sqlite'}})
    assert.equal(config.statePath, '/home/alice/m.sqlite')
  })

  it('the default state directory is ./', () => {
    const {config} = resolveSyncConfig(BOTH_URLS, ENV)
    assert.equal(config.statePath, 'alice@old.example.com-993--alice@example.com@new.example.com-1143.sqlite')
  })

  it('env defaults to process.env', () => {
    process.env.MAILFERRY_TEST_PW_A = SECRET
    process.env.MAILFERRY_TEST_PW_B = OTHER_SECRET
    try {
      const {config} = resolveSyncConfig({...BOTH_URLS, sourcePasswordEnv: 'MAILFERRY_TEST_PW_A', destPasswordEnv: 'MAILFERRY_TEST_PW_B'})
      assert.equal(config.source.password, SECRET)
    } finally {
      delete process.env.MAILFERRY_TEST_PW_A
      delete process.env.MAILFERRY_TEST_PW_B
    }
  })
})

describe('resolveSyncConfig: flag errors', () => {
  it('missing source or dest', () => {
    assert.equal(
      configError(() => resolve({dest: BOTH_URLS.dest, destPasswordEnv: 'NEW_PW'})).message,
      'no source given: use --source URL or a `source:` section in --config FILE',
    )
    assert.equal(
      configError(() => resolve({source: BOTH_URLS.source, sourcePasswordEnv: 'OLD_PW'})).message,
      'no dest given: use --dest URL or a `dest:` section in --config FILE',
    )
    assert.match(configError(() => resolve({})).message, /^no source given/)
    assert.match(configError(() => resolve({sourcePasswordEnv: 'OLD_PW', dest: BOTH_URLS.dest})).message, /^no source given/)
  })

  it('a password in a URL flag is refused without echoing it', () => {
    const error = configError(() => resolve({...BOTH_URLS, source: `imaps://alice:${SECRET}@old.example.com`}))
    assert.equal(error.message, '--source: do not put passwords in URLs; use --source-password-env or --source-password-file')
    const dest = configError(() => resolve({...BOTH_URLS, dest: `imap://alice:${OTHER_SECRET}@h`}))
    assert.equal(dest.message, '--dest: do not put passwords in URLs; use --dest-password-env or --dest-password-file')
  })

  it('bad URLs name the flag', () => {
    assert.match(configError(() => resolve({...BOTH_URLS, dest: 'http://a@h'})).message, /^--dest: unsupported scheme/)
    assert.match(configError(() => resolve({...BOTH_URLS, source: 'imaps://old.example.com'})).message, /^--source: no user/)
    assert.match(configError(() => resolve({...BOTH_URLS, source: 'imaps://a@'})).message, /^--source: no host/)
    assert.match(configError(() => resolve({...BOTH_URLS, source: ''})).message, /^--source: /)
  })

  it('bad --source-tls / --concurrency / --source-password-env', () => {
    assert.equal(
      configError(() => resolve({...BOTH_URLS, sourceTls: 'ssl'})).message,
      '--source-tls: expected one of implicit, starttls, none, got "ssl" (string)',
    )
    assert.match(configError(() => resolve({...BOTH_URLS, settings: {concurrency: 0}})).message, /^--concurrency: expected an integer 1-64, got 0/)
    assert.match(configError(() => resolve({...BOTH_URLS, settings: {concurrency: 65}})).message, /^--concurrency: /)
    assert.match(configError(() => resolve({...BOTH_URLS, destPasswordEnv: 'not a name'})).message, /^--dest-password-env: /)
    assert.match(configError(() => resolve({...BOTH_URLS, settings: {state: ''}})).message, /^--state: expected a file path/)
  })

  it('both password flags for one side is an error', () => {
    const error = configError(() => resolve({...BOTH_URLS, sourcePasswordFile: '/x'}))
    assert.match(error.message, /give only one of --source-password-env and --source-password-file/)
  })

  it('no password configured: names the side and how to give one', () => {
    const error = configError(() => resolve({...BOTH_URLS, destPasswordEnv: undefined}))
    assert.match(error.message, /^no password configured for dest: use --dest-password-env NAME/)
  })

  it('an unset or empty variable names it', () => {
    assert.equal(
      configError(() => resolve({...BOTH_URLS, sourcePasswordEnv: 'NOPE_PW'})).message,
      'source password: environment variable NOPE_PW is not set',
    )
    assert.match(configError(() => resolve(BOTH_URLS, {...ENV, NEW_PW: ''})).message, /NEW_PW is set but empty/)
  })

  it('a missing password file names it', () => {
    const path = join(dir, 'no-such-pw')
    assert.equal(
      configError(() => resolve({...BOTH_URLS, destPasswordEnv: undefined, destPasswordFile: path})).message,
      `dest password file ${path} does not exist`,
    )
  })

  it('a password file open to others is a warning, with its mode and no password', () => {
    const path = file(`${OTHER_SECRET}\n`, 0o644)
    const {config, warnings} = resolve({...BOTH_URLS, destPasswordEnv: undefined, destPasswordFile: path})
    assert.equal(config.dest.password, OTHER_SECRET)
    assert.equal(warnings.length, 1)
    assert.match(warnings[0], /^dest password file /)
    assert.ok(warnings[0].includes(path))
    assert.match(warnings[0], /0644.*should be 0600/)
  })

  it('no mode warnings on Windows', () => {
    const path = file(`${OTHER_SECRET}\n`, 0o644)
    const {warnings} = resolve({...BOTH_URLS, destPasswordEnv: undefined, destPasswordFile: path}, ENV, {...OPTIONS, platform: 'win32'})
    assert.deepEqual(warnings, [])
  })

  it('plaintext to a remote host is refused (exit 2, side, host, hint) unless allowed, then a warning; loopback is fine', () => {
    const refused = configError(() => resolve({...BOTH_URLS, sourceTls: 'none'}))
    assert.equal(refused.message, 'source: tls none (plaintext) to host old.example.com, which is not a loopback address')
    assert.match(refused.hint ?? '', /--allow-plaintext \(allowPlaintext: true under source: in the config file\)/)
    for (const host of ['10.0.0.1', '192.168.1.1', '[2001:db8::1]', '128.0.0.1', 'localhost.example.com', '[::2]']) {
      assert.match(configError(() => resolve({...BOTH_URLS, dest: `imap://a@${host}:10144`, destTls: 'none'})).message, /^dest: tls none \(plaintext\) to host /)
    }
    const {warnings} = resolve({...BOTH_URLS, sourceTls: 'none', allowPlaintext: true})
    assert.deepEqual(warnings, ['source: plaintext connection to host old.example.com, the password travels unencrypted'])
    for (const host of ['127.0.0.1', 'localhost', '[::1]', '127.1.2.3', '[::ffff:127.0.0.1]']) {
      assert.deepEqual(resolve({...BOTH_URLS, dest: `imap://a@${host}:10144`, destTls: 'none'}).warnings, [])
    }
  })

  it('allowPlaintext in the file is per side', () => {
    const config = file('source: {url: "imap://u@old.example", tls: none, allowPlaintext: true, passwordEnv: OLD_PW}\ndest: {url: "imap://u@new.example", tls: none, passwordEnv: NEW_PW}\n')
    assert.match(configError(() => resolve({config})).message, /^dest: tls none \(plaintext\) to host new\.example/)
    const {warnings} = resolve({config, allowPlaintext: true})
    assert.equal(warnings.length, 2)
    assert.match(configError(() => resolve({config: file('source: {url: "imap://u@old.example", allowPlaintext: yes, passwordEnv: OLD_PW}\n')})).message, /allowPlaintext/)
  })
})

describe('resolveSyncConfig: YAML file', () => {
  it('reads every key; relative paths are taken from the file directory', () => {
    file(`${OTHER_SECRET}\n`, 0o600, 'pw-new')
    const config = file(FULL_YAML.replace('pw/new', 'pw-new'))
    const result = resolve({config})
    assert.deepEqual(result.warnings, [])
    assert.deepEqual(result.config, {
      source: {
        host: 'old.example.com',
        port: 10993,
        tls: 'implicit',
        tlsOptions: {verify: true},
        user: 'alice',
        passwordSource: {kind: 'env', name: 'OLD_PW'},
        password: SECRET,
      },
      dest: {
        host: 'new.example.com',
        port: 143,
        tls: 'starttls',
        tlsOptions: {verify: true},
        user: 'alice',
        passwordSource: {kind: 'file', path: join(dir, 'pw-new')},
        password: OTHER_SECRET,
      },
      statePath: join(dir, 'alice.mailferry.sqlite'),
      mapping: DEFAULT_MAPPING,
      settings: {...defaultSettings(), state: join(dir, 'alice.mailferry.sqlite'), concurrency: 8},
    })
  })

  it('tls defaults to implicit and the port to the mode default', () => {
    const config = file('source: {host: a.example, user: u, passwordEnv: OLD_PW}\ndest: {host: b.example, user: u, tls: starttls, passwordEnv: NEW_PW}\n')
    const result = resolve({config})
    assert.equal(result.config.source.tls, 'implicit')
    assert.equal(result.config.source.port, 993)
    assert.equal(result.config.dest.port, 143)
  })

  it('tls: next to url: overrides the scheme', () => {
    const config = file('source: {url: "imap://u@127.0.0.1:10143", tls: none, passwordEnv: OLD_PW}\ndest: {url: "imaps://u@[::1]", passwordEnv: NEW_PW}\n')
    const result = resolve({config})
    assert.equal(result.config.source.tls, 'none')
    assert.equal(result.config.source.port, 10143)
    assert.equal(result.config.dest.host, '::1')
    assert.equal(result.config.dest.port, 993)
  })

  it('a flag for one side overrides only that key', () => {
    const config = file(FULL_YAML.replace('pw/new', 'pw-new'))
    file(`${OTHER_SECRET}\n`, 0o600, 'pw-new')
    const {config: c, warnings} = resolve({config, destTls: 'none', allowPlaintext: true})
    assert.equal(c.dest.tls, 'none')
    assert.equal(c.dest.host, 'new.example.com')
    assert.equal(c.dest.user, 'alice')
    assert.deepEqual(c.dest.passwordSource, {kind: 'file', path: join(dir, 'pw-new')})
    assert.equal(c.source.port, 10993, 'the other side is untouched')
    assert.deepEqual(warnings, ['dest: plaintext connection to host new.example.com, the password travels unencrypted'])
  })

  it('--dest-tls keeps an explicit port from the file', () => {
    const config = file('source: {url: "imaps://u@a.example", passwordEnv: OLD_PW}\ndest: {host: 127.0.0.1, port: 10144, user: u, passwordEnv: NEW_PW}\n')
    const {config: c} = resolve({config, destTls: 'none'})
    assert.equal(c.dest.port, 10144)
    assert.equal(c.dest.tls, 'none')
  })

  it('--source URL replaces the address from the file but keeps password and TLS options', () => {
    const ca = file(PEM, 0o644)
    const config = file(`source:\n  host: old.example.com\n  port: 10993\n  user: alice\n  passwordEnv: OLD_PW\n  caFile: ${ca}\n  servername: imap.example.com\ndest:\n  url: imaps://bob@new.example.com\n  passwordEnv: NEW_PW\n`)
    const {config: c} = resolve({config, source: 'imap://carol@other.example.com'})
    assert.equal(c.source.host, 'other.example.com')
    assert.equal(c.source.user, 'carol')
    assert.equal(c.source.tls, 'starttls')
    assert.equal(c.source.port, 143, 'a port from the file does not survive a new URL')
    assert.deepEqual(c.source.tlsOptions, {verify: true, caFile: ca, servername: 'imap.example.com'})
    assert.equal(c.source.password, SECRET)
  })

  it('password flags override the file (env over file and vice versa)', () => {
    const pw = file(`${SECRET}\n`)
    const config = file(FULL_YAML.replace('pw/new', 'does-not-exist'))
    const {config: c} = resolve({config, destPasswordEnv: 'NEW_PW', sourcePasswordFile: pw})
    assert.deepEqual(c.dest.passwordSource, {kind: 'env', name: 'NEW_PW'})
    assert.deepEqual(c.source.passwordSource, {kind: 'file', path: pw})
  })

  it('--state and --concurrency override the file', () => {
    const config = file(FULL_YAML.replace('pw/new', 'pw-new'))
    file(`${OTHER_SECRET}\n`, 0o600, 'pw-new')
    const {config: c} = resolve({config, settings: {state: 's.sqlite', concurrency: 2}})
    assert.equal(c.statePath, 's.sqlite')
    assert.equal(c.settings.concurrency, 2)
  })

  it('~ in the file expands to the home directory', () => {
    const config = file('source: {url: "imaps://u@a.example", passwordEnv: OLD_PW}\ndest: {url: "imaps://u@b.example", passwordEnv: NEW_PW}\nstate: ~/x.sqlite\n')
    assert.equal(resolve({config}).config.statePath, '/home/alice/x.sqlite')
  })

  it('an empty file gives "no source given"', () => {
    const config = file('')
    assert.match(configError(() => resolve({config})).message, /^no source given/)
  })

  it('sides can mix: source from flags, dest from the file', () => {
    const config = file('dest: {url: "imaps://u@b.example", passwordEnv: NEW_PW}\n')
    const {config: c} = resolve({config, source: 'imaps://a@a.example', sourcePasswordEnv: 'OLD_PW'})
    assert.equal(c.source.host, 'a.example')
    assert.equal(c.dest.host, 'b.example')
  })

  it('a side without host or user', () => {
    const noHost = file('source: {user: u, passwordEnv: OLD_PW}\ndest: {url: "imaps://u@b.example", passwordEnv: NEW_PW}\n')
    assert.match(configError(() => resolve({config: noHost})).message, /^source: no host given/)
    const noUser = file('source: {host: a.example, passwordEnv: OLD_PW}\ndest: {url: "imaps://u@b.example", passwordEnv: NEW_PW}\n')
    assert.match(configError(() => resolve({config: noUser})).message, /^source: no user given/)
  })

  it('a readable config file is fine; a group/world-writable one is only a warning', () => {
    const text = 'source: {url: "imaps://u@a.example", passwordEnv: OLD_PW}\ndest: {url: "imaps://u@b.example", passwordEnv: NEW_PW}\n'
    assert.deepEqual(resolve({config: file(text, 0o644)}).warnings, [])
    const config = file(text, 0o666)
    const {warnings} = resolve({config})
    assert.equal(warnings.length, 1)
    assert.match(warnings[0], /^config file .* writable by group\/others \(mode 0666\)/)
    assert.ok(warnings[0].includes(config))
  })
})

describe('resolveSyncConfig: YAML errors', () => {
  it('a missing file names the path', () => {
    const path = join(dir, 'missing.yaml')
    assert.equal(configError(() => resolve({config: path})).message, `config file ${path} does not exist`)
  })

  it('malformed YAML gives file:line:col on one line', () => {
    const path = file('source:\n  host: a\n   port: 3\n')
    assert.match(configError(() => resolve({config: path})).message, new RegExp(`^${path}:2:9: Nested mappings`))
    const unclosed = file('source:\n  host: [a, b\nstate: x\n')
    assert.match(configError(() => resolve({config: unclosed})).message, new RegExp(`^${unclosed}:\\d+:\\d+: `))
  })

  it('duplicate keys are an error with their position', () => {
    const path = file('state: a\nstate: b\n')
    assert.match(configError(() => resolve({config: path})).message, new RegExp(`^${path}:2:1: Map keys must be unique`))
  })

  it('several documents in one file are refused', () => {
    const path = file('state: a\n---\nstate: b\n')
    assert.match(configError(() => resolve({config: path})).message, new RegExp(`^${path}:\\d+:\\d+: the file holds several YAML documents`))
  })

  it('an unresolved alias names the file', () => {
    const path = file('state: *nope\n')
    assert.match(configError(() => resolve({config: path})).message, new RegExp(`^${path}(:\\d+:\\d+)?: `))
  })

  it('validation errors point at the key', () => {
    const path = file('source:\n  host: a.example\n  port: abc\n')
    assert.equal(
      configError(() => resolve({config: path})).message,
      `${path}:3:3: source.port: expected an integer 1-65535, got "abc" (string)`,
    )
    const typo = file('source:\n  host: a.example\n  pasword: x\n')
    assert.match(configError(() => resolve({config: typo})).message, new RegExp(`^${typo}:3:3: source\\.pasword: unknown key`))
  })

  it('a password in the file is refused, pointing at the key, without the value', () => {
    const path = file(`source:\n  url: imaps://alice@old.example.com\n  password: ${SECRET}\n`)
    const error = configError(() => resolve({config: path}))
    assert.match(error.message, new RegExp(`^${path}:3:3: source\\.password: passwords are not accepted`))
    assert.match(error.message, /passwordEnv/)
    assert.match(error.message, /passwordFile/)
  })

  it('a password in a URL in the file is refused', () => {
    const path = file(`source:\n  url: "imaps://alice:${SECRET}@old.example.com"\n`)
    const error = configError(() => resolve({config: path}))
    assert.equal(error.message, `${path}:2:3: source.url: do not put passwords in URLs; use source.passwordEnv or source.passwordFile`)
  })

  it('a syntax error next to a secret does not echo it', () => {
    const path = file(`source:\n  password: "${SECRET}\n`)
    configError(() => resolve({config: path}))
    const path2 = file(`- a\n${SECRET}: 2\n`)
    configError(() => resolve({config: path2}))
  })
})

describe('resolveSyncConfig: TLS options', () => {
  const yaml = (extra: string) =>
    file(`source:\n  url: imaps://alice@old.example.com\n  passwordEnv: OLD_PW\n${extra}dest:\n  url: imaps://alice@new.example.com\n  passwordEnv: NEW_PW\n`)

  it('insecure: true turns verification off, with a warning', () => {
    const {config, warnings} = resolve({config: yaml('  insecure: true\n')})
    assert.equal(config.source.tlsOptions.verify, false)
    assert.deepEqual(warnings, ['TLS certificate verification is off for source (insecure: true)'])
  })

  it('insecure: false is the default', () => {
    const {config, warnings} = resolve({config: yaml('  insecure: false\n')})
    assert.equal(config.source.tlsOptions.verify, true)
    assert.deepEqual(warnings, [])
  })

  it('caFile must exist', () => {
    const error = configError(() => resolve({config: yaml('  caFile: ca/missing.pem\n')}))
    assert.equal(error.message, `source caFile ${join(dir, 'ca/missing.pem')} does not exist`)
  })

  it('caFile must be PEM', () => {
    const notPem = file('hello')
    assert.match(configError(() => resolve({config: yaml(`  caFile: ${notPem}\n`)})).message, /is not a PEM file/)
  })

  it('caFile, relative to the config file', () => {
    file(PEM, 0o644, 'ca.pem')
    const {config, warnings} = resolve({config: yaml('  caFile: ca.pem\n  servername: imap.example.com\n')})
    assert.deepEqual(config.source.tlsOptions, {verify: true, caFile: join(dir, 'ca.pem'), servername: 'imap.example.com'})
    assert.deepEqual(warnings, [])
  })

  it('TLS options with tls: none are ignored with a warning', () => {
    const {config, warnings} = resolve({config: yaml('  insecure: true\n  caFile: /nowhere.pem\n'), sourceTls: 'none', allowPlaintext: true})
    assert.equal(config.source.tls, 'none')
    assert.equal(warnings.length, 2)
    assert.match(warnings[0], /^source: caFile, insecure ignored with tls: none/)
    assert.match(warnings[1], /plaintext connection to host old\.example\.com/)
  })
})

describe('defaultStateFileName', () => {
  it('uses only safe characters and never a password', () => {
    const name = defaultStateFileName({user: 'alice', host: 'Old.Example.com', port: 993}, {user: 'alice@example.com', host: 'new.example.com', port: 143})
    assert.equal(name, 'alice@old.example.com-993--alice@example.com@new.example.com-143.sqlite')
  })

  it('replaces unsafe characters and adds a hash so different pairs do not collide', () => {
    const a = defaultStateFileName({user: 'a b/../c', host: '::1', port: 1}, {user: 'd', host: 'h', port: 2})
    const b = defaultStateFileName({user: 'a-b/../c', host: '::1', port: 1}, {user: 'd', host: 'h', port: 2})
    for (const name of [a, b]) assert.match(name, /^[A-Za-z0-9._@-]+\.sqlite$/)
    assert.notEqual(a, b)
  })

  it('stays short', () => {
    const name = defaultStateFileName({user: 'u'.repeat(300), host: 'h', port: 1}, {user: 'd', host: 'h', port: 2})
    assert.ok(name.length <= 210)
    assert.match(name, /^[A-Za-z0-9._@-]+\.sqlite$/)
  })

  it('differs by port (two local servers on one host)', () => {
    const a = defaultStateFileName({user: 'alice', host: '127.0.0.1', port: 10143}, {user: 'alice', host: '127.0.0.1', port: 10144})
    const b = defaultStateFileName({user: 'alice', host: '127.0.0.1', port: 20143}, {user: 'alice', host: '127.0.0.1', port: 20144})
    assert.notEqual(a, b)
  })
})

describe('isLoopbackHost', () => {
  it('recognises loopback names and addresses', () => {
    for (const host of ['localhost', 'LOCALHOST', 'foo.localhost', '127.0.0.1', '127.255.0.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
      assert.equal(isLoopbackHost(host), true, host)
    }
    for (const host of ['example.com', '10.0.0.1', '128.0.0.1', '::2', 'localhost.example.com', '::ffff:10.0.0.1']) {
      assert.equal(isLoopbackHost(host), false, host)
    }
  })
})

describe('parseConfigText', () => {
  it('is pure and reports the origin given', () => {
    assert.deepEqual(parseConfigText('concurrency: 3\n', 'x.yaml'), {input: {concurrency: 3}, drafts: {}})
    assert.deepEqual(parseConfigText('dest: {url: "imap://u@h", passwordFile: pw}\n', 'x.yaml', (p) => `/base/${p}`).drafts, {
      dest: {host: 'h', tls: 'starttls', user: 'u', secret: {kind: 'file', path: '/base/pw'}},
    })
    assert.match(configError(() => parseConfigText('concurrency: [\n', 'x.yaml')).message, /^x\.yaml:\d+:\d+: /)
    assert.equal(configError(() => parseConfigText('- 1\n', 'x.yaml')).message.startsWith('x.yaml: (top level): expected a mapping'), true)
  })

  it('never echoes a file that is one line of text: it is most likely a password or token file', () => {
    const error = configError(() => parseConfigText('s3cret-Passw0rd\n', 'pw.txt'))
    assert.match(error.message, /^pw\.txt: \(top level\): expected a mapping .* got text that is not a mapping \(not shown: is it a password or token file\?\)$/)
    assert.ok(!error.message.includes('s3cret'))
  })
})

describe('the examples', () => {
  it('examples/migrate.yaml and examples/local.yaml are valid', () => {
    const root = new URL('../../../examples/', import.meta.url).pathname
    for (const name of ['migrate.yaml', 'local.yaml']) {
      const {config} = resolveSyncConfig({config: join(root, name)}, {OLD_PW: SECRET, NEW_PW: OTHER_SECRET, MAILFERRY_DEMO_PW: SECRET}, {
        ...OPTIONS,
        platform: 'win32',
      })
      assert.ok(config.source.host)
    }
  })

  it('examples/local.yaml: two local servers, plaintext, demo password env', () => {
    const root = new URL('../../../examples/', import.meta.url).pathname
    const {config, warnings} = resolveSyncConfig({config: join(root, 'local.yaml')}, {MAILFERRY_DEMO_PW: SECRET}, {...OPTIONS, platform: 'win32'})
    assert.deepEqual(warnings, [])
    assert.deepEqual(
      [config.source.host, config.source.port, config.source.tls, config.source.user],
      ['127.0.0.1', 10143, 'none', 'alice'],
    )
    assert.deepEqual([config.dest.host, config.dest.port, config.dest.tls, config.dest.user], ['127.0.0.1', 10144, 'none', 'alice'])
    assert.deepEqual(config.source.passwordSource, {kind: 'env', name: 'MAILFERRY_DEMO_PW'})
  })
})
