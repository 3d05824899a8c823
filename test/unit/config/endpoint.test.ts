/** The endpoint keys table: flags derived per side, one parser for a key and its flag, the layers' rules. */
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {accountFlags} from '../../../src/cli/flags.js'
import {mappingFlags} from '../../../src/cli/mapping-flags.js'
import {ENDPOINT_KEYS, ENDPOINT_KEY_NAMES, endpointFlagInput, validateEndpoint} from '../../../src/config/endpoint.js'
import {resolveSyncConfig} from '../../../src/config/load.js'
import {FOLDERS_KEYS} from '../../../src/config/mapping.js'
import {longestLine} from '../../../src/check/admission.js'

const ENV = {OLD_PW: 'old-secret', NEW_PW: 'new-secret'}

describe('endpoint keys', () => {
  it('every key has a flag per side, named after it, but oauth2 (YAML only), allowPlaintext (one for both) and the destination limits', () => {
    const flags = Object.keys(accountFlags).sort()
    const expected = ['config', 'allow-plaintext']
    for (const side of ['source', 'dest']) {
      for (const name of ENDPOINT_KEY_NAMES) {
        if (name === 'oauth2' || name === 'allowPlaintext' || (side === 'source' && ENDPOINT_KEYS[name].sides)) continue
        expected.push(name === 'url' ? side : `${side}-${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`)
      }
    }
    assert.deepEqual(flags, expected.sort())
    assert.ok(flags.includes('source-ca-file') && flags.includes('dest-max-line-length') && !flags.includes('source-max-line-length'))
    assert.deepEqual(Object.keys(mappingFlags), FOLDERS_KEYS.map((key) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)))
  })

  it('a flag is checked by its key\'s parser: the same message, naming the key or the flag', () => {
    assert.throws(() => validateEndpoint({port: 'x'}, 'source'), /^ConfigKeyError: source\.port: expected an integer 1-65535, got "x" \(string\)$/)
    assert.throws(() => endpointFlagInput('source', {sourcePort: 'x'}), /^ConfigKeyError: --source-port: expected an integer 1-65535, got "x" \(string\)$/)
    assert.deepEqual(endpointFlagInput('dest', {destPort: '1143', destMinTls: '1.3', destInsecure: true, destPasswordPrompt: false}), {port: 1143, minTls: '1.3', insecure: true})
  })

  it('the rules of one layer hold for flags as for the file', () => {
    assert.throws(() => endpointFlagInput('source', {source: 'imaps://a@h', sourceHost: 'x'}), /--source-host: cannot be combined with --source/)
    assert.throws(() => validateEndpoint({tokenEnv: 'A', tokenCommand: 'b'}, 'dest'), /dest\.tokenCommand: give only one of dest\.tokenEnv and dest\.tokenCommand/)
    assert.throws(() => endpointFlagInput('dest', {destTokenEnv: 'A', destTokenFile: 'b'}), /--dest-token-file: give only one of --dest-token-env and --dest-token-file/)
  })

  it('flags over the file: a host over the URL\'s keeps its user; a password prompt replaces the file\'s password', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailferry-endpoint-'))
    try {
      const path = join(dir, 'c.yaml')
      writeFileSync(path, 'source: {url: "imaps://alice@old.example.com", passwordEnv: OLD_PW}\ndest: {url: "imaps://bob@new.example.com", passwordEnv: NEW_PW}\n')
      const {config} = resolveSyncConfig({config: path, sourceHost: '127.0.0.1', destPasswordPrompt: true}, ENV, {platform: 'linux', defaultStateDir: dir})
      assert.deepEqual([config.source.host, config.source.user, config.source.password], ['127.0.0.1', 'alice', 'old-secret'])
      assert.equal(config.dest.password, undefined)
      assert.equal(config.dest.passwordSource, undefined)
      assert.equal(typeof config.dest.auth?.promptPassword, 'function')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('longestLine', () => {
  it('counts bytes without the line end, the last line too', () => {
    assert.equal(longestLine(Buffer.from('ab\r\nabcd\nabc')), 4)
    assert.equal(longestLine(Buffer.from('a\r\n\r\n' + 'x'.repeat(10))), 10)
    assert.equal(longestLine(Buffer.from('')), 0)
  })
})
