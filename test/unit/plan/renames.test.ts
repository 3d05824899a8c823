import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import type {MappingRule, RuleContext} from '../../../src/plan/plan.js'
import {mapRule, nestUnderRule, renameRule, type Substitution} from '../../../src/plan/renames.js'

function run(rule: MappingRule, segments: string[]): {result: string[] | null; detail?: string} {
  let detail: string | undefined
  const context: RuleContext = {
    sourceDelimiter: '.',
    destDelimiter: '/',
    warn: () => {},
    folder: {path: segments.join('.'), delimiter: '.', noSelect: false},
    roles: {source: new Map(), dest: new Map()},
    explain: (d) => (detail = d),
  }
  return {result: rule.apply(segments, context), detail}
}

const s = (from: string, to: string, flags = ''): Substitution => ({from, to, flags, text: `s/${from}/${to}/${flags}`})

describe('renaming rules', () => {
  it('map: exact names only, INBOX case-insensitive; subfolders are not affected', () => {
    const rule = mapRule([
      {from: 'Old/Name', to: 'New/Place'},
      {from: 'inbox', to: 'Old Inbox'},
    ])
    assert.deepEqual(run(rule, ['Old', 'Name']), {result: ['New', 'Place'], detail: '"Old/Name=New/Place"'})
    assert.deepEqual(run(rule, ['INBOX']).result, ['Old Inbox'])
    assert.deepEqual(run(rule, ['Old', 'Name', 'Child']), {result: ['Old', 'Name', 'Child'], detail: undefined})
  })

  it('rename: substitutions apply in turn; "/" in the result is hierarchy; flags g and i; $1', () => {
    const rule = renameRule([s('^Lists/', 'Mailing lists/'), s('(\\d{4})$', 'Year $1'), s('-', ' ', 'g'), s('^mailing', 'Mail', 'i')])
    const out = run(rule, ['Lists', 'a-b-c 2024'])
    assert.deepEqual(out.result, ['Mail lists', 'a b c Year 2024'])
    assert.equal(out.detail, 's/^Lists//Mailing lists//, s/(\\d{4})$/Year $1/, s/-/ /g, s/^mailing/Mail/i')
    assert.deepEqual(run(renameRule([s('^Old$', 'New/Sub')]), ['Old']).result, ['New', 'Sub'])
  })

  it('rename: a folder no substitution changes keeps its exact segments (a "/" inside a name stays one level)', () => {
    const out = run(renameRule([s('^Nothing', 'x')]), ['a/b'])
    assert.deepEqual(out, {result: ['a/b'], detail: undefined})
  })

  it('nest-under: every folder, INBOX too, goes below the given folder', () => {
    const rule = nestUnderRule('Migrated/alice')
    assert.deepEqual(run(rule, ['INBOX']).result, ['Migrated', 'alice', 'INBOX'])
    assert.deepEqual(run(rule, ['Work', 'A']), {result: ['Migrated', 'alice', 'Work', 'A'], detail: 'under "Migrated/alice"'})
  })
})
