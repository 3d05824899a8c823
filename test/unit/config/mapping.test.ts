import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {parseConfigText} from '../../../src/config/config-file.js'
import {DEFAULT_MAPPING, parseMapFlag, parseSubstitution, resolveMapping, validateFolders} from '../../../src/config/mapping.js'
import {ConfigError} from '../../../src/errors.js'

function configError(run: () => unknown): ConfigError {
  try {
    run()
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`)
    return error
  }
  assert.fail('expected an error')
}

describe('folder mapping: flag syntax', () => {
  it('s/FROM/TO/FLAGS with any punctuation delimiter and escapes', () => {
    assert.deepEqual(parseSubstitution('s/^Old/New/', '--rename'), {from: '^Old', to: 'New', flags: '', text: 's/^Old/New/'})
    assert.deepEqual(parseSubstitution('s#^Lists/#Mailing lists/#gi', '--rename'), {
      from: '^Lists/',
      to: 'Mailing lists/',
      flags: 'gi',
      text: 's#^Lists/#Mailing lists/#gi',
    })
    assert.equal(parseSubstitution('s/^Old\\/a/New\\/b/', '--rename').from, '^Old/a')
    assert.equal(parseSubstitution('s/^Old\\/a/New\\/b/', '--rename').to, 'New/b')
  })

  it('bad substitutions say what is expected', () => {
    assert.match(configError(() => parseSubstitution('^Old/New', '--rename')).message, /^--rename: expected s\/FROM\/TO\//)
    assert.match(configError(() => parseSubstitution('s/a/b', '--rename')).message, /^--rename: expected s\/FROM\/TO\//)
    assert.match(configError(() => parseSubstitution('s/a/b/x', '--rename')).message, /unknown substitution flags "x"/)
    assert.match(configError(() => parseSubstitution('s/(/b/', '--rename')).message, /^--rename: invalid regular expression "\(":/)
  })

  it('--map "Old/Name=New/Name", levels checked', () => {
    assert.deepEqual(parseMapFlag('Old/Name=New/Name', '--map'), {from: 'Old/Name', to: 'New/Name'})
    assert.deepEqual(parseMapFlag('a=b=c', '--map'), {from: 'a', to: 'b=c'})
    assert.match(configError(() => parseMapFlag('Old', '--map')).message, /^--map: expected "Old\/Name=New\/Name"/)
    assert.match(configError(() => parseMapFlag('a=b//c', '--map')).message, /has an empty level/)
  })
})

describe('folder mapping: YAML folders section', () => {
  it('every key, with both rename forms', () => {
    const input = validateFolders({
      include: ['^Work'],
      exclude: '^Trash$',
      map: {'Old/Name': 'New/Name'},
      rename: ['s/^Lists/Mailing lists/', {from: '^archive', to: 'Archive', flags: 'i'}],
      nestUnder: 'Migrated/alice',
      subscribedOnly: true,
      automap: false,
      gmailAllMail: true,
      subscriptions: false,
    })
    assert.deepEqual(input, {
      include: ['^Work'],
      exclude: ['^Trash$'],
      map: [{from: 'Old/Name', to: 'New/Name'}],
      rename: [
        {from: '^Lists', to: 'Mailing lists', flags: '', text: 's/^Lists/Mailing lists/'},
        {from: '^archive', to: 'Archive', flags: 'i', text: 'from /^archive/i to "Archive"'},
      ],
      nestUnder: 'Migrated/alice',
      subscribedOnly: true,
      automap: false,
      gmailAllMail: true,
      subscriptions: false,
    })
  })

  it('errors name the key path and point at the line', () => {
    assert.match(configError(() => parseConfigText('folders:\n  exclude: ["("]\n', 'x.yaml')).message, /^x\.yaml:2:3: folders\.exclude\[0\]: invalid regular expression/)
    assert.match(configError(() => parseConfigText('folders:\n  nestunder: x\n', 'x.yaml')).message, /^x\.yaml:2:3: folders\.nestunder: unknown key \(did you mean nestUnder\?\)/)
    assert.match(configError(() => parseConfigText('folders:\n  automap: yes please\n', 'x.yaml')).message, /folders\.automap: expected true or false/)
    assert.match(configError(() => parseConfigText('folders:\n  map: ["a=b"]\n', 'x.yaml')).message, /folders\.map: expected a mapping of "Old\/Name": "New\/Name"/)
    assert.match(configError(() => parseConfigText('folders:\n  rename:\n    - {from: "^a"}\n', 'x.yaml')).message, /folders\.rename\[0\]\.to: expected the replacement text/)
  })
})

describe('folder mapping: precedence', () => {
  it('defaults < file < flags; a list flag replaces the file list; unset flags keep the file', () => {
    assert.deepEqual(resolveMapping(undefined, {}), DEFAULT_MAPPING)
    const file = validateFolders({exclude: ['^Trash$'], include: ['^Work'], automap: false, nestUnder: 'A'})
    const merged = resolveMapping(file, {exclude: ['^Spam$', '^Junk$'], automap: true, map: ['X=Y']})
    assert.deepEqual(merged.exclude, ['^Spam$', '^Junk$'])
    assert.deepEqual(merged.include, ['^Work'])
    assert.equal(merged.automap, true)
    assert.equal(merged.nestUnder, 'A')
    assert.deepEqual(merged.map, [{from: 'X', to: 'Y'}])
    assert.match(configError(() => resolveMapping(undefined, {include: ['[']})).message, /^--include: invalid regular expression/)
  })
})
