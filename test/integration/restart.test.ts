/**
 * A destination "restart" mid-run: every imap process of the destination Dovecot is killed twice,
 * at ~2 s and ~4 s, while several folders (one with a UTF-8 name) are being copied. The run must
 * notice each dead session at once, retry its step on a fresh session, and end with exit 0 and an
 * exact copy: no stall, no folder given up, nothing duplicated.
 *
 * MAILFERRY_RESTART_MESSAGES (default 2000) sets the message count. Found with it: a STATUS whose
 * session died was reported by imapflow as `false`, and mailferry gave the folder up (exit 5).
 */
import assert from 'node:assert/strict'
import {copyFileSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, test} from 'node:test'

import {instanceProcesses, startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {seed, snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {freshUser, runCli, syncArgs, tempDir} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()
const TOTAL = Number(process.env.MAILFERRY_RESTART_MESSAGES ?? 2000)
/** Where logs of a failed run are kept for reading (the instance dirs are removed by stop()). */
const KEEP = process.env.MAILFERRY_RESTART_KEEP

before(async () => {
  ;[source, dest] = await Promise.all([startDovecot({separator: '/', name: 'rr-src'}), startDovecot({separator: '.', name: 'rr-dst'})])
})
after(async () => {
  await Promise.all([source?.stop(), dest?.stop()])
  tmp.cleanup()
})

function killImapProcesses(instance: DovecotInstance): number {
  let killed = 0
  for (const pid of instanceProcesses(instance)) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'imap') continue
      process.kill(pid, 'SIGKILL')
      killed++
    } catch {
      // gone already
    }
  }
  return killed
}

/** Resolves once the log file shows a copied message (the run is past its preparation). */
async function firstCopy(logFile: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let text = ''
    try {
      text = readFileSync(logFile, 'utf8')
    } catch {
      // not created yet
    }
    if (/ copied \(/.test(text)) return
    if (Date.now() > deadline) throw new Error(`nothing copied after ${timeoutMs} ms:\n${text.slice(-2000)}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
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
  // The times count from the start of the process, so a kill can land while folders are being
  // prepared (STATUS, SELECT, listings); MAILFERRY_RESTART_FROM=copy counts from the first copy.
  if (process.env.MAILFERRY_RESTART_FROM === 'copy') await firstCopy(logFile)
  const copyStart = Date.now()
  let killed = 0
  // A server restart at ~2 s and ~4 s into the copy: times, not conditions, are the scenario.
  for (const at of [2000, 4000]) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, copyStart + at - Date.now())))
    killed += killImapProcesses(dest)
  }
  const run = await running
  const seconds = (Date.now() - started) / 1000
  const log = readFileSync(logFile, 'utf8')
  if (KEEP && run.code !== 0) {
    copyFileSync(logFile, join(KEEP, `${users.source}.log`))
    copyFileSync(dest.logFile, join(KEEP, `${users.source}.dovecot-dest.log`))
  }
  const problems = log.split('\n').filter((l) => / (WARN|ERROR) /.test(l)).slice(0, 40).join('\n')
  assert.ok(killed > 0, 'imap processes of the destination were found and killed')
  assert.equal(run.code, 0, `exit ${run.code} after ${seconds} s: ${run.json?.error ?? run.stderr}\n${problems}`)
  assert.equal(run.json.totals.failed, 0)
  assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
  // No stall: at the run's rate the copy takes about 8 s; a session left hanging costs minutes.
  assert.ok(seconds < 60, `the run took ${seconds} s`)
  console.log(`restart: ${TOTAL} messages, ${killed} imap processes killed, exit ${run.code}, ${seconds.toFixed(1)} s`)
})
