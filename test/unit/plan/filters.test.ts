import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {excludeRule, gmailRule, includeRule, subscribedOnlyRule} from '../../../src/plan/filters.js'
import type {MappingRule, RuleContext} from '../../../src/plan/plan.js'
import type {FolderInfo} from '../../../src/stores/store.js'

/** Applies one rule to a normalised name; returns the result and what the rule said. */
function run(rule: MappingRule, name: string, folder: Partial<FolderInfo> = {}): {result: string[] | null; detail?: string} {
  let detail: string | undefined
  const context: RuleContext = {
    sourceDelimiter: '.',
    destDelimiter: '/',
    warn: () => {},
    folder: {path: name, delimiter: '/', noSelect: false, ...folder},
    roles: {source: new Map(), dest: new Map()},
    explain: (d) => (detail = d),
  }
  return {result: rule.apply(name.split('/'), context), detail}
}

describe('filter rules', () => {
  it('include: only names matching one pattern; "/" is hierarchy', () => {
    const rule = includeRule(['^Work/', '^INBOX$'])
    assert.deepEqual(run(rule, 'Work/Projects').result, ['Work', 'Projects'])
    assert.deepEqual(run(rule, 'INBOX').result, ['INBOX'])
    const out = run(rule, 'Private')
    assert.equal(out.result, null)
    assert.equal(out.detail, 'matches no include pattern ("^Work/", "^INBOX$")')
    assert.deepEqual(run(includeRule([]), 'Private').result, ['Private'])
  })

  it('exclude: names matching any pattern are left out, and the pattern is named', () => {
    const rule = excludeRule(['^Trash$', 'Spam'])
    assert.deepEqual(run(rule, 'Trash/Old').result, ['Trash', 'Old'])
    const out = run(rule, 'Lists/Spam reports')
    assert.equal(out.result, null)
    assert.equal(out.detail, 'matches exclude pattern "Spam"')
  })

  it('subscribed-only: unsubscribed folders are left out; INBOX and unknown subscription state are kept', () => {
    assert.equal(run(subscribedOnlyRule, 'Old', {subscribed: false}).result, null)
    assert.deepEqual(run(subscribedOnlyRule, 'New', {subscribed: true}).result, ['New'])
    assert.deepEqual(run(subscribedOnlyRule, 'INBOX', {subscribed: false}).result, ['INBOX'])
    assert.deepEqual(run(subscribedOnlyRule, 'Maildir', {subscribed: undefined}).result, ['Maildir'])
  })

  it('gmail: All Mail and Important by name or by \\All / \\Important attribute', () => {
    assert.equal(run(gmailRule, '[Gmail]/All Mail').result, null)
    assert.equal(run(gmailRule, '[Google Mail]/Important').result, null)
    assert.equal(run(gmailRule, '[Gmail]/Alle Nachrichten', {specialUse: '\\All'}).result, null)
    assert.equal(run(gmailRule, 'Wichtig', {specialUse: '\\Important'}).result, null)
    assert.match(run(gmailRule, '[Gmail]/All Mail').detail!, /--gmail-all-mail/)
    assert.deepEqual(run(gmailRule, '[Gmail]/Sent Mail').result, ['[Gmail]', 'Sent Mail'])
    assert.deepEqual(run(gmailRule, 'Archive/All Mail').result, ['Archive', 'All Mail'])
  })
})
