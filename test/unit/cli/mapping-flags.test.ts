import assert from 'node:assert/strict'
import {test} from 'node:test'

import {Parser} from '@oclif/core'

import {mappingFlags, toMappingFlagValues} from '../../../src/cli/mapping-flags.js'

const parse = async (argv: string[]) => toMappingFlagValues((await Parser.parse(argv, {flags: mappingFlags})).flags)

test('flags not given are undefined, so the YAML file (or the default) decides', async () => {
  assert.deepEqual(await parse([]), {
    include: undefined,
    exclude: undefined,
    map: undefined,
    rename: undefined,
    nestUnder: undefined,
    subscribedOnly: undefined,
    automap: undefined,
    gmailAllMail: undefined,
    subscriptions: undefined,
  })
})

test('repeatable and negatable flags', async () => {
  const values = await parse([
    '--include', '^Work', '--include', '^INBOX$', '--exclude', '^Trash$', '--map', 'A=B', '--rename', 's/^x/y/',
    '--nest-under', 'Migrated/alice', '--subscribed-only', '--no-automap', '--gmail-all-mail', '--no-subscriptions',
  ])
  assert.deepEqual(values, {
    include: ['^Work', '^INBOX$'],
    exclude: ['^Trash$'],
    map: ['A=B'],
    rename: ['s/^x/y/'],
    nestUnder: 'Migrated/alice',
    subscribedOnly: true,
    automap: false,
    gmailAllMail: true,
    subscriptions: false,
  })
})
