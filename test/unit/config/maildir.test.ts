/** `maildir:` sides: flags, YAML, state path, what does not apply to a directory. */
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve as resolvePath} from 'node:path'
import {after, describe, it} from 'node:test'

import {resolveRunConfig, resolveSyncConfig, type ResolveOptions, type SyncFlagValues} from '../../../src/config/load.js'
import {defaultStateFileName, MAILDIR_STATE_FILE} from '../../../src/config/paths.js'
import {describeStore, isMaildirConfig} from '../../../src/config/schema.js'
import {isMaildirUrl, parseMaildirUrl} from '../../../src/config/url.js'
import {ConfigError} from '../../../src/errors.js'

const SECRET = 'Zq9-Wombat-Secret!'
const ENV = {OLD_PW: SECRET}
const OPTIONS: ResolveOptions = {defaultStateDir: '/var/lib/mailferry', platform: 'linux', homeDir: '/home/alice'}
const IMAP_SOURCE: SyncFlagValues = {source: 'imaps://alice@old.example.com', sourcePasswordEnv: 'OLD_PW'}

const dir = mkdtempSync(join(tmpdir(), 'mailferry-maildir-config-'))
after(() => rmSync(dir, {recursive: true, force: true}))

const run = (flags: SyncFlagValues, env: NodeJS.ProcessEnv = ENV) => resolveRunConfig(flags, env, OPTIONS)

describe('maildir: URLs', () => {
  it('recognises and parses the forms', () => {
    assert.ok(isMaildirUrl('maildir:/x'))
    assert.ok(isMaildirUrl('MAILDIR:x'))
    assert.ok(!isMaildirUrl('imaps://u@h'))
    const context = {label: '--dest'}
    assert.equal(parseMaildirUrl('maildir:/srv/backup', context), '/srv/backup')
    assert.equal(parseMaildirUrl('maildir:rel/dir', context), 'rel/dir')
    assert.equal(parseMaildirUrl('maildir:~/b', context), '~/b')
    assert.equal(parseMaildirUrl('maildir:///srv/backup', context), '/srv/backup')
    assert.equal(parseMaildirUrl('maildir:/with space/100%', context), '/with space/100%', 'taken literally')
  })

  it('refuses what is not a path', () => {
    assert.throws(() => parseMaildirUrl('maildir:', {label: '--dest'}), /no path after maildir:/)
    assert.throws(() => parseMaildirUrl('maildir://host/x', {label: '--dest'}), /maildir:\/\/host/)
    assert.throws(() => parseMaildirUrl('maildir:/a\nb', {label: '--dest'}), /control characters/)
  })
})

describe('resolveRunConfig with a maildir side', () => {
  it('--dest maildir:/abs: no login, the state database inside the backup', () => {
    const {config, warnings} = run({...IMAP_SOURCE, dest: 'maildir:/srv/backup/alice'})
    assert.deepEqual(config.dest, {kind: 'maildir', path: '/srv/backup/alice'})
    assert.equal(config.statePath, join('/srv/backup/alice', MAILDIR_STATE_FILE))
    assert.ok(!isMaildirConfig(config.source) && config.source.password === SECRET)
    assert.deepEqual(warnings, [])
    assert.equal(describeStore(config.dest), 'maildir:/srv/backup/alice')
  })

  it('relative paths from the current directory, ~ from the home directory; --state still wins', () => {
    assert.deepEqual(run({...IMAP_SOURCE, dest: 'maildir:backup'}).config.dest, {kind: 'maildir', path: resolvePath('backup')})
    assert.deepEqual(run({...IMAP_SOURCE, dest: 'maildir:~/mail'}).config.dest, {kind: 'maildir', path: '/home/alice/mail'})
    assert.equal(run({...IMAP_SOURCE, dest: 'maildir:/b', settings: {state: '/s/x.sqlite'}}).config.statePath, '/s/x.sqlite')
  })

  it('--source maildir: (a restore): the state in the data directory, named by both sides', () => {
    const {config} = run({source: 'maildir:/srv/backup/alice', dest: 'imap://bob@new.example.com', destPasswordEnv: 'OLD_PW'})
    assert.deepEqual(config.source, {kind: 'maildir', path: '/srv/backup/alice'})
    assert.match(config.statePath, /^\/var\/lib\/mailferry\/maildir-alice--bob@new\.example\.com-143-[0-9a-f]{8}\.sqlite$/)
  })

  it('state file names: two Maildirs with the same last component differ; IMAP names are unchanged', () => {
    const imap = {user: 'a', host: 'h', port: 993}
    assert.notEqual(defaultStateFileName({kind: 'maildir', path: '/x/alice'}, imap), defaultStateFileName({kind: 'maildir', path: '/y/alice'}, imap))
    assert.equal(defaultStateFileName(imap, {user: 'b', host: 'H', port: 143}), 'a@h-993--b@h-143.sqlite')
  })

  it('TLS and password settings for a Maildir are ignored with a warning', () => {
    const {warnings} = run({...IMAP_SOURCE, dest: 'maildir:/b', destTls: 'none', destPasswordEnv: 'OLD_PW'})
    assert.deepEqual(warnings, ['dest: tls, password ignored for a maildir: directory (no login, no TLS)'])
  })

  it('YAML url: maildir:, relative to the file; a flag URL replaces it as a whole (and the other way round)', () => {
    const file = join(dir, 'backup.yaml')
    writeFileSync(file, 'source:\n  url: imaps://alice@old.example.com\n  passwordEnv: OLD_PW\ndest:\n  url: maildir:archive/alice\n', {mode: 0o600})
    const fromFile = run({config: file})
    assert.deepEqual(fromFile.config.dest, {kind: 'maildir', path: join(dir, 'archive/alice')})
    const overridden = run({config: file, dest: 'imaps://carol@new.example.com', destPasswordEnv: 'OLD_PW'})
    assert.ok(!isMaildirConfig(overridden.config.dest) && overridden.config.dest.host === 'new.example.com')
    const toMaildir = run({config: file, source: 'maildir:/m'})
    assert.deepEqual(toMaildir.config.source, {kind: 'maildir', path: '/m'})
  })

  it('resolveSyncConfig (commands that need two servers) refuses a maildir side', () => {
    assert.throws(() => resolveSyncConfig({...IMAP_SOURCE, dest: 'maildir:/b'}, ENV, OPTIONS), (error: unknown) => {
      assert.ok(error instanceof ConfigError)
      assert.match(error.message, /--dest: this command needs an IMAP account/)
      return true
    })
  })
})
