/**
 * watch with one connection a side sets IDLE up again after each pass; whether INBOX changed in
 * between is read from what the pass recorded (the STATUS before a complete sync of it).
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {changedSincePass} from '../../../src/app/watch.js'
import {openStateDb} from '../../../src/state/db.js'
import {StateRepository} from '../../../src/state/repository.js'

test('INBOX as IDLE selected it against the pass\'s record: any difference starts a pass, no record does not', () => {
  const state = openStateDb(':memory:')
  try {
    const repo = new StateRepository(state.db)
    const selected = {uidValidity: 7, uidNext: 40, messages: 30, highestModseq: 900n}
    assert.equal(changedSincePass(repo, selected), false, 'no INBOX pair yet')
    const pair = repo.pair('INBOX', 'INBOX')
    repo.setValidities(pair, 7, 8)
    assert.equal(changedSincePass(repo, selected), false, 'no record: the interval brings the next pass')
    repo.setSnapshot(pair, {uidValidity: 7, uidNext: 40, messages: 30, highestModseq: 900n})
    assert.equal(changedSincePass(repo, selected), false, 'as recorded')
    assert.equal(changedSincePass(repo, {...selected, uidNext: 41, messages: 31}), true, 'new mail')
    assert.equal(changedSincePass(repo, {...selected, messages: 29}), true, 'an expunge')
    assert.equal(changedSincePass(repo, {...selected, highestModseq: 901n}), true, 'a flag change')
    assert.equal(changedSincePass(repo, {...selected, uidValidity: 9}), true, 'a new UIDVALIDITY')
    repo.setSnapshot(pair, {uidValidity: 7, uidNext: 40, messages: 30})
    assert.equal(changedSincePass(repo, {...selected, highestModseq: undefined}), false, 'without CONDSTORE: UIDNEXT and the count')
  } finally {
    state.close()
  }
})
