import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {inTheWay} from '../../../src/batch/check.js'
import {renderBatchCheck} from '../../../src/batch/report.js'
import type {BatchCheckReport} from '../../../src/batch/check.js'
import type {CheckFolder, CheckResult} from '../../../src/sync/check.js'

const GiB = 1024 ** 3

function folder(over: Partial<CheckFolder> = {}): CheckFolder {
  return {source: 'INBOX', dest: 'INBOX', create: false, toCopy: 0, toCopySize: 0, alreadyThere: 0, overLimit: [], overMaxSize: 0, droppedFlags: [], flagged: [], ...over}
}

function result(over: Partial<CheckResult> = {}, totals: Partial<CheckResult['totals']> = {}): CheckResult {
  return {
    ok: true,
    exitCode: 0,
    exitMeaning: '',
    source: 's',
    dest: 'd',
    deep: false,
    quotaKnown: false,
    folders: [folder()],
    quota: [],
    conflicts: [],
    warnings: [],
    problems: {},
    notes: [],
    totals: {folders: 1, toCopy: 0, toCopySize: 0, alreadyThere: 0, overLimit: 0, overMaxSize: 0, refusedNames: 0, droppedFlags: 0, likelyRefused: 0, altered: 0, ...totals},
    durationMs: 0,
    ...over,
  }
}

describe('batch --check: what stands in an account\'s way', () => {
  it('nothing, when check found nothing (messages over --max-size are a choice, not an obstacle)', () => {
    assert.deepEqual(inTheWay(result({}, {toCopy: 5, overMaxSize: 2})), [])
  })

  it('a phrase for each thing check exits 1 for', () => {
    const found = inTheWay(
      result(
        {
          conflicts: ['A and B both map to C'],
          quota: [
            {root: 'User quota', folders: ['INBOX'], storage: {usage: 1.5 * GiB, limit: 2 * GiB, toCopy: 2.1 * GiB, fits: false}, messages: {usage: 90, limit: 100, toCopy: 12, fits: false}},
            {root: 'Other', folders: ['X'], storage: {usage: 0, limit: GiB, toCopy: 1, fits: true}},
          ],
          folders: [folder(), folder({source: 'Junk', error: 'gone'})],
        },
        {overLimit: 1, refusedNames: 2, droppedFlags: 3, likelyRefused: 4, altered: 5},
      ),
    )
    assert.deepEqual(found, [
      '1 folder mapping conflict',
      'quota User quota: 2.1 GiB to copy, 512.0 MiB free',
      'quota User quota: 12 messages to copy, room for 10',
      '1 message over the size limit',
      '2 folder names refused',
      '3 keywords the destination cannot store',
      '4 messages likely refused',
      '5 messages stored altered',
      '1 folder could not be checked',
    ])
  })

  it('the report: a row per account, failures with their meaning, totals and the exit line', () => {
    const account = {origin: 'x.yaml', concurrency: 2, statePath: '/s', durationMs: 1, warnings: [], alreadyThere: 0, likelyRefused: 0}
    const report: BatchCheckReport = {
      ok: false,
      exitCode: 1,
      exitMeaning: 'something would stop some accounts\' syncs',
      stateDir: '/s',
      parallel: 2,
      maxConnectionsPerHost: null,
      peakConnectionsPerHost: {'a:143': 4},
      accounts: [
        {...account, id: 'a', source: 'a@a:143', dest: 'b@b:143', outcome: 'clear', exitCode: 0, exitMeaning: 'ok', toCopy: 6, toCopySize: 6144, inTheWay: []},
        {...account, id: 'b', source: 'c@a:143', dest: 'd@b:143', outcome: 'failed', exitCode: 3, exitMeaning: 'a server refused the credentials', toCopy: 0, toCopySize: 0, inTheWay: [], error: 'login failed'},
        {...account, id: 'c', source: 'e@a:143', dest: 'f@b:143', outcome: 'blocked', exitCode: 1, exitMeaning: '', toCopy: 2, toCopySize: 10, inTheWay: ['2 messages over the size limit', '1 keyword the destination cannot store']},
      ],
      totals: {accounts: 3, clear: 1, blocked: 1, failed: 1, toCopy: 8, toCopySize: 6154, alreadyThere: 0, likelyRefused: 0, durationMs: 5},
    }
    const text = renderBatchCheck(report)
    assert.match(text, /^a@a:143 +b@b:143 +clear +6 +6\.0 KiB +0 +-$/m)
    assert.match(text, /^c@a:143 +d@b:143 +failed +- +- +- +a server refused the credentials: login failed$/m)
    assert.match(text, /^e@a:143 +f@b:143 +blocked +2 +10 B +0 +2 messages over the size limit; 1 keyword the destination cannot store$/m)
    assert.match(text, /^Total +3 accounts +1 clear, 1 blocked, 1 failed +8 /m)
    assert.match(text, /exit 1: something would stop/)
  })
})
