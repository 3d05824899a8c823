/** Provider presets: what they set, per side, and that every value gives way to an explicit key, flag or setting. */
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {budgetLimits, describePreset, storeOptions} from '../../../src/app/open.js'
import {resolveSyncConfig, type SyncFlagValues} from '../../../src/config/load.js'
import {PROVIDERS} from '../../../src/config/providers.js'
import {ConfigError} from '../../../src/errors.js'

const ENV = {OLD_PW: 'old-secret', NEW_PW: 'new-secret'}
const dir = mkdtempSync(join(tmpdir(), 'mailferry-providers-'))
after(() => rmSync(dir, {recursive: true, force: true}))

let counter = 0
function resolveYaml(yaml: string, flags: SyncFlagValues = {}) {
  const path = join(dir, `c${++counter}.yaml`)
  writeFileSync(path, yaml, {mode: 0o600})
  return resolveSyncConfig({config: path, ...flags}, ENV, {platform: 'linux', homeDir: dir, defaultStateDir: dir})
}

const GMAIL_TO_M365 = `
source: {provider: gmail, user: alice@example.com, passwordEnv: OLD_PW}
dest: {provider: microsoft365, user: alice@contoso.com, passwordEnv: NEW_PW}
`

describe('provider presets', () => {
  it('gmail and microsoft365 set the endpoint, the limits of the destination and each side\'s sessions and back-off', () => {
    const {config} = resolveYaml(GMAIL_TO_M365)
    const {source, dest} = config
    assert.deepEqual([source.host, source.port, source.tls, source.provider], ['imap.gmail.com', 993, 'implicit', 'gmail'])
    assert.deepEqual([dest.host, dest.port, dest.tls, dest.provider], ['outlook.office365.com', 993, 'implicit', 'microsoft365'])
    // What an account accepts is about writing to it: only the destination's limits apply.
    assert.equal(source.maxMessageSize, undefined)
    assert.deepEqual([dest.maxMessageSize, dest.maxLineLength], [PROVIDERS.microsoft365.endpoint.maxMessageSize, 10_500])
    // The default concurrency (4) is under both caps; back-off per preset; Gmail's download budget only
    // as source, Microsoft 365's message rate only as destination.
    assert.deepEqual(config.sideSettings, {
      source: {retries: 12, retryMaxDelay: 120, maxBytesPerDay: 2_500_000_000, connections: 4},
      dest: {retries: 12, retryMaxDelay: 120, maxMessagesPerSecond: 1, connections: 4},
    })
    assert.equal(config.settings.retries, 8, 'the run-wide value is untouched')
    assert.equal(config.mapping!.gmailAllMail, false)
  })

  it('the stores get the preset values; the run log says what they are', () => {
    const {config, warnings} = resolveYaml(GMAIL_TO_M365 + 'concurrency: 16\n')
    const spec = {config, warnings}
    const source = storeOptions(spec, 'source', 'sync', {})
    const dest = storeOptions(spec, 'dest', 'sync', {})
    assert.deepEqual([source.connections, source.retry?.retries, source.retry?.maxDelayMs], [10, 12, 120_000])
    assert.deepEqual([dest.connections, dest.retry?.retries], [8, 12])
    assert.equal(
      describePreset(spec, 'dest'),
      'dest: provider microsoft365 (outlook.office365.com:993): 8 sessions, 12 retries up to 120 s apart, 1 messages/s, messages up to 36700160 bytes, lines up to 10500 bytes',
    )
    assert.equal(describePreset({config: {...config, source: {...config.source, provider: undefined}}, warnings}, 'source'), undefined)
  })

  it('every value gives way: the side\'s own keys, its flags, and the run\'s explicit settings (for both sides)', () => {
    const {config} = resolveYaml(
      `
source: {provider: gmail, host: 127.0.0.1, port: 10993, user: alice, passwordEnv: OLD_PW}
dest: {provider: microsoft365, user: bob, passwordEnv: NEW_PW, maxMessageSize: 157286400}
retries: 3
connections: 20
folders: {gmailAllMail: true}
`,
      {destTls: 'starttls', destPort: '1143', destMaxLineLength: '20000', settings: {maxMessagesPerSecond: '5'}},
    )
    assert.deepEqual([config.source.host, config.source.port, config.source.tls], ['127.0.0.1', 10993, 'implicit'])
    assert.deepEqual([config.dest.host, config.dest.port, config.dest.tls], ['outlook.office365.com', 1143, 'starttls'])
    assert.deepEqual([config.dest.maxMessageSize, config.dest.maxLineLength], [157_286_400, 20_000])
    assert.deepEqual(config.sideSettings, {source: {retryMaxDelay: 120, maxBytesPerDay: 2_500_000_000}, dest: {retryMaxDelay: 120}})
    assert.deepEqual([config.settings.retries, config.settings.connections, config.settings.maxMessagesPerSecond], [3, 20, 5])
    assert.equal(config.mapping!.gmailAllMail, true)
  })

  it('gmail as the destination: its daily upload budget, on that side only, unless the run sets one for both', () => {
    const yaml = `
source: {host: 127.0.0.1, user: alice, passwordEnv: OLD_PW}
dest: {provider: gmail, user: alice@example.com, passwordEnv: NEW_PW}
`
    const {config, warnings} = resolveYaml(yaml)
    assert.deepEqual(budgetLimits({config, warnings}), {source: {bytesPerDay: undefined, messagesPerHour: undefined}, dest: {bytesPerDay: 500_000_000, messagesPerHour: undefined}})
    assert.match(describePreset({config, warnings}, 'dest') ?? '', /, 500000000 bytes a day,/)
    const explicit = resolveYaml(yaml, {settings: {maxBytesPerDay: '1000'}})
    assert.deepEqual(budgetLimits(explicit), {source: {bytesPerDay: 1000, messagesPerHour: undefined}, dest: {bytesPerDay: 1000, messagesPerHour: undefined}})
  })

  it('gmail as the source: its daily download budget, on that side only', () => {
    const yaml = `
source: {provider: gmail, user: alice@example.com, passwordEnv: OLD_PW}
dest: {host: 127.0.0.1, user: alice, passwordEnv: NEW_PW}
`
    const {config, warnings} = resolveYaml(yaml)
    assert.deepEqual(budgetLimits({config, warnings}), {source: {bytesPerDay: 2_500_000_000, messagesPerHour: undefined}, dest: {bytesPerDay: undefined, messagesPerHour: undefined}})
    assert.match(describePreset({config, warnings}, 'source') ?? '', /, 2500000000 bytes a day/)
  })

  it('--source-provider names the preset from the command line; a URL keeps it and gives the user', () => {
    const {config} = resolveSyncConfig(
      {sourceProvider: 'gmail', source: 'imaps://alice@imap.gmail.com', sourcePasswordEnv: 'OLD_PW', destProvider: 'microsoft365', destUser: 'bob', destPasswordEnv: 'NEW_PW'},
      ENV,
      {platform: 'linux', defaultStateDir: dir},
    )
    assert.deepEqual([config.source.host, config.source.user, config.source.port, config.source.provider], ['imap.gmail.com', 'alice', 993, 'gmail'])
    assert.deepEqual([config.dest.host, config.dest.user, config.dest.provider], ['outlook.office365.com', 'bob', 'microsoft365'])
  })

  it('an unknown provider, or a destination limit under source:, is a config error at its line', () => {
    assert.throws(() => resolveYaml('source: {provider: yahoo, user: a}\n'), (e) => e instanceof ConfigError && /c\d+\.yaml:1:\d+: source\.provider: expected one of gmail, microsoft365, got "yahoo"/.test(e.message))
    assert.throws(() => resolveYaml('source: {provider: gmail, user: a, maxLineLength: 100}\n'), /source\.maxLineLength: only under dest:/)
    assert.throws(() => resolveSyncConfig({sourceProvider: 'aol'}, ENV), /--source-provider: expected one of gmail, microsoft365, got "aol"/)
    assert.throws(() => resolveYaml('source: {provider: gmail}\n'), /source: no user given: use --source imaps:\/\/USER@imap\.gmail\.com/)
  })
})
