import assert from 'node:assert/strict'
import {test} from 'node:test'

import {maildirArgument, omitFlags, renameFlag} from '../../../src/cli/forward.js'
import {ConfigError} from '../../../src/errors.js'

test('--to/--from values become maildir: URLs; URLs of servers are refused', () => {
  assert.equal(maildirArgument('to', 'maildir:/b'), 'maildir:/b')
  assert.equal(maildirArgument('to', '/srv/backup'), 'maildir:/srv/backup')
  assert.equal(maildirArgument('to', 'relative dir'), 'maildir:relative dir')
  assert.throws(() => maildirArgument('to', 'imaps://u@h'), (error: unknown) => error instanceof ConfigError && /--to: expected a directory/.test(error.message))
})

test('renameFlag rewrites both spellings and leaves the rest alone', () => {
  const map = (value: string) => `maildir:${value}`
  assert.deepEqual(renameFlag(['--source', 'imap://u@h', '--to', '/b', '--json'], 'to', 'dest', map), ['--source', 'imap://u@h', '--dest', 'maildir:/b', '--json'])
  assert.deepEqual(renameFlag(['--to=/b'], 'to', 'dest', map), ['--dest=maildir:/b'])
  assert.deepEqual(renameFlag(['--total', 'x', '--', '--to', 'y'], 'to', 'dest', map), ['--total', 'x', '--', '--to', 'y'])
})

test('omitFlags drops one side', () => {
  const flags = {source: 1, 'source-tls': 2, dest: 3, 'dest-tls': 4, state: 5}
  assert.deepEqual(omitFlags(flags, (name) => name === 'dest' || name.startsWith('dest-')), {source: 1, 'source-tls': 2, state: 5})
})
