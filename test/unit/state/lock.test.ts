/**
 * The state lock with real processes: a kernel (fcntl) lock that a second process cannot take and
 * that a kill -9 frees at once, even before the killed process is reaped.
 */
import assert from 'node:assert/strict'
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, test} from 'node:test'
import {fileURLToPath} from 'node:url'

import {StateError} from '../../../src/errors.js'
import {openStateDb} from '../../../src/state/db.js'

const DB_MODULE = fileURLToPath(new URL('../../../src/state/db.ts', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'mf-lock-'))
after(() => rmSync(dir, {recursive: true, force: true}))

let n = 0
const freshPath = () => join(dir, `state-${++n}.sqlite`)

/** Code for a child that opens the state (taking the lock), says so, and then waits or exits. */
const childCode = (path: string, then: 'hold' | 'exit', startAt = 0) =>
  `import {openStateDb} from ${JSON.stringify(DB_MODULE)}
while (Date.now() < ${startAt}) {}
try { openStateDb(${JSON.stringify(path)}); console.log('locked') } catch (e) { console.log('refused', e.exitCode, e.message); process.exit(e.exitCode) }
${{hold: 'setInterval(() => {}, 1000)', exit: 'process.exit(0)'}[then]}`

const nodeArgs = (code: string) => ['--import', 'tsx', '--input-type=module', '-e', code]

/** Starts a child that holds the lock; resolves once it has it. */
function holder(path: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs(childCode(path, 'hold')), {stdio: ['ignore', 'pipe', 'inherit']})
    let out = ''
    child.stdout!.on('data', (chunk) => {
      out += chunk
      if (out.includes('locked')) resolve(child)
      else if (out.includes('refused')) reject(new Error(out))
    })
    child.on('error', reject)
  })
}

/** A child that tries to open the state and exits: its exit code and output. */
function tryInChild(path: string): {status: number | null; stdout: string} {
  const result = spawnSync(process.execPath, nodeArgs(childCode(path, 'exit')), {encoding: 'utf8'})
  return {status: result.status, stdout: result.stdout}
}

const procState = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0]
  } catch {
    return undefined
  }
}

test('a second process is refused with a StateError (exit 6) naming the owner pid', async () => {
  const path = freshPath()
  const child = await holder(path)
  try {
    assert.throws(
      () => openStateDb(path),
      (error: unknown) => error instanceof StateError && error.exitCode === 6 && new RegExp(`in use by another mailferry run \\(pid ${child.pid}\\)`).test(error.message),
    )
    assert.equal(tryInChild(path).status, 6)
    // A kernel lock: the holder's POSIX (fcntl) write lock is in the kernel's table.
    if (existsSync('/proc/locks')) assert.match(readFileSync('/proc/locks', 'utf8'), new RegExp(`POSIX +ADVISORY +WRITE +${child.pid} `))
  } finally {
    child.kill('SIGKILL')
  }
})

test('two processes starting in the same instant: exactly one gets the lock', async () => {
  for (let round = 0; round < 3; round++) {
    const path = freshPath()
    openStateDb(path).close()
    // Both spin until the same moment (they take a while to start), then open; the winner holds on
    // until both have answered, so a late starter still meets the lock.
    const at = Date.now() + 3000
    const children: ChildProcess[] = []
    const run = () =>
      new Promise<string>((resolve) => {
        const child = spawn(process.execPath, nodeArgs(childCode(path, 'hold', at)), {stdio: ['ignore', 'pipe', 'inherit']})
        children.push(child)
        let out = ''
        child.stdout!.on('data', (chunk) => {
          out += chunk
          if (out.includes('\n')) resolve(out.trim().split(' ')[0])
        })
        child.on('close', () => resolve(out.trim().split(' ')[0]))
      })
    try {
      const outcomes = (await Promise.all([run(), run()])).sort()
      assert.deepEqual(outcomes, ['locked', 'refused'], `round ${round}`)
    } finally {
      for (const child of children) child.kill('SIGKILL')
    }
  }
})

test('the lock holds while the run goes on even when nothing refers to its handle (a collected connection would drop it)', async () => {
  const path = freshPath()
  const code = `import {openStateDb} from ${JSON.stringify(DB_MODULE)}
openStateDb(${JSON.stringify(path)})
globalThis.gc(); setTimeout(() => { globalThis.gc(); console.log('collected') }, 50)
setInterval(() => {}, 1000)`
  const child = spawn(process.execPath, ['--expose-gc', ...nodeArgs(code)], {stdio: ['ignore', 'pipe', 'inherit']})
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk) => String(chunk).includes('collected') && resolve())
      child.on('close', () => reject(new Error('the child ended early')))
    })
    assert.equal(tryInChild(path).status, 6)
  } finally {
    child.kill('SIGKILL')
  }
})

test('kill -9 frees the lock at once: taken before the killed process is reaped', async () => {
  for (let round = 0; round < 5; round++) {
    const path = freshPath()
    const child = await holder(path)
    const pid = child.pid!
    child.kill('SIGKILL')
    // Synchronous polling: the event loop never runs, so node cannot reap the child meanwhile.
    const start = Date.now()
    let state
    for (;;) {
      try {
        state = openStateDb(path)
        break
      } catch (error) {
        if (!(error instanceof StateError) || Date.now() - start > 2000) throw error
      }
    }
    const took = Date.now() - start
    // Not reaped: a zombie, or (on a loaded machine) still in the kernel's exit, past closing its files.
    const holderState = procState(pid)
    assert.ok(holderState === 'Z' || holderState === 'R' || holderState === 'D', `the killed holder is not reaped when the lock is taken (state ${holderState})`)
    state.close()
    console.log(`# round ${round + 1}: lock taken ${took} ms after kill -9, holder not reaped (${holderState})`)
    assert.ok(took < 1000, `lock taken ${took} ms after the kill`)
  }
})

test('a second open in the same process is refused and leaves the first lock intact', () => {
  const path = freshPath()
  const first = openStateDb(path)
  try {
    assert.throws(() => openStateDb(path), /in use by another mailferry run/)
    // Our own refusal must not have dropped our fcntl lock (closing any descriptor of the file would).
    assert.equal(tryInChild(path).status, 6)
  } finally {
    first.close()
  }
  assert.equal(tryInChild(path).status, 0)
  assert.equal(statSync(`${path}.lock`).mode & 0o777, 0o600)
})

test('an old-style pid lock file does not block: dead pid, reused pid, our own; a live mailferry run does', async () => {
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!
  // A pid reused by an unrelated program.
  const other = spawn('sleep', ['60'], {stdio: 'ignore'})
  after(() => other.kill('SIGKILL'))
  for (const pid of [dead, other.pid!, process.pid]) {
    const path = freshPath()
    writeFileSync(`${path}.lock`, String(pid), {mode: 0o600})
    openStateDb(path).close()
    // Migrated into a lock database that works for the next runs too.
    assert.equal(tryInChild(path).status, 0)
  }
  // An old mailferry that is still running keeps its state to itself.
  const old = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'mailferry', 'sync'], {stdio: 'ignore'})
  try {
    const path = freshPath()
    writeFileSync(`${path}.lock`, `${old.pid}\n`, {mode: 0o600})
    assert.throws(() => openStateDb(path), new RegExp(`in use by another mailferry run \\(pid ${old.pid}\\)`))
  } finally {
    old.kill('SIGKILL')
  }
})

test('a lock file torn by a power cut (zeroed or garbled, since it is written without fsync) does not block', () => {
  for (const torn of [Buffer.alloc(4096), Buffer.from('SQLite format 3\0'.padEnd(4096, '\u00ff'), 'latin1')]) {
    const path = freshPath()
    writeFileSync(`${path}.lock`, torn, {mode: 0o600})
    openStateDb(path).close()
    assert.equal(tryInChild(path).status, 0)
  }
})
