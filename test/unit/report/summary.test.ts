import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ExitCode, exitMeaning, failureReport, MailferryError} from '../../../src/errors.js'
import {renderSummary} from '../../../src/report/summary.js'
import {emptyResult} from '../../../src/sync/context.js'
import type {FolderResult, MessageFailure, RunResult} from '../../../src/sync/events.js'

function folder(over: Partial<FolderResult> & {source: string}): FolderResult {
  return {...emptyResult({source: over.source, dest: over.source, create: false}), durationMs: 100, ...over}
}

const noStats = () => ({retries: 0, droppedSessions: 0, droppedKeywords: {}})

function run(folders: FolderResult[], over: Partial<RunResult> = {}): RunResult {
  const sum = (key: keyof RunResult['totals']): number => folders.reduce((n, f) => n + f[key], 0)
  const failures = over.failures ?? []
  const exitCode = over.exitCode ?? (failures.length > 0 ? ExitCode.partial : ExitCode.ok)
  return {
    ok: exitCode === 0,
    exitCode,
    exitMeaning: exitMeaning(exitCode),
    source: 'imaps://ann@old.example.com',
    dest: 'imaps://ann@new.example.com',
    statePath: '/home/ann/.local/state/mailferry/ann.sqlite',
    startedAt: '2024-01-01T12:00:00.000Z',
    finishedAt: '2024-01-01T12:03:05.000Z',
    durationMs: 185_000,
    foldersCreated: folders.filter((f) => f.created).length,
    folders,
    totals: {
      sourceMessages: sum('sourceMessages'),
      copied: sum('copied'),
      alreadyPresent: sum('alreadyPresent'),
      recognised: sum('recognised'),
      notSelected: sum('notSelected'),
      failed: sum('failed'),
      moved: sum('moved'),
      deleted: sum('deleted'),
      sourceDeleted: sum('sourceDeleted'),
      flagsUpdated: sum('flagsUpdated'),
      bytes: sum('bytes'),
    },
    stores: {source: noStats(), dest: noStats()},
    failures,
    warnings: [],
    ...over,
  }
}

const lines = (text: string): string[] => text.split('\n')

describe('renderSummary', () => {
  it('renders header, table, totals, state path and exit 0', () => {
    const result = run([
      folder({source: 'INBOX', sourceMessages: 123, copied: 120, alreadyPresent: 3, bytes: 1.2 * 1024 * 1024, flagsUpdated: 2}),
      folder({source: 'Sent', dest: 'Archive/Sent', created: true, sourceMessages: 5, copied: 5, bytes: 5120}),
    ])
    const out = renderSummary(result)
    assert.ok(out.endsWith('\n'))
    assert.deepEqual(lines(out).slice(0, 8), [
      'mailferry: imaps://ann@old.example.com → imaps://ann@new.example.com',
      '',
      'Source folder  Destination folder      Copied  Already there  Failed  Flags updated     Size',
      '-------------  ----------------------  ------  -------------  ------  -------------  -------',
      'INBOX          INBOX                      120              3       0              2  1.2 MiB',
      'Sent           Archive/Sent (created)       5              0       0              0  5.0 KiB',
      '-------------  ----------------------  ------  -------------  ------  -------------  -------',
      'Total                                     125              3       0              2  1.2 MiB',
    ])
    const text = lines(out)
    assert.ok(text.includes('Totals: 125 messages copied, 3 already there, 0 failed, 2 flags updated, in 2 folders'))
    assert.ok(text.includes('Transferred 1.2 MiB in 3 min 05 s (0.7 msg/s, 6.7 KiB/s); 1 folder created'))
    assert.ok(text.includes('State database: /home/ann/.local/state/mailferry/ann.sqlite'))
    assert.equal(text.at(-2), 'exit 0: everything was copied')
    assert.ok(!out.includes('Nothing to do'))
    assert.ok(!out.includes('Warnings'))
  })

  it('says clearly when there was nothing to do', () => {
    const out = renderSummary(
      run([folder({source: 'INBOX', sourceMessages: 40, alreadyPresent: 40}), folder({source: 'Sent', sourceMessages: 2, alreadyPresent: 2})]),
    )
    assert.ok(lines(out).includes('Nothing to do: all 42 messages are already on the destination.'))
    assert.ok(!out.includes('Totals:'))
    assert.equal(lines(out).at(-2), 'exit 0: everything was copied')
  })

  it('lists failures, truncating after 50, and explains exit 1 with the count', () => {
    const failures: MessageFailure[] = Array.from({length: 53}, (_, i) => ({folder: 'INBOX', uid: i + 1, reason: 'message too large'}))
    const out = renderSummary(run([folder({source: 'INBOX', sourceMessages: 60, copied: 7, failed: 53})], {failures}))
    const text = lines(out)
    const start = text.indexOf('Failed messages (53):')
    assert.ok(start > 0)
    assert.equal(text[start + 1], '  INBOX UID 1: message too large')
    assert.equal(text[start + 50], '  INBOX UID 50: message too large')
    assert.equal(text[start + 51], '  ... and 3 more')
    assert.ok(!out.includes('UID 51:'))
    assert.equal(text.at(-2), 'exit 1: 53 messages failed, see above; re-run to retry them')
  })

  it('uses the singular for one failure and lists all when few', () => {
    const failures = [{folder: 'Sent', uid: 9, reason: 'NO [LIMIT] quota exceeded'}]
    const out = renderSummary(run([folder({source: 'Sent', sourceMessages: 1, failed: 1})], {failures}))
    assert.ok(lines(out).includes('  Sent UID 9: NO [LIMIT] quota exceeded'))
    assert.ok(!out.includes('more'))
    assert.equal(lines(out).at(-2), 'exit 1: 1 message failed, see above; re-run to retry them')
  })

  it('deduplicates warnings, lists folder errors and dropped keywords', () => {
    const out = renderSummary(
      run(
        [
          folder({source: 'INBOX', copied: 3, droppedKeywords: {Junk: 1, $Label1: 3}}),
          folder({source: 'Broken', error: 'could not open: NO [NONEXISTENT]'}),
        ],
        {warnings: ['server has no UIDPLUS', 'slow server', 'server has no UIDPLUS'], exitCode: ExitCode.partial},
      ),
    )
    const text = lines(out)
    const w = text.indexOf('Warnings:')
    assert.deepEqual(text.slice(w, w + 3), ['Warnings:', '  server has no UIDPLUS (2 times)', '  slow server'])
    assert.ok(text.includes('Folders not copied (1):'))
    assert.ok(text.includes('  Broken: could not open: NO [NONEXISTENT]'))
    assert.ok(text.some((l) => l.startsWith('Broken (error)')))
    assert.ok(text.includes('  INBOX: $Label1 (3 messages), Junk (1 message)'))
    assert.equal(text.at(-2), `exit 1: ${exitMeaning(1)}`)
  })

  it('what the stores report: retries, replaced sessions, keywords a Maildir had no room for', () => {
    const stores = {source: {...noStats(), retries: 3}, dest: {retries: 0, droppedSessions: 1, droppedKeywords: {INBOX: ['k26', 'k27']}}}
    const text = lines(renderSummary(run([folder({source: 'INBOX', copied: 1})], {stores})))
    assert.ok(text.includes('  source: 3 operations were retried after a lost connection or server pushback'))
    assert.ok(text.includes('  destination: 1 session was lost (closed by the server or the network) and replaced'))
    assert.ok(text.includes('  INBOX: k26, k27 (no room left in the folder)'))
  })

  it('lists the messages stored repaired (folder, UID, repairs, the refusal)', () => {
    const repaired = [{folder: 'INBOX', uid: 7, destFolder: 'INBOX', destUid: 3, repairs: ['from-line', 'headers'], reason: 'Message contains invalid header', originalSha256: 'a', storedSha256: 'b'}]
    const text = renderSummary(run([folder({source: 'INBOX', copied: 1})], {repaired}))
    assert.match(text, /Refused, then stored repaired \(1; recorded in the state database\):\n  INBOX UID 7: from-line, headers \(refused: Message contains invalid header\)/)
    assert.doesNotMatch(renderSummary(run([folder({source: 'INBOX', copied: 1})])), /repaired/)
  })

  it('reports a run that stopped early', () => {
    const out = renderSummary(
      run([folder({source: 'INBOX', copied: 10})], {error: 'connection lost', exitCode: ExitCode.connection}),
    )
    const text = lines(out)
    assert.ok(text.includes('Stopped early: connection lost'))
    assert.equal(text.at(-2), `exit 4: ${exitMeaning(4)}`)
  })
})

describe('exitMeaning', () => {
  it('explains every ExitCode', () => {
    assert.equal(exitMeaning(ExitCode.ok), 'everything was copied')
    for (const code of Object.values(ExitCode)) assert.notEqual(exitMeaning(code), 'unexpected error', String(code))
    assert.equal(exitMeaning(ExitCode.interrupted), 'interrupted; progress is saved, re-run to resume')
    assert.equal(exitMeaning(99), 'unexpected error')
  })

  it('one table: a comparison, a plan and a batch word some codes their own way, the rest as a sync', () => {
    assert.equal(exitMeaning(ExitCode.ok, 'verify'), 'source and destination are equal')
    assert.equal(exitMeaning(ExitCode.partial, 'batch'), 'some accounts failed or are partial, see their rows; re-run the batch to retry them')
    assert.equal(exitMeaning(ExitCode.config, 'plan'), 'folder mapping conflicts, see above; a sync would stop before writing anything')
    assert.equal(exitMeaning(ExitCode.auth, 'verify'), exitMeaning(ExitCode.auth))
  })

  it('a failure report: one line, its hint, its kind of exit code', () => {
    const error = new MailferryError('first\n  second', {hint: 'do this', exitCode: ExitCode.auth})
    assert.deepEqual(failureReport(error), {ok: false, exitCode: 3, exitMeaning: 'a server refused the credentials', error: 'first\n  second', hint: 'do this'})
    assert.deepEqual(failureReport(new Error('odd\nthing')), {ok: false, exitCode: 1, exitMeaning: exitMeaning(1), error: 'odd thing'})
  })
})
