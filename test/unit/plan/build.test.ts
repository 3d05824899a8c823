/**
 * buildPlan with namespaces, special-use folders and the rules from a configuration, combined.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {DEFAULT_MAPPING, type FolderMappingConfig} from '../../../src/config/mapping.js'
import {buildPlan, type Plan, type PlanOptions} from '../../../src/plan/plan.js'
import {mappingRules} from '../../../src/plan/rules.js'
import type {FolderInfo} from '../../../src/stores/store.js'

type Spec = string | [path: string, extra: Partial<FolderInfo>]

const list = (delimiter: string, specs: Spec[]): FolderInfo[] =>
  specs.map((spec) => {
    const [path, extra] = typeof spec === 'string' ? [spec, {}] : spec
    return {path, delimiter, noSelect: false, subscribed: true, ...extra}
  })

/** Courier/Cyrus style: '.' and the prefix "INBOX.". */
const courier = (specs: Spec[]) => list('.', ['INBOX', ...specs])
/** Dovecot default style: '/' and no prefix. */
const plain = (specs: Spec[]) => list('/', ['INBOX', ...specs])
const COURIER_NS = {prefix: 'INBOX.', delimiter: '.'}
const PLAIN_NS = {prefix: '', delimiter: '/'}

function plan(source: FolderInfo[], dest: FolderInfo[], mapping: Partial<FolderMappingConfig> = {}, extra: PlanOptions = {}): Plan {
  const sourceNamespace = source[0].delimiter === '.' ? COURIER_NS : PLAIN_NS
  const destNamespace = dest[0].delimiter === '.' ? COURIER_NS : PLAIN_NS
  const config = {...DEFAULT_MAPPING, ...mapping}
  return buildPlan(source, dest, {rules: mappingRules(config), sourceNamespace, destNamespace, subscriptions: config.subscriptions, ...extra})
}

const pairs = (p: Plan) => Object.fromEntries(p.pairs.map((pair) => [pair.source, pair.dest]))
const rules = (p: Plan) => Object.fromEntries(p.pairs.map((pair) => [pair.source, pair.rule]))
const skipped = (p: Plan) => Object.fromEntries(p.skipped.map((s) => [s.source, s.rule]))

describe('buildPlan: namespaces and separators', () => {
  it("'INBOX.' + '.' -> no prefix + '/': the prefix is dropped, INBOX stays INBOX", () => {
    const p = plan(courier(['INBOX.Lists', 'INBOX.Lists.fork', 'INBOX.Entwürfe', 'INBOX.R&D']), plain([]))
    assert.deepEqual(pairs(p), {
      INBOX: 'INBOX',
      'INBOX.Lists': 'Lists',
      'INBOX.Lists.fork': 'Lists/fork',
      'INBOX.Entwürfe': 'Entwürfe',
      'INBOX.R&D': 'R&D',
    })
    assert.deepEqual(p.create, ['Entwürfe', 'Lists', 'R&D', 'Lists/fork'])
    assert.equal(rules(p)['INBOX.Lists.fork'], 'name')
    assert.deepEqual(p.conflicts, [])
  })

  it("and back: no prefix + '/' -> 'INBOX.' + '.', a '.' inside a name is substituted and reported", () => {
    const p = plan(plain(['Lists', 'Lists/fork', 'Reports 1.5', 'INBOX/Sub', '日本語']), courier([]))
    assert.deepEqual(pairs(p), {
      INBOX: 'INBOX',
      'INBOX/Sub': 'INBOX.INBOX.Sub',
      Lists: 'INBOX.Lists',
      'Lists/fork': 'INBOX.Lists.fork',
      'Reports 1.5': 'INBOX.Reports 1_5',
      '日本語': 'INBOX.日本語',
    })
    assert.equal(rules(p)['Reports 1.5'], 'separator')
    assert.equal(p.warnings.length, 1)
    assert.match(p.warnings[0], /"Reports 1\.5" contains the destination separator "\."; it becomes "Reports 1_5"/)
  })

  it('existing destination folders are reused, INBOX whatever its spelling', () => {
    const p = plan(list('/', ['inbox', 'Work']), courier(['INBOX.Work']))
    assert.deepEqual(p.pairs.map((pair) => [pair.source, pair.dest, pair.create, pair.rule]), [
      ['inbox', 'INBOX', false, 'inbox'],
      ['Work', 'INBOX.Work', false, 'name'],
    ])
    assert.deepEqual(p.create, [])
  })

  it('folders outside the personal namespace, and \\Noselect ones, are listed as skipped', () => {
    const source = [...plain(['shared/team/x', ['Parent', {noSelect: true}], 'Parent/Child'])]
    const p = plan(source, courier([]), {}, {sourceOtherPrefixes: ['shared/']})
    assert.deepEqual(skipped(p), {'shared/team/x': 'namespace', Parent: 'noselect'})
    assert.deepEqual(pairs(p), {INBOX: 'INBOX', 'Parent/Child': 'INBOX.Parent.Child'})
    const prefixed = plan(list('.', ['INBOX', 'INBOX.a', 'Public.b']), plain([]))
    assert.deepEqual(skipped(prefixed), {'Public.b': 'namespace'})
  })
})

describe('buildPlan: special-use mapping', () => {
  it('attribute -> attribute, name -> attribute, attribute -> name, and no counterpart keeps the name', () => {
    const source = courier([['INBOX.Sent Items', {specialUse: '\\Sent'}], 'INBOX.Deleted Items', 'INBOX.Spam', 'INBOX.Drafts', 'INBOX.Archive'])
    const dest = plain([['Sent', {specialUse: '\\Sent'}], ['Trash', {specialUse: '\\Trash'}], 'Junk E-mail'])
    const p = plan(source, dest)
    assert.deepEqual(pairs(p), {
      INBOX: 'INBOX',
      'INBOX.Sent Items': 'Sent',
      'INBOX.Deleted Items': 'Trash',
      'INBOX.Spam': 'Junk E-mail',
      'INBOX.Drafts': 'Drafts',
      'INBOX.Archive': 'Archive',
    })
    assert.equal(rules(p)['INBOX.Sent Items'], 'special-use')
    assert.equal(rules(p)['INBOX.Drafts'], 'name', 'the destination has no Drafts folder: the source name is kept')
    const sent = p.pairs.find((pair) => pair.source === 'INBOX.Sent Items')!
    assert.equal(sent.detail, '\\Sent (attribute on both sides)')
    assert.equal(sent.create, false)
    const spam = p.pairs.find((pair) => pair.source === 'INBOX.Spam')!
    assert.equal(spam.detail, '\\Junk (source name "Spam", destination name "Junk E-mail")')
  })

  it('Gmail names on the source: [Gmail]/Sent Mail -> Sent', () => {
    const p = plan(plain(['[Gmail]/Sent Mail', '[Gmail]/Trash']), courier([['INBOX.Sent', {specialUse: '\\Sent'}], 'INBOX.Trash']))
    assert.deepEqual(pairs(p), {INBOX: 'INBOX', '[Gmail]/Sent Mail': 'INBOX.Sent', '[Gmail]/Trash': 'INBOX.Trash'})
  })

  it('only one source folder per role is mapped: Sent Items (attribute) goes to Sent, a plain "Sent" collides', () => {
    const p = plan(plain([['Sent Items', {specialUse: '\\Sent'}], 'Sent']), courier([['INBOX.Sent', {specialUse: '\\Sent'}]]))
    assert.equal(p.conflicts.length, 1)
    assert.equal(
      p.conflicts[0],
      'source folders "Sent" (rule name) and "Sent Items" (rule special-use: \\Sent (attribute on both sides)) both map to destination folder "INBOX.Sent"',
    )
  })

  it('--no-automap keeps every name', () => {
    const p = plan(courier([['INBOX.Sent Items', {specialUse: '\\Sent'}]]), plain([['Sent', {specialUse: '\\Sent'}]]), {automap: false})
    assert.deepEqual(pairs(p), {INBOX: 'INBOX', 'INBOX.Sent Items': 'Sent Items'})
  })
})

describe('buildPlan: rules from the configuration', () => {
  const source = plain([
    'Work',
    'Work/2023',
    'Lists/fork',
    ['Old', {subscribed: false}],
    'Trash',
    ['Sent Items', {specialUse: '\\Sent'}],
    ['[Gmail]/All Mail', {specialUse: '\\All'}],
    '[Gmail]/Important',
  ])
  const dest = courier([['INBOX.Sent', {specialUse: '\\Sent'}]])

  it('Gmail views are skipped by default and copied with gmailAllMail', () => {
    assert.deepEqual(skipped(plan(source, dest)), {'[Gmail]/All Mail': 'gmail', '[Gmail]/Important': 'gmail'})
    const all = plan(source, dest, {gmailAllMail: true})
    assert.equal(pairs(all)['[Gmail]/All Mail'], 'INBOX.[Gmail].All Mail')
  })

  it('include, exclude and subscribed-only see the normalised source name', () => {
    const p = plan(source, dest, {include: ['^(INBOX|Work|Old|Trash)'], exclude: ['^Trash$'], subscribedOnly: true})
    assert.deepEqual(pairs(p), {INBOX: 'INBOX', Work: 'INBOX.Work', 'Work/2023': 'INBOX.Work.2023'})
    assert.deepEqual(skipped(p), {
      '[Gmail]/All Mail': 'gmail',
      '[Gmail]/Important': 'gmail',
      'Lists/fork': 'include',
      Old: 'subscribed-only',
      'Sent Items': 'include',
      Trash: 'exclude',
    })
  })

  it('map beats rename beats special-use; nest-under applies to everything (INBOX too) and turns automap off', () => {
    const p = plan(source, dest, {
      map: [{from: 'Sent Items', to: 'Archive/Sent 2019'}],
      rename: [{from: '^Work', to: 'Job', flags: '', text: 's/^Work/Job/'}, {from: '^Sent Items$', to: 'never', flags: '', text: 's/^Sent Items$/never/'}],
    })
    assert.equal(pairs(p)['Sent Items'], 'INBOX.Archive.Sent 2019')
    assert.equal(rules(p)['Sent Items'], 'map')
    assert.equal(pairs(p)['Work/2023'], 'INBOX.Job.2023')
    assert.equal(rules(p)['Work/2023'], 'rename')
    const nested = plan(source, dest, {nestUnder: 'Migrated/alice'})
    assert.equal(pairs(nested).INBOX, 'INBOX.Migrated.alice.INBOX')
    assert.equal(pairs(nested)['Sent Items'], 'INBOX.Migrated.alice.Sent Items')
    assert.equal(rules(nested)['Sent Items'], 'nest-under')
  })

  it('a rule producing an invalid name is a conflict naming the folder and the rule', () => {
    const p = plan(source, dest, {rename: [{from: '^Work$', to: '', flags: '', text: 's/^Work$//'}]})
    assert.deepEqual(p.conflicts, ['source folder "Work" would go to an invalid destination name "" (rule rename: s/^Work$//): empty name segment'])
    const long = plan(source, dest, {map: [{from: 'Trash', to: `Trash/${'x'.repeat(300)}`}]})
    assert.match(long.conflicts[0], /^source folder "Trash" would go to an invalid destination name "Trash\/x+" \(rule map: .*\): segment longer than 255 bytes$/)
  })

  it('two folders renamed onto one destination folder is a conflict naming both rules', () => {
    const p = plan(source, dest, {map: [{from: 'Trash', to: 'Work'}]})
    assert.deepEqual(p.conflicts, ['source folders "Trash" (rule map: "Trash=Work") and "Work" (rule name) both map to destination folder "INBOX.Work"'])
  })

  it('subscriptions: subscribed source folders are subscribed on the destination unless they are already', () => {
    const p = plan(plain([['A', {subscribed: true}], ['B', {subscribed: false}], ['C', {subscribed: true}]]), courier([['INBOX.C', {subscribed: true}]]))
    assert.deepEqual(p.subscribe, ['INBOX.A'])
    assert.deepEqual(p.unsubscribe, ['INBOX.B'], 'created, and unsubscribed on the source (CREATE may subscribe it)')
    assert.deepEqual(p.pairs.map((pair) => [pair.source, pair.subscribe]), [['A', true], ['B', false], ['C', false], ['INBOX', false]])
    const off = plan(plain([['A', {subscribed: true}], ['B', {subscribed: false}]]), courier([]), {subscriptions: false})
    assert.deepEqual([off.subscribe, off.unsubscribe], [[], []])
  })
})
