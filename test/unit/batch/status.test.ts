import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {renderBatchReport} from '../../../src/batch/report.js'
import type {BatchReport} from '../../../src/batch/run.js'
import {readAccountStatus, renderStatus} from '../../../src/batch/status.js'
import {openStateDb} from '../../../src/state/db.js'
import {StateRepository} from '../../../src/state/repository.js'

const dir = mkdtempSync(join(tmpdir(), 'mf-status-'))
after(() => rmSync(dir, {recursive: true, force: true}))

const row = (sourceUid: number, status: 'pending' | 'copied' | 'failed') => ({
  sourceUid,
  destUid: status === 'copied' ? sourceUid + 100 : null,
  status,
  origin: status === 'copied' ? ('appended' as const) : null,
  messageId: `<m${sourceUid}@x>`,
  size: 1000,
  internalDate: null,
  headerHash: null,
  fingerprint: null,
  flags: [],
  error: status === 'failed' ? 'too big' : null,
})

describe('readAccountStatus', () => {
  it('a missing database is "never run", and is not created', () => {
    const path = join(dir, 'none.sqlite')
    const status = readAccountStatus(path)
    assert.equal(status.exists, false)
    assert.ok(!existsSync(path))
    assert.match(renderStatus([status]), /never run/)
    assert.match(renderStatus([{...status, batchOutcome: "failed (exit 3)"}]), /no state database .*; batch: failed \(exit 3\)/)
  })

  it('counts copied, pending and failed per folder, and the last run', () => {
    const path = join(dir, 'a.sqlite')
    const state = openStateDb(path)
    const repo = new StateRepository(state.db)
    repo.bindAccounts('alice@old:993', 'alice@new:993')
    repo.startRun()
    const inbox = repo.pair('INBOX', 'INBOX')
    repo.putMessages(inbox, [row(1, 'copied'), row(2, 'copied'), row(3, 'pending'), row(4, 'failed')])
    const archive = repo.pair('Archive', 'Archive')
    repo.putMessages(archive, [row(1, 'copied')])
    repo.finishRun('partial', {copied: 3, present: 0, failed: 1, bytes: 3000}, '1 message failed')
    state.close()

    const status = readAccountStatus(path)
    assert.equal(status.source, 'alice@old:993')
    assert.equal(status.lastOutcome, 'partial')
    assert.equal(status.lastRun?.error, '1 message failed')
    const byName = Object.fromEntries(status.folders.map((f) => [f.source, f]))
    assert.deepEqual([byName.INBOX.copied, byName.INBOX.pending, byName.INBOX.failed, byName.INBOX.bytes], [2, 1, 1, 2000])
    assert.deepEqual(status.totals, {copied: 3, pending: 1, failed: 1, bytes: 3000})
    const text = renderStatus([status])
    assert.match(text, /alice@old:993 -> alice@new:993: last run .*: partial \(1 message failed\)/)
    assert.match(text, /Archive/)
  })
})

describe('renderBatchReport', () => {
  it('one row per account, totals, peaks and the exit line', () => {
    const account = {
      id: 'a',
      origin: 'jobs[0]',
      source: 'a@old:993',
      dest: 'a@new:993',
      outcome: 'failed' as const,
      exitCode: 3,
      exitMeaning: 'a server refused the credentials',
      concurrency: 2,
      copied: 0,
      alreadyPresent: 0,
      failed: 0,
      bytes: 0,
      durationMs: 12,
      statePath: '/s/a.sqlite',
      error: 'destination: login refused',
      warnings: [],
    }
    const report: BatchReport = {
      ok: false,
      exitCode: 1,
      exitMeaning: 'some accounts failed or are partial, see their rows; re-run the batch to retry them',
      stateDir: '/s',
      batchState: '/s/batch.json',
      parallel: 2,
      maxConnectionsPerHost: 4,
      peakConnectionsPerHost: {'old:993': 4},
      accounts: [account, {...account, source: 'b@old:993', outcome: 'ok', exitCode: 0, error: undefined, copied: 5, bytes: 5000}],
      totals: {accounts: 2, ok: 1, partial: 0, failed: 1, skipped: 0, copied: 5, bytes: 5000, durationMs: 100},
    }
    const text = renderBatchReport(report)
    assert.match(text, /a@old:993 .* failed .* 3 .*a server refused the credentials: destination: login refused/)
    assert.match(text, /Total .*1 ok, 0 partial, 1 failed, 0 skipped/)
    assert.match(text, /Peak sessions per host \(cap 4\): old:993 4/)
    assert.match(text, /exit 1: some accounts failed/)
  })
})
