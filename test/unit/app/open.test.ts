/**
 * The composition root: every intent opens its stores with the same connectivity, and sync and watch
 * run the engine with the same policy, all from the run's settings.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {engineOptions, storeOptions, type Intent, type RunSpec} from '../../../src/app/open.js'
import {resolveSettings, type SettingFlagValues} from '../../../src/config/settings.js'

function spec(flags: SettingFlagValues, file: Record<string, unknown> = {}): RunSpec {
  const settings = resolveSettings(file, flags, {fromFile: (p) => `/file/${p}`, fromFlag: (p) => p})
  return {
    config: {source: {kind: 'maildir', path: '/a'}, dest: {kind: 'maildir', path: '/b'}, statePath: '/s.sqlite', settings},
    warnings: [],
  }
}

describe('openRun options', () => {
  it('every intent opens its stores with the retry policy, rate limits and connections of the settings', () => {
    const run = spec({retries: '3', retryMaxDelay: '1.5', maxMessagesPerSecond: '20', connections: '2'})
    for (const intent of ['sync', 'watch', 'plan', 'dry-run', 'verify'] as Intent[]) {
      for (const side of ['source', 'dest'] as const) {
        const options = storeOptions(run, side, intent, {})
        assert.deepEqual(options.retry, {retries: 3, initialDelayMs: 500, maxDelayMs: 1500}, `${intent} ${side}`)
        assert.ok(options.limits?.messages, `${intent} ${side}: messages per second limited`)
        assert.equal(options.connections, 2)
      }
    }
  })

  it('only sync and watch write the destination; only sync --move writes the source', () => {
    const readOnly = (intent: Intent, side: 'source' | 'dest', flags: SettingFlagValues = {}) => storeOptions(spec(flags), side, intent, {}).readOnly
    assert.deepEqual((['sync', 'watch', 'plan', 'dry-run', 'verify'] as Intent[]).map((i) => readOnly(i, 'dest')), [false, false, true, true, true])
    assert.equal(readOnly('sync', 'source'), true)
    assert.equal(readOnly('sync', 'source', {move: true}), false)
    assert.equal(readOnly('watch', 'source', {move: true}), true)
  })

  it("a pass gets maxErrors and the message selection from the YAML file, whoever runs it (watch's were dropped)", () => {
    const options = engineOptions(spec({}, {maxErrors: 5, maxAge: 30, minAge: 0.5, maxSize: 1000}))
    assert.equal(options.policy?.maxErrors, 5)
    assert.deepEqual(options.policy?.selection, {maxAgeDays: 30, minAgeDays: 0.5, maxSize: 1000})
  })
})
