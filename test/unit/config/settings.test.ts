/** The settings table: one parser for a key and its flag; defaults; merging; the flags derived from it. */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {settingFlags} from '../../../src/cli/flags.js'
import {ConfigKeyError} from '../../../src/config/checks.js'
import {FILE_SETTING_KEYS, SETTINGS, defaultSettings, flagName, resolveSettings, validateFileSettings} from '../../../src/config/settings.js'
import {TOP_LEVEL_KEYS} from '../../../src/config/validate.js'

const paths = {fromFile: (p: string) => `/etc/${p}`, fromFlag: (p: string) => `/cwd/${p}`}

describe('settings', () => {
  it('a flag takes what its YAML key takes: fractions for --max-age and --retry-max-delay', () => {
    assert.equal(validateFileSettings({maxAge: 0.5}).maxAge, 0.5)
    const settings = resolveSettings({}, {maxAge: '0.5', retryMaxDelay: '1.5', maxBytesPerSecond: '1e6'}, paths)
    assert.equal(settings.maxAge, 0.5)
    assert.equal(settings.retryMaxDelay, 1.5)
    assert.equal(settings.maxBytesPerSecond, 1_000_000)
  })

  it('the same check and message for both, naming the key or the flag', () => {
    assert.throws(() => validateFileSettings({retries: 1.5}), (e) => e instanceof ConfigKeyError && e.message === 'retries: expected an integer 0-1000, got 1.5 (number)')
    assert.throws(() => resolveSettings({}, {retries: '1.5'}, paths), (e) => e instanceof ConfigKeyError && e.message === '--retries: expected an integer 0-1000, got 1.5 (number)')
    assert.throws(() => resolveSettings({}, {maxAge: 'soon'}, paths), /^ConfigKeyError: --max-age: expected a number greater than 0, got "soon" \(string\)$/)
    assert.throws(() => resolveSettings({maxAge: 1, minAge: 2}, {}, paths), /--min-age: 2 days is not less than --max-age 1/)
  })

  it('--repair: a comma-separated list (or a YAML list) of known repairs, none by default', () => {
    assert.deepEqual(defaultSettings().repair, [])
    assert.deepEqual(resolveSettings({}, {repair: 'headers, nul,headers'}, paths).repair, ['headers', 'nul'])
    assert.deepEqual(validateFileSettings({repair: ['from-line', 'long-lines']}).repair, ['from-line', 'long-lines'])
    assert.throws(() => resolveSettings({}, {repair: 'headers,body'}, paths), /^ConfigKeyError: --repair: unknown repair "body"; expected headers, nul, from-line, long-lines$/)
    assert.throws(() => validateFileSettings({repair: 3}), /repair: expected a comma-separated list/)
  })

  it('defaults < file < flags; paths resolved by where they were written; a boolean flag not given keeps the file', () => {
    const defaults = defaultSettings()
    assert.equal(defaults.concurrency, 4)
    assert.equal(defaults.retries, 8)
    assert.equal(defaults.interval, 30)
    assert.equal(defaults.mirror, false)
    const merged = resolveSettings({retries: 2, logFile: 'a.log', concurrency: 3}, {retries: '5', mirror: false}, paths)
    assert.equal(merged.retries, 5)
    assert.equal(merged.concurrency, 3)
    assert.equal(merged.logFile, '/etc/a.log')
    assert.equal(resolveSettings({logFile: 'a.log'}, {logFile: 'b.log'}, paths).logFile, '/cwd/b.log')
  })

  it('the YAML top level knows exactly the settings with a key; flags exist exactly for the commands listed', () => {
    for (const key of FILE_SETTING_KEYS) assert.ok(TOP_LEVEL_KEYS.includes(key), key)
    assert.ok(!TOP_LEVEL_KEYS.includes('dryRun'))
    for (const command of ['sync', 'watch', 'plan', 'verify', 'check', 'batch'] as const) {
      const flags = Object.keys(settingFlags(command))
      const expected = Object.entries(SETTINGS)
        .filter(([, setting]) => setting.commands.includes(command))
        .map(([key]) => flagName(key as keyof typeof SETTINGS))
      assert.deepEqual(flags, expected, command)
    }
    assert.equal(flagName('retryMaxDelay'), 'retry-max-delay')
  })
})
