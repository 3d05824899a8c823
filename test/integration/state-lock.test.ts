/**
 * The state database's single-writer lock with real `mailferry sync` processes: a second run is
 * refused (exit 6) while `status` keeps reading; a run killed with kill -9 leaves no lock behind,
 * so the next run started right after the kill proceeds (five times in a row), and the end result
 * is an exact copy.
 */
import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {describe, test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {seed, snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {BIN, freshUser, runCli, serversForFile, syncArgs, tempDir} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()

serversForFile(() => Promise.all([startDovecot({separator: '.'}), startDovecot({separator: '/'})]), (started) => ([source, dest] = started), tmp)

/** Messages the state records as copied (0 before the schema exists). */
function copiedRows(statePath: string): number {
  if (!existsSync(statePath)) return 0
  const db = new Database(statePath, {readonly: true, fileMustExist: true})
  try {
    db.pragma('busy_timeout = 5000')
    return (db.prepare(`SELECT count(*) AS n FROM messages WHERE status = 'copied'`).get() as {n: number}).n
  } catch {
    return 0
  } finally {
    db.close()
  }
}

interface Running {
  child: ChildProcess
  exited: Promise<{code: number | null; signal: NodeJS.Signals | null; stderr: string}>
}

function start(args: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, [BIN, ...args], {env: {...process.env, ...env, NO_COLOR: '1'}, stdio: ['ignore', 'ignore', 'pipe']})
  let stderr = ''
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null; stderr: string}>((resolve) =>
    child.on('close', (code, signal) => resolve({code, signal, stderr})),
  )
  return {child, exited}
}

/** Waits until the run has copied more than `than` messages; fails if it exits first. */
async function copyingBeyond(run: Running, statePath: string, than: number): Promise<number> {
  let ended: {code: number | null; stderr: string} | undefined
  void run.exited.then((result) => (ended = result))
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    const copied = copiedRows(statePath)
    if (copied > than) return copied
    if (ended) assert.fail(`the run ended (exit ${ended.code}) before copying anything new: ${ended.stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.fail('the run copied nothing new within 60 s')
}

describe('state lock with real processes', () => {
  // Throttled, so that each run is still copying when it is checked or killed.
  const slow = ['--max-messages-per-second', '8']

  test('a second run on the same state is refused (exit 6); status reads beside the running one', async () => {
    const users = {source: freshUser('src'), dest: freshUser('dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    await seed(source, users.source, {INBOX: generateMessages(60, {seed: 5, meanSize: 2000})})
    const {args, env} = syncArgs(source, dest, users, state)
    const first = start([...args, ...slow], env)
    try {
      await copyingBeyond(first, state, 0)
      const second = await runCli(args, env)
      assert.equal(second.code, 6, second.stderr)
      assert.match(second.stderr, new RegExp(`in use by another mailferry run \\(pid ${first.child.pid}\\)`))
      assert.match(second.stderr, /hint: .*wait for that run to finish/i)
      assert.doesNotMatch(second.stderr, /\n\s+at /, 'no stack trace')
      const status = await runCli(['status', '--state', state, '--json'])
      assert.equal(status.code, 0, status.stderr)
      assert.ok(status.json.accounts[0].folders.length >= 1, status.stdout)
    } finally {
      first.child.kill('SIGKILL')
      await first.exited
    }
  })

  test('kill -9, then a new run at once, five times in a row: each proceeds; the end is an exact copy', async () => {
    const users = {source: freshUser('src'), dest: freshUser('dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    await seed(source, users.source, {INBOX: generateMessages(90, {seed: 6, meanSize: 2000}), Work: generateMessages(30, {seed: 7})})
    const {args, env} = syncArgs(source, dest, users, state)
    let run = start([...args, ...slow], env)
    let copied = await copyingBeyond(run, state, 0)
    for (let kill = 1; kill <= 5; kill++) {
      const killed = run
      killed.child.kill('SIGKILL')
      // Started before the killed process is reaped (or even gone): its lock must not be in the way.
      run = start([...args, ...slow], env)
      copied = await copyingBeyond(run, state, copied)
      assert.equal((await killed.exited).signal, 'SIGKILL')
    }
    const last = await run.exited
    assert.equal(last.code, 0, last.stderr)
    assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
  })
})
