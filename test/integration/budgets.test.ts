/**
 * Daily and hourly budgets between two real Dovecots. The runs see a clock the test moves
 * (MAILFERRY_DEBUG_CLOCK: seconds ahead of real time, optionally "x<speed>"), so a day's window
 * passes between two runs; `watch` and `batch` run on a fast clock and wait for their windows.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {countMessages, seed, snapshot, type Snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {BIN, type CliResult, freshUser, runCli, serversForFile, syncArgs, tempDir} from './cli.js'

const BUDGET_EXIT = 75
const RESUME_LINE = /^budget reached: \d+ of --max-(bytes-per-day|messages-per-hour) \d+ (bytes|messages) downloaded from the source in the last (24 h|hour); resume after \d\d:\d\d UTC( on \d{4}-\d\d-\d\d)?$/

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()

serversForFile(() => Promise.all([startDovecot({separator: '.'}), startDovecot({separator: '/'})]), (started) => ([source, dest] = started), tmp)

const sizeOf = (snap: Snapshot) => Object.values(snap).flat().reduce((sum, m) => sum + m.size, 0)

/** MAILFERRY_DEBUG_CLOCK that puts the runs' clock just past `resumeAt`. */
function clockPast(resumeAt: string): string {
  return String(Math.ceil((Date.parse(resumeAt) - Date.now()) / 1000) + 1)
}

function assertStopped(run: CliResult, what: string): void {
  assert.equal(run.code, BUDGET_EXIT, `${what}: ${run.stderr}`)
  assert.equal(run.json.exitCode, BUDGET_EXIT)
  assert.match(run.json.error, RESUME_LINE)
  assert.ok(run.json.budget.resumeAt, `${what}: no resumeAt`)
}

test('500 messages with --max-bytes-per-day a third of their size: three stops at the budget, then exact, no duplicates', async () => {
  const users = {source: freshUser('bud'), dest: freshUser('bud')}
  const messages = generateMessages(500, {seed: 71, meanSize: 1200})
  await seed(source, users.source, {INBOX: messages.slice(0, 320), 'Archive/2019': messages.slice(320)})
  const expected = await snapshot(source, users.source)
  const total = sizeOf(expected)
  const budget = Math.floor(total / 3)
  const statePath = join(tmp.dir, `${users.source}.sqlite`)
  const {args, env} = syncArgs(source, dest, users, statePath)
  const budgetArgs = [...args, '--max-bytes-per-day', String(budget)]

  let clock = '0'
  let copied = 0
  for (let stop = 1; stop <= 3; stop++) {
    const run = await runCli([...budgetArgs, '--json'], {...env, MAILFERRY_DEBUG_CLOCK: clock})
    assertStopped(run, `run ${stop}`)
    assert.ok(run.json.totals.copied > 0, `run ${stop} copied nothing`)
    copied += run.json.totals.copied
    const b = run.json.budget
    // Within the budget on both sides, and close to it: the next message did not fit.
    for (const side of ['source', 'dest']) {
      assert.ok(b[side].bytesPerDay.spent <= budget && b[side].bytesPerDay.spent > budget - 64 * 1024, `${side}: ${JSON.stringify(b[side])}`)
      assert.equal(b[side].bytesPerDay.spent, run.json.totals.bytes, 'the window holds exactly what this run moved')
    }
    assert.equal(b.left.messages, 500 - copied)
    assert.equal(b.etaDays, Math.ceil((b.left.bytes / budget) * 10) / 10)
    if (stop === 1) {
      // Same window: a resumed run knows what was spent, so it copies at most what still fits in the
      // window (a smaller message than the one that stopped the first run may, depending on which
      // folder is prepared first) and stops again; the text report says when to resume.
      const again = await runCli(budgetArgs, {...env, MAILFERRY_DEBUG_CLOCK: clock})
      assert.equal(again.code, BUDGET_EXIT, again.stderr)
      const fitted = /Totals: (\d+) messages? copied/.exec(again.stdout)
      copied += fitted ? Number(fitted[1]) : 0
      // The window's total, over all its runs, stays within the budget.
      const third = await runCli([...budgetArgs, '--json'], {...env, MAILFERRY_DEBUG_CLOCK: clock})
      assert.equal(third.code, BUDGET_EXIT, third.stderr)
      copied += third.json.totals.copied
      for (const side of ['source', 'dest']) assert.ok(third.json.budget[side].bytesPerDay.spent <= budget, `${side}: ${JSON.stringify(third.json.budget[side])}`)
      assert.match(again.stdout, /Stopped early: budget reached: .* resume after \d\d:\d\d UTC/)
      assert.match(again.stdout, /Left to copy: \d+ messages, .*: about \d+(\.\d)? days at the budgets' pace/)
      assert.match(again.stdout, /^exit 75: a budget \(--max-bytes-per-day, --max-messages-per-hour\) is spent/m)
      const status = await runCli(['status', '--state', statePath, '--json'])
      assert.equal(status.json.accounts[0].lastOutcome, 'budget', status.stdout)
      assert.equal(await countMessages(dest, users.dest, 'INBOX') + (await countMessages(dest, users.dest, 'Archive/2019').catch(() => 0)), copied)
    }
    // Past the whole window of this run (a slow run spends over more than one minute, and resumeAt
    // frees only the minutes the next message needs), so the next run starts with an empty window.
    const wholeDayLater = Number(clock) + 86_400 + 61
    assert.ok(Number(clockPast(b.resumeAt)) <= wholeDayLater + 1, `resumeAt ${b.resumeAt} is more than a day away`)
    clock = String(Math.max(Number(clockPast(b.resumeAt)), wholeDayLater))
  }
  const last = await runCli([...budgetArgs, '--json'], {...env, MAILFERRY_DEBUG_CLOCK: clock})
  assert.equal(last.code, 0, last.stderr)
  copied += last.json.totals.copied
  assert.equal(copied, 500)
  assert.deepEqual(last.json.budget.left, {messages: 0, bytes: 0})
  // BODY[], FLAGS and INTERNALDATE of every message equal; a duplicate would be an extra entry.
  assert.deepEqual(await snapshot(dest, users.dest), expected)
})

test('--max-messages-per-hour: exactly that many per hour, copies in flight counted; a message over the day budget fails alone', async () => {
  const users = {source: freshUser('bud'), dest: freshUser('bud')}
  await seed(source, users.source, {INBOX: generateMessages(12, {seed: 72, meanSize: 800})})
  const expected = await snapshot(source, users.source)
  const {args, env} = syncArgs(source, dest, users, join(tmp.dir, `${users.source}.sqlite`))
  const hourly = [...args, '--max-messages-per-hour', '5', '--concurrency', '8', '--json']
  const first = await runCli(hourly, env)
  assertStopped(first, 'first hour')
  assert.equal(first.json.totals.copied, 5)
  assert.match(first.json.error, /: 5 of --max-messages-per-hour 5 messages downloaded from the source in the last hour; /)
  const resumeAt = first.json.budget.resumeAt
  const minutes = (Date.parse(resumeAt) - Date.now()) / 60_000
  assert.ok(minutes > 59 && minutes <= 62, `resume in ${minutes} min`)

  const second = await runCli(hourly, {...env, MAILFERRY_DEBUG_CLOCK: clockPast(resumeAt)})
  assertStopped(second, 'second hour')
  assert.equal(second.json.totals.copied, 5)
  const third = await runCli(hourly, {...env, MAILFERRY_DEBUG_CLOCK: clockPast(second.json.budget.resumeAt)})
  assert.equal(third.code, 0, third.stderr)
  assert.equal(third.json.totals.copied, 2)
  assert.deepEqual(await snapshot(dest, users.dest), expected)

  // One message larger than the whole day budget can never fit: it fails (exit 1), the rest is copied.
  const big = {source: freshUser('bud'), dest: freshUser('bud')}
  const mail = generateMessages(4, {seed: 73, meanSize: 500, largeSizes: [20_000]})
  await seed(source, big.source, {INBOX: mail})
  const bigRun = syncArgs(source, dest, big, join(tmp.dir, `${big.source}.sqlite`))
  const run = await runCli([...bigRun.args, '--max-bytes-per-day', '15000', '--json'], bigRun.env)
  assert.equal(run.code, 1, run.stderr)
  assert.equal(run.json.totals.copied, 4)
  assert.match(run.json.failures[0].reason, /larger \(\d+ bytes\) than --max-bytes-per-day 15000/)
})

test('watch waits for the window and resumes by itself', async () => {
  const users = {source: freshUser('budw'), dest: freshUser('budw')}
  await seed(source, users.source, {INBOX: generateMessages(10, {seed: 74, meanSize: 600})})
  const expected = await snapshot(source, users.source)
  const {args, env} = syncArgs(source, dest, users, join(tmp.dir, `${users.source}.sqlite`))
  args[0] = 'watch'
  // 600 times as fast: an hour's window passes in 6 s.
  const child = spawn(process.execPath, [BIN, ...args, '--max-messages-per-hour', '4', '--interval', '1'], {
    env: {...process.env, ...env, MAILFERRY_DEBUG_CLOCK: '0x600'},
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  try {
    const deadline = Date.now() + 60_000
    while (JSON.stringify(await snapshot(dest, users.dest)) !== JSON.stringify(expected)) {
      assert.ok(Date.now() < deadline, `not equal within 60 s:\n${stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  } finally {
    child.kill('SIGTERM')
  }
  assert.equal(await exited, 0, stderr)
  // 10 messages at 4 an hour: two waits.
  assert.equal((stderr.match(/budget reached: .*; resume after \d\d:\d\d UTC.*; waiting/g) ?? []).length, 2, stderr)
  assert.deepEqual(await snapshot(dest, users.dest), expected)
})

test('batch: an account at its budget is deferred, the others go on, and it resumes when its window frees', async () => {
  const busy = {source: freshUser('budb'), dest: freshUser('budb')}
  const light = {source: freshUser('budb'), dest: freshUser('budb')}
  await seed(source, busy.source, {INBOX: generateMessages(7, {seed: 75, meanSize: 600})})
  await seed(source, light.source, {INBOX: generateMessages(2, {seed: 76, meanSize: 600})})
  const config = join(tmp.dir, 'budget-batch.yaml')
  writeFileSync(
    config,
    `defaults:
  concurrency: 2
  maxMessagesPerHour: 3
  source: {host: 127.0.0.1, port: ${source.port}, tls: none, passwordEnv: MF_SRC_PW}
  dest: {host: 127.0.0.1, port: ${dest.port}, tls: none, passwordEnv: MF_DST_PW}
stateDir: ./state-budget-batch
jobs:
  - source: {user: ${busy.source}}
    dest: {user: ${busy.dest}}
  - source: {user: ${light.source}}
    dest: {user: ${light.dest}}
`,
  )
  const run = await runCli(['batch', '--config', config, '--parallel', '1', '--json'], {
    MF_SRC_PW: source.password,
    MF_DST_PW: dest.password,
    MAILFERRY_DEBUG_CLOCK: '0x600',
  })
  assert.equal(run.code, 0, run.stderr)
  const lines = run.stderr.split('\n')
  const at = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line))
  const busyId = `${busy.source}@`
  // The busy account stops at 3, the light one runs meanwhile, the busy one resumes twice.
  assert.ok(at(new RegExp(`defer  ${busyId}.*3 copied, budget reached`)) >= 0, run.stderr)
  assert.ok(at(new RegExp(`finish ${light.source}@.*: ok`)) > at(new RegExp(`defer  ${busyId}`)), run.stderr)
  assert.equal(lines.filter((line) => line.includes(`resume ${busyId}`)).length, 2, run.stderr)
  const row = run.json.accounts.find((a: {source: string}) => a.source.startsWith(busyId))
  assert.equal(row.outcome, 'ok')
  assert.equal(row.copied, 7)
  for (const a of [busy, light]) assert.deepEqual(await snapshot(dest, a.dest), await snapshot(source, a.source))
})
