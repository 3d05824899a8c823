/**
 * `mailferry batch` over ten accounts between two real Dovecots: per-account equality,
 * one wrong password failing alone, the per-host session cap, re-runs skipping completed accounts,
 * a batch killed midway resuming without duplicates; `batch --check` writing nothing; `mailferry
 * status` from the state alone.
 */
import assert from 'node:assert/strict'
import {existsSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {repairMessage} from '../../src/check/repair.js'
import {seed, snapshot, withClient} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {freshUser, runCli, serversForFile, tempDir} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir('mailferry-batch-')

serversForFile(() => Promise.all([startDovecot({separator: '.'}), startDovecot({separator: '/'})]), (started) => ([source, dest] = started), tmp)

interface Account {
  source: string
  dest: string
}

async function seedAccounts(tag: string, count: number): Promise<Account[]> {
  const accounts: Account[] = []
  for (let i = 0; i < count; i++) accounts.push({source: freshUser(`${tag}s${i}`), dest: freshUser(`${tag}d${i}`)})
  await Promise.all(
    accounts.map((a, i) => seed(source, a.source, {INBOX: generateMessages(4, {seed: 100 + i}), 'Archive/2020': generateMessages(2, {seed: 200 + i})})),
  )
  return accounts
}

/** A batch YAML in its own directory; `badDest` names accounts whose dest password env is wrong. */
function writeConfig(name: string, accounts: Account[], badDest: Set<number> = new Set()): string {
  const jobs = accounts
    .map((a, i) => `  - source: {user: ${a.source}}\n    dest: {user: ${a.dest}${badDest.has(i) ? ', passwordEnv: MF_BAD_PW' : ''}}`)
    .join('\n')
  const text = `defaults:
  concurrency: 2
  source: {host: 127.0.0.1, port: ${source.port}, tls: none, passwordEnv: MF_SRC_PW}
  dest: {host: 127.0.0.1, port: ${dest.port}, tls: none, passwordEnv: MF_DST_PW}
stateDir: ./state-${name}
jobs:
${jobs}
`
  const path = join(tmp.dir, `${name}.yaml`)
  writeFileSync(path, text)
  return path
}

const env = () => ({MF_SRC_PW: source.password, MF_DST_PW: dest.password, MF_BAD_PW: 'not-the-password'})

async function assertEqual(accounts: Account[]): Promise<void> {
  for (const a of accounts) assert.deepEqual(await snapshot(dest, a.dest), await snapshot(source, a.source), `${a.source} -> ${a.dest}`)
}

/** One account whose only message has a 3,000-character body line, to a destination that takes 1,000 (maxLineLength). */
async function longLineAccount(tag: string, name: string): Promise<{account: Account; path: string; long: Buffer}> {
  const account = {source: freshUser(`${tag}s`), dest: freshUser(`${tag}d`)}
  const long = Buffer.from(`From: a@example.com\r\nSubject: long\r\nMessage-ID: <batch-${name}@example.com>\r\n\r\n${'x '.repeat(1500)}\r\n`)
  await seed(source, account.source, {INBOX: [{raw: long, flags: [], internalDate: new Date('2024-03-01T10:00:00Z')}]})
  const path = join(tmp.dir, `${name}.yaml`)
  writeFileSync(
    path,
    `defaults:
  source: {host: 127.0.0.1, port: ${source.port}, tls: none, passwordEnv: MF_SRC_PW}
  dest: {host: 127.0.0.1, port: ${dest.port}, tls: none, passwordEnv: MF_DST_PW, maxLineLength: 1000}
stateDir: ./state-${name}
jobs:
  - source: {user: ${account.source}}
    dest: {user: ${account.dest}}
`,
  )
  return {account, path, long}
}

describe('mailferry batch', () => {
  test('per-job sync settings: implicit TLS with caFile, folder rules, --max-size and a log file per account', async () => {
    const accounts = await seedAccounts('opt', 2)
    const text = `defaults:
  source: {host: 127.0.0.1, port: ${source.tlsPort}, tls: implicit, caFile: ${source.caFile}, minTls: "1.2", passwordEnv: MF_SRC_PW}
  dest: {host: 127.0.0.1, port: ${dest.port}, tls: none, passwordEnv: MF_DST_PW}
  logFile: logs-opt/{account}.log
stateDir: ./state-opt
jobs:
  - source: {user: ${accounts[0].source}}
    dest: {user: ${accounts[0].dest}}
    folders: {exclude: [Archive/2020]}
  - source: {user: ${accounts[1].source}}
    dest: {user: ${accounts[1].dest}}
    maxSize: 1
`
    const path = join(tmp.dir, 'opt.yaml')
    writeFileSync(path, text)
    const {mkdirSync, readdirSync} = await import('node:fs')
    mkdirSync(join(tmp.dir, 'logs-opt'))
    const run = await runCli(['batch', '--config', path, '--json'], env())
    assert.equal(run.code, 0, run.stderr + run.stdout)
    const [first, second] = run.json.accounts
    assert.equal(first.copied, 4, 'INBOX only: Archive/2020 excluded')
    assert.equal(second.copied, 0, 'every message is over maxSize 1')
    const firstDest = await snapshot(dest, accounts[0].dest)
    assert.deepEqual(firstDest.INBOX, (await snapshot(source, accounts[0].source)).INBOX)
    assert.equal(firstDest['Archive/2020'], undefined)
    const logs = readdirSync(join(tmp.dir, 'logs-opt'))
    assert.equal(logs.length, 2, logs.join(', '))
    for (const log of logs) {
      assert.equal(statSync(join(tmp.dir, 'logs-opt', log)).mode & 0o777, 0o600)
      assert.match(readFileSync(join(tmp.dir, 'logs-opt', log), 'utf8'), /INFO  run finished: exit 0/)
    }
  })

  test('ten accounts, one wrong password, per-host cap, re-run skips completed ones, status', async () => {
    const accounts = await seedAccounts('b', 10)
    const config = writeConfig('main', accounts, new Set([3]))

    // Sample the servers' own session counts while the batch runs.
    let sampling = true
    let sampledPeak = 0
    const sampler = (async () => {
      while (sampling) {
        const [s, d] = await Promise.all([source.connectionCount(), dest.connectionCount()])
        sampledPeak = Math.max(sampledPeak, s, d)
        await new Promise((r) => setTimeout(r, 50))
      }
    })()
    const first = await runCli(['batch', '--config', config, '--parallel', '4', '--max-connections-per-host', '4', '--json'], env())
    sampling = false
    await sampler

    assert.equal(first.code, 1, first.stderr)
    const report = first.json
    assert.equal(report.totals.accounts, 10)
    assert.equal(report.totals.ok, 9)
    assert.equal(report.totals.failed, 1)
    const bad = report.accounts[3]
    assert.equal(bad.outcome, 'failed')
    assert.equal(bad.exitCode, 3)
    assert.match(bad.exitMeaning, /refused the credentials/)
    assert.ok(!first.stdout.includes('not-the-password') && !first.stderr.includes('not-the-password'))
    for (const peak of Object.values(report.peakConnectionsPerHost) as number[]) assert.ok(peak <= 4, `peak ${peak} > cap 4`)
    assert.ok(sampledPeak >= 1 && sampledPeak <= 4, `the servers saw ${sampledPeak} sessions at once`)
    // Progress: one line per start and finish, and a total line.
    assert.equal(first.stderr.match(/ start  /g)?.length, 10)
    assert.equal(first.stderr.match(/ finish /g)?.length, 10)
    assert.match(first.stderr, / total  10 accounts: 9 ok, 0 partial, 1 failed/)
    await assertEqual(accounts.filter((_, i) => i !== 3))
    const stateDir = join(tmp.dir, 'state-main')
    assert.equal(statSync(join(stateDir, 'batch.json')).mode & 0o777, 0o600)
    assert.equal(statSync(report.accounts[0].statePath).mode & 0o777, 0o600)

    // Re-run: the nine are skipped, the failed one is retried (and now succeeds).
    const fixed = writeConfig('main', accounts)
    const second = await runCli(['batch', '--config', fixed, '--json'], env())
    assert.equal(second.code, 0, second.stderr)
    assert.equal(second.json.totals.skipped, 9)
    assert.equal(second.json.totals.ok, 1)
    assert.equal(second.json.accounts[3].copied, 6)
    await assertEqual(accounts)

    // --resync runs them all again: nothing new to copy.
    const third = await runCli(['batch', '--config', fixed, '--resync', '--json', '--parallel', '5'], env())
    assert.equal(third.code, 0, third.stderr)
    assert.equal(third.json.totals.ok, 10)
    assert.equal(third.json.totals.copied, 0)

    // status reads the state DBs only.
    const status = await runCli(['status', '--config', fixed, '--json'], {})
    assert.equal(status.code, 0, status.stderr)
    assert.equal(status.json.accounts.length, 10)
    for (const account of status.json.accounts) {
      assert.equal(account.lastOutcome, 'ok')
      assert.equal(account.totals.copied, 6)
      assert.equal(account.totals.pending, 0)
      assert.equal(account.totals.failed, 0)
    }
    const plain = await runCli(['status', '--config', fixed], {})
    assert.equal(plain.code, 0, plain.stderr)
    assert.match(plain.stdout, /Archive/)
  })

  test('a batch killed midway (SIGKILL) resumes and completes without duplicates', async () => {
    const accounts = await seedAccounts('k', 6)
    const config = writeConfig('kill', accounts)
    const killed = await runCli(['batch', '--config', config, '--parallel', '2', '--debug-kill-after-accounts', '2'], env())
    assert.equal(killed.signal, 'SIGKILL', killed.stderr)
    const recorded = JSON.parse(readFileSync(join(tmp.dir, 'state-kill', 'batch.json'), 'utf8'))
    const done = Object.keys(recorded.accounts).length
    assert.ok(done >= 2 && done < 6, `recorded ${done}`)

    const resumed = await runCli(['batch', '--config', config, '--json'], env())
    assert.equal(resumed.code, 0, resumed.stderr)
    assert.equal(resumed.json.totals.skipped, done)
    assert.equal(resumed.json.totals.ok, 6 - done)
    await assertEqual(accounts)

    // The human report: every account skipped now, exit 0.
    const again = await runCli(['batch', '--config', config], env())
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /Total +6 accounts +0 ok, 0 partial, 0 failed, 6 skipped/)
    assert.match(again.stdout, /exit 0: every account completed/)
  })

  test('--check: every account checked, nothing written; a wrong password and a size limit named in their rows', async () => {
    const accounts = await seedAccounts('chk', 3)
    const yaml = (extra: string[]) => `defaults:
  concurrency: 2
  source: {host: 127.0.0.1, port: ${source.port}, tls: none, passwordEnv: MF_SRC_PW}
  dest: {host: 127.0.0.1, port: ${dest.port}, tls: none, passwordEnv: MF_DST_PW}
stateDir: ./state-check
jobs:
${accounts.map((a, i) => `  - source: {user: ${a.source}}\n    dest: {user: ${a.dest}${extra[i] ?? ''}}`).join('\n')}
`
    const path = join(tmp.dir, 'check.yaml')
    writeFileSync(path, yaml(['', ', passwordEnv: MF_BAD_PW', ', maxMessageSize: 100']))
    const first = await runCli(['batch', '--config', path, '--check', '--json', '--parallel', '3', '--max-connections-per-host', '4'], env())
    assert.equal(first.code, 1, first.stderr + first.stdout)
    const [clear, bad, limited] = first.json.accounts
    const sizes = Object.values(await snapshot(source, accounts[0].source)).flat().reduce((n, m) => n + m.size, 0)
    assert.deepEqual([clear.outcome, clear.toCopy, clear.toCopySize, clear.inTheWay], ['clear', 6, sizes, []])
    assert.equal(bad.outcome, 'failed')
    assert.equal(bad.exitCode, 3)
    assert.match(bad.error, /login failed/)
    assert.ok(!first.stdout.includes('not-the-password') && !first.stderr.includes('not-the-password'))
    assert.equal(limited.outcome, 'blocked')
    assert.deepEqual(limited.inTheWay, ['6 messages over the size limit'])
    assert.deepEqual(first.json.totals, {...first.json.totals, accounts: 3, clear: 1, blocked: 1, failed: 1, toCopy: 12})
    for (const peak of Object.values(first.json.peakConnectionsPerHost) as number[]) assert.ok(peak <= 4, `peak ${peak} > cap 4`)
    assert.equal(first.stderr.match(/ check  \[/g)?.length, 3)
    // Read-only: no state directory, nothing on any destination.
    assert.equal(existsSync(join(tmp.dir, 'state-check')), false)
    for (const a of accounts) assert.equal(Object.values(await snapshot(dest, a.dest)).flat().length, 0)

    // After the batch and one new message, a check counts only what is left, and leaves batch.json alone.
    writeFileSync(path, yaml([]))
    const synced = await runCli(['batch', '--config', path, '--json'], env())
    assert.equal(synced.code, 0, synced.stderr)
    await seed(source, accounts[0].source, {INBOX: generateMessages(1, {seed: 999})})
    const recorded = readFileSync(join(tmp.dir, 'state-check', 'batch.json'))
    const again = await runCli(['batch', '--config', path, '--check'], env())
    assert.equal(again.code, 0, again.stderr + again.stdout)
    // 1 to copy, and none "already there": what the state records as copied is not looked for again.
    assert.match(again.stdout, /^Total +3 accounts +3 clear, 0 blocked, 0 failed +1 +[\d.]+ [KMG]?i?B +0 *$/m)
    assert.match(again.stdout, /exit 0: nothing found that would stop any account's sync/)
    assert.ok(readFileSync(join(tmp.dir, 'state-check', 'batch.json')).equals(recorded))
  })

  test('--check --deep reads whole messages: a body line over the destination\'s limit is seen only then', async () => {
    const {path} = await longLineAccount('chd', 'deep')
    const headersOnly = await runCli(['batch', '--config', path, '--check', '--json'], env())
    assert.equal(headersOnly.code, 0, headersOnly.stderr + headersOnly.stdout)
    assert.equal(headersOnly.json.accounts[0].outcome, 'clear')
    const deep = await runCli(['batch', '--config', path, '--check', '--deep', '--json'], env())
    assert.equal(deep.code, 1, deep.stderr + deep.stdout)
    assert.equal(deep.json.accounts[0].outcome, 'blocked')
    assert.deepEqual(deep.json.accounts[0].inTheWay, ['1 message likely refused'])
    const notChecking = await runCli(['batch', '--config', path, '--deep'], env())
    assert.equal(notChecking.code, 2, notChecking.stderr)
    assert.match(notChecking.stderr, /--deep applies to batch --check/)
    assert.equal(existsSync(join(tmp.dir, 'state-deep')), false, 'nothing was run')
  })

  test('a CSV with a plaintext password cell is refused, naming the line', async () => {
    const path = join(tmp.dir, 'plain.csv')
    writeFileSync(path, `host1;user1;password1;host2;user2;password2\n127.0.0.1:${source.port};a;env:X;127.0.0.1:${dest.port};b;Sup3rS3cret\n`)
    const result = await runCli(['batch', '--accounts', path], {})
    assert.equal(result.code, 2)
    assert.match(result.stderr, /plain\.csv:2: password2 must be a reference/)
    assert.ok(!result.stderr.includes('Sup3rS3cret'))
  })

  test('--repair for every account: a refused message stored repaired; a wrong list stops the batch before any account', async () => {
    const {account, path, long} = await longLineAccount('rpb', 'repair')
    const wrong = await runCli(['batch', '--config', path, '--repair', 'long-lines,bodies'], env())
    assert.equal(wrong.code, 2, wrong.stderr)
    assert.match(wrong.stderr, /--repair: unknown repair "bodies"/)
    const plain = await runCli(['batch', '--config', path, '--json'], env())
    assert.equal(plain.code, 1, plain.stderr)
    const repaired = await runCli(['batch', '--config', path, '--repair', 'long-lines', '--json'], env())
    assert.equal(repaired.code, 0, `${repaired.stdout.slice(0, 2000)}\n${repaired.stderr}`)
    const stored = await withClient(dest, account.dest, async (client) => {
      await client.mailboxOpen('INBOX', {readOnly: true})
      const m = await client.fetchOne('*', {source: true})
      assert.ok(m && m.source)
      return m.source
    })
    assert.ok(stored.equals(repairMessage(long, ['long-lines'], {maxLineLength: 1000})!.raw))
  })
})
