import assert from 'node:assert/strict'
import {test} from 'node:test'

import {buildPlan} from '../../../src/plan/plan.js'
import type {FolderInfo} from '../../../src/stores/store.js'

const folders = (delimiter: string, paths: string[], noSelect: string[] = []): FolderInfo[] =>
  paths.map((path) => ({path, delimiter, noSelect: noSelect.includes(path)}))

test('translates the separator and creates missing folders, shallower first', () => {
  const plan = buildPlan(folders('.', ['INBOX', 'Lists.fork', 'Lists.ilug', 'Work.A.B']), folders('/', ['INBOX']))
  assert.deepEqual(
    plan.pairs.map((p) => [p.source, p.dest, p.create]),
    [
      ['INBOX', 'INBOX', false],
      ['Lists.fork', 'Lists/fork', true],
      ['Lists.ilug', 'Lists/ilug', true],
      ['Work.A.B', 'Work/A/B', true],
    ],
  )
  assert.deepEqual(plan.create, ['Lists/fork', 'Lists/ilug', 'Work/A/B'])
})

test('INBOX is case-insensitive and keeps the destination spelling', () => {
  const plan = buildPlan(folders('/', ['inbox']), folders('.', ['INBOX']))
  assert.deepEqual(plan.pairs, [{source: 'inbox', dest: 'INBOX', create: false, rule: 'inbox', detail: '', subscribe: false}])
  assert.deepEqual(plan.create, [])
})

test('a name containing the destination separator is substituted and reported, not nested', () => {
  const plan = buildPlan(folders('/', ['INBOX', 'Reports 1.5']), folders('.', ['INBOX']))
  assert.equal(plan.pairs[1].dest, 'Reports 1_5')
  assert.equal(plan.pairs[1].rule, 'separator')
  assert.equal(plan.warnings.length, 1)
  assert.match(plan.warnings[0], /Reports 1\.5/)
})

test('\\Noselect source folders are not created as real folders', () => {
  const plan = buildPlan(folders('/', ['INBOX', 'Parent', 'Parent/Child'], ['Parent']), folders('.', ['INBOX']))
  assert.deepEqual(plan.pairs.map((p) => p.source), ['INBOX', 'Parent/Child'])
  assert.deepEqual(plan.create, ['Parent.Child'])
})

test('two source folders onto one destination folder is a conflict', () => {
  const plan = buildPlan(folders('/', ['a.b', 'a_b']), folders('.', ['INBOX']))
  assert.equal(plan.conflicts.length, 1)
  assert.match(plan.conflicts[0], /both map to destination folder "a_b"/)
})
