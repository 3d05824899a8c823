import assert from 'node:assert/strict'
import {test} from 'node:test'

import {exitMeaning} from '../../../src/errors.js'
import {MAX_LISTED_DIFFERENCES, renderVerifyReport} from '../../../src/report/verify.js'
import {compareFolder, missingFolder, type VerifyMessage} from '../../../src/verify/compare.js'
import type {VerifyResult} from '../../../src/verify/run.js'

const msg = (uid: number, over: Partial<VerifyMessage> = {}): VerifyMessage => ({
  uid, size: 10, messageId: `<m${uid}>`, flags: [], internalDate: new Date('2020-01-01T00:00:00Z'), headerHash: `h${uid}`, ...over,
})

function result(comparisons: ReturnType<typeof compareFolder>[], exitCode: number): VerifyResult {
  const folders = comparisons.map((c) => c.verdict)
  const sum = (k: 'sourceMessages' | 'destMessages' | 'equal' | 'missing' | 'extra' | 'changed') => folders.reduce((n, v) => n + v[k], 0)
  return {
    ok: exitCode === 0, exitCode, exitMeaning: exitMeaning(exitCode, 'verify'), source: 'a@src:143', dest: 'a@dst:143', deep: false,
    startedAt: '', finishedAt: '', durationMs: 1500, folders,
    totals: {folders: folders.length, foldersMissing: 0, sourceMessages: sum('sourceMessages'), destMessages: sum('destMessages'),
      equal: sum('equal'), missing: sum('missing'), extra: sum('extra'), changed: sum('changed'), repaired: 0, bytesHashed: 0},
    differences: comparisons.flatMap((c) => c.differences), unmappedDestFolders: ['Trash'], skippedSourceFolders: [], warnings: [],
  }
}

test('the human report: a folder table, the differences with both UIDs, and the exit line', () => {
  const inbox = compareFolder({source: 'INBOX', dest: 'INBOX'}, [msg(1), msg(2, {flags: ['\\Seen']})], [msg(2), msg(9)])
  const text = renderVerifyReport(result([inbox, missingFolder({source: 'Lists.dev', dest: 'Lists/dev'}, 4)], 1))
  assert.match(text, /^INBOX\s+INBOX\s+2\s+2\s+1\s+1\s+1\s+differs$/m)
  assert.match(text, /^Lists\.dev\s+Lists\/dev\s+4\s+-\s+4\s+0\s+0\s+destination folder missing$/m)
  assert.match(text, /^INBOX\s+1\s+missing\s+not on the destination/m)
  assert.match(text, /^INBOX\s+2\s+2\s+flags: -\\Seen$/m)
  assert.match(text, /^INBOX\s+extra\s+9\s+only on the destination/m)
  assert.match(text, /Not compared: destination folders no source folder maps to: Trash/)
  assert.match(text, /exit 1: source and destination differ/)
})

test('a long list of differences is cut, pointing to --json', () => {
  const many = Array.from({length: MAX_LISTED_DIFFERENCES + 5}, (_, i) => msg(i + 1))
  const text = renderVerifyReport(result([compareFolder({source: 'A', dest: 'A'}, many, [])], 1))
  assert.match(text, /\.\.\. and 5 more \(--json lists them all\)/)
})
