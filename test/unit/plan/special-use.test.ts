import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {assignRoles, attributeRole, nameRole, type RoleCandidate} from '../../../src/plan/special-use.js'
import type {FolderInfo} from '../../../src/stores/store.js'

const candidate = (name: string, specialUse?: string, noSelect = false): RoleCandidate => ({
  path: name,
  folder: {path: name, delimiter: '/', specialUse, noSelect} as FolderInfo,
  segments: name.split('/'),
})

describe('special-use roles', () => {
  it('by attribute, case-insensitively; \\All and \\Important are not mapped roles', () => {
    assert.equal(attributeRole({specialUse: '\\sent'}), '\\Sent')
    assert.equal(attributeRole({specialUse: '\\All'}), undefined)
    assert.equal(attributeRole({}), undefined)
  })

  it('by common name at the top level, under INBOX and under [Gmail], not deeper', () => {
    for (const [name, use] of [
      ['Sent Items', '\\Sent'],
      ['Sent Messages', '\\Sent'],
      ['Gesendete Objekte', '\\Sent'],
      ['INBOX/Sent', '\\Sent'],
      ['[Gmail]/Sent Mail', '\\Sent'],
      ['Deleted Items', '\\Trash'],
      ['papierkorb', '\\Trash'],
      ['Spam', '\\Junk'],
      ['Junk E-mail', '\\Junk'],
      ['Entwürfe', '\\Drafts'],
      ['[Google Mail]/Drafts', '\\Drafts'],
      ['Archive', '\\Archive'],
    ] as const) {
      assert.equal(nameRole(name.split('/'))?.use, use, name)
    }
    assert.equal(nameRole(['Projects', 'Sent']), undefined)
    assert.equal(nameRole(['Sent to clients']), undefined)
    assert.equal(nameRole(['a', 'b', 'Trash']), undefined)
  })

  it('one folder per role: attribute first, then shallower, then the order of the name list', () => {
    const roles = assignRoles([
      candidate('Sent'),
      candidate('Sent Items', '\\Sent'),
      candidate('INBOX/Trash'),
      candidate('Deleted Items'),
      candidate('Trash'),
      candidate('Junk', undefined, true),
      candidate('INBOX', '\\Drafts'),
    ])
    assert.equal(roles.get('\\Sent')?.path, 'Sent Items')
    assert.equal(roles.get('\\Sent')?.by, 'attribute')
    assert.equal(roles.get('\\Trash')?.path, 'Trash', 'Trash ranks before Deleted Items; both shallower than INBOX/Trash')
    assert.equal(roles.get('\\Junk'), undefined, '\\Noselect folders hold no role')
    assert.equal(roles.get('\\Drafts'), undefined, 'INBOX holds no role')
  })
})
