/**
 * A destination "restart" mid-run: every imap process of the destination Dovecot is killed twice,
 * once while folders are being prepared and once while messages are being appended, while several folders (one with a UTF-8 name) are being copied. The run must
 * notice each dead session at once, retry its step on a fresh session, and end with exit 0 and an
 * exact copy: no stall, no folder given up, nothing duplicated.
 *
 * MAILFERRY_RESTART_MESSAGES (default 1000; 2,000 in the measured loop) sets the message count. Found with it: a STATUS whose
 * session died was reported by imapflow as `false`, and mailferry gave the folder up (exit 5).
 */
import assert from 'node:assert/strict'
import {copyFileSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {test} from 'node:test'

import {imapProcesses, startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {seed, snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {freshUser, runCli, serversForFile, syncArgs, tempDir, waitForLog} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()
const TOTAL = Number(process.env.MAILFERRY_RESTART_MESSAGES ?? 1000)
/** Where logs of a failed run are kept for reading (the instance dirs are removed by stop()). */
const KEEP = process.env.MAILFERRY_RESTART_KEEP

serversForFile(() => Promise.all([startDovecot({separator: '/', name: 'rr-src'}), startDovecot({separator: '.', name: 'rr-dst'})]), (started) => ([source, dest] = started), tmp)


/** Kills every imap process of the instance, once there is one (the run may be between sessions). */
async function killImapProcesses(instance: DovecotInstance, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let pids = imapProcesses(instance)
  while (pids.length === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    pids = imapProcesses(instance)
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone already
    }
  }
  return pids.length
}


/** The longest time between two consecutive lines of the run's log (one per copy, folder, retry), in ms. */
function longestPause(log: string): number {
  const times = [...log.matchAll(/^(\d{4}-\S+Z) /gm)].map((m) => Date.parse(m[1]))
  let longest = 0
  for (let i = 1; i < times.length; i++) longest = Math.max(longest, times[i] - times[i - 1])
  return longest
}

test(`the destination's imap processes are killed twice while ${TOTAL} messages in 4 folders are copied: exit 0, exact, no stall`, async () => {
  const users = {source: freshUser('rr'), dest: freshUser('rr')}
  const share = (part: number) => Math.round(TOTAL * part)
  await seed(source, users.source, {
    INBOX: generateMessages(share(0.4), {seed: 71, meanSize: 3000}),
    Archive: generateMessages(share(0.25), {seed: 72, meanSize: 3000}),
    '日本語/サブフォルダ': generateMessages(share(0.15), {seed: 73, meanSize: 3000}),
    'Work/Projects 2024': generateMessages(TOTAL - share(0.4) - share(0.25) - share(0.15), {seed: 74, meanSize: 3000}),
  })
  const logFile = join(tmp.dir, `${users.source}.log`)
  const {args, env} = syncArgs(source, dest, users, join(tmp.dir, `${users.source}.sqlite`))
  const debug = KEEP ? ['--debug-imap'] : []
  const started = Date.now()
  // The rate keeps the run long enough for both kills to land mid-copy whatever the machine's speed.
  const rate = Number(process.env.MAILFERRY_RESTART_RATE ?? Math.max(100, Math.round(TOTAL / 8)))
  const limit = rate > 0 ? ['--max-messages-per-second', String(rate)] : []
  const running = runCli([...args, '--json', ...limit, '--retry-max-delay', '2', '--log-file', logFile, ...debug], env)
  // First kill: 0.5 s into the first folder's preparation (logins, CREATE and LIST are done), among
  // STATUS, SELECT and listings. Second: 1.5 s after the first copy, among the APPENDs.
  const kills: number[] = []
  for (const [pattern, delayMs] of [[/INFO  folder .* start$/m, 500], [/ copied \(/, 1500]] as const) {
    await waitForLog(logFile, (text) => pattern.test(text), String(pattern), 60_000)
    await new Promise((resolve) => setTimeout(resolve, delayMs))
    kills.push(await killImapProcesses(dest))
  }
  const killed = kills.reduce((a, b) => a + b, 0)
  const run = await running
  const seconds = (Date.now() - started) / 1000
  const log = readFileSync(logFile, 'utf8')
  if (KEEP && run.code !== 0) {
    copyFileSync(logFile, join(KEEP, `${users.source}.log`))
    copyFileSync(dest.logFile, join(KEEP, `${users.source}.dovecot-dest.log`))
  }
  const problems = log.split('\n').filter((l) => / (WARN|ERROR) /.test(l)).slice(0, 40).join('\n')
  assert.ok(kills.every((n) => n > 0), `imap processes of the destination were found and killed: ${kills.join(', ')}`)
  assert.equal(run.code, 0, `exit ${run.code} after ${seconds} s: ${run.json?.error ?? run.stderr}\n${problems}`)
  assert.equal(run.json.totals.failed, 0)
  assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
  // No stall: the log (a line per copy, folder and retry) never pauses for long; a session left hanging
  // would cost 30 s to minutes. Measured so, not as the run's length, so a busy machine does not fail it.
  const stall = longestPause(log)
  assert.ok(stall < 15_000, `the run made no progress for ${stall / 1000} s`)
  console.log(`restart: ${TOTAL} messages, ${killed} imap processes killed, exit ${run.code}, ${seconds.toFixed(1)} s, longest pause ${(stall / 1000).toFixed(1)} s`)
})
