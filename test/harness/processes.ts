/**
 * What the server harnesses (dovecot.ts, cyrus.ts) share: the mail user, free ports, process
 * groups of a master and its children, stale instances of dead test processes, log tails.
 */
import {execFile, type ChildProcess} from 'node:child_process'
import {existsSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

const run = promisify(execFile)

/** System user that owns the test mail when the tests run as root. */
export const MAIL_USER = 'mailferry-test'

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function lookupUser(name: string): Promise<{uid: number; gid: number} | undefined> {
  try {
    const {stdout} = await run('getent', ['passwd', name])
    const fields = stdout.trim().split(':')
    return {uid: Number(fields[2]), gid: Number(fields[3])}
  } catch {
    return undefined
  }
}

/** As root: MAIL_USER, created when missing (servers refuse to store mail as root). */
export async function ensureMailUser(): Promise<{uid: number; gid: number}> {
  if (!(await lookupUser(MAIL_USER))) {
    await run('useradd', ['-r', '-M', '-s', '/usr/sbin/nologin', MAIL_USER]).catch(async (error) => {
      // A parallel test process may have created it in the meantime.
      if (!(await lookupUser(MAIL_USER))) throw error
    })
  }
  const user = await lookupUser(MAIL_USER)
  if (!user) throw new Error(`could not create the system user ${MAIL_USER}`)
  return user
}

/** The current user's primary group name (`id -gn`), or `user`'s. */
export async function groupName(user?: string): Promise<string> {
  return (await run('id', user ? ['-gn', user] : ['-gn'])).stdout.trim()
}

/** Ports the kernel reports free right now; the harnesses retry if one is taken meanwhile. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({length: count}, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const server = createServer()
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve(server))
    })),
  )
  // All listen at once so the ports are distinct; then release them together.
  const ports = servers.map((server) => (server.address() as {port: number}).port)
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
  return ports
}

export function logTail(logFile: string, lines = 30): string {
  try {
    const text = readFileSync(logFile, 'utf8').trimEnd().split('\n')
    return `--- tail of ${logFile} ---\n${text.slice(-lines).join('\n')}`
  } catch {
    return `(no log file ${logFile})`
  }
}

/**
 * Signals a master and all its children at once (it is spawned detached, so it leads its own
 * process group), as Ctrl-C does for a server in the foreground. For Dovecot, SIGTERM to the
 * master alone is slow: its imap processes keep serving open connections for ~10 s, and 2.3's
 * master sleeps a fixed second at shutdown while its log process lives. This way all exit in ~0.1 s.
 */
export function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal)
  } catch {
    // the group is gone already
  }
}

/** Waits until no process of the group is left; SIGKILLs the group after `timeoutMs`. */
export async function waitUntilGone(group: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (processGroup(group).length > 0) {
    if (Date.now() > deadline) {
      signalGroup(group, 'SIGKILL')
      return
    }
    await sleep(10)
  }
}

/** Live (not zombie) pids of a process group. */
export function processGroup(group: number): number[] {
  const result: number[] = []
  for (const name of readdirNumeric('/proc')) {
    const fields = statFields(name)
    if (fields && fields.state !== 'Z' && fields.pgrp === group) result.push(name)
  }
  return result
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const fields = statFields(pid)
  return fields !== undefined && fields.state !== 'Z'
}

/** Guards against pid reuse: the master's command line names our instance dir. */
export function isOurMaster(pid: number, dir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)
  } catch {
    return false
  }
}

function readdirNumeric(dir: string): number[] {
  return readdirSync(dir).filter((name) => /^\d+$/.test(name)).map(Number)
}

/** Fields of /proc/<pid>/stat we use; undefined if the process is gone. */
function statFields(pid: number): {state: string; ppid: number; pgrp: number} | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    // "pid (comm) state ppid pgrp ...": comm may contain spaces, so parse after the last ')'.
    const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return {state, ppid: Number(ppid), pgrp: Number(pgrp)}
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// Instances: stopped by their test, or at exit (a test that forgets or crashes), or on the next run

/** A server master spawned detached (it leads its own process group) and its temp dir. */
export interface Tracked {
  child: ChildProcess
  dir: string
}

/** Instances still alive, so the exit hooks can stop them. */
const tracked = new Set<Tracked>()
/** Other temp dirs to remove at exit (the test certificates). */
const exitDirs = new Set<string>()

export function track(entry: Tracked): void {
  installExitHooks()
  tracked.add(entry)
}

export function removeAtExit(dir: string): void {
  installExitHooks()
  exitDirs.add(dir)
}

/**
 * Stops a tracked master and everything it started, then removes its dir (after `beforeRemove`).
 * False when it was stopped already (stop() is idempotent).
 */
export async function stopTracked(entry: Tracked, timeoutMs: number, beforeRemove?: () => Promise<void>): Promise<boolean> {
  if (!tracked.delete(entry)) return false
  const {child} = entry
  const group = child.pid!
  if (child.exitCode === null && child.signalCode === null) {
    // The awaited exit must keep the event loop alive again.
    child.ref()
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    signalGroup(group, 'SIGTERM')
    await exited
  }
  await waitUntilGone(group, timeoutMs)
  await beforeRemove?.()
  rmSync(entry.dir, {recursive: true, force: true})
  return true
}

let hooksInstalled = false

/** Stops every instance when the process exits, also on SIGINT/SIGTERM/SIGHUP (e.g. a test timeout). */
function installExitHooks(): void {
  if (hooksInstalled) return
  hooksInstalled = true
  process.on('exit', killAllSync)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllSync()
      // Unless someone else handles it, die of the signal as if we had not been listening.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
    })
  }
}

/** Exit-time cleanup: no event loop any more, so it waits synchronously (briefly). */
function killAllSync(): void {
  for (const entry of tracked) signalGroup(entry.child.pid!, 'SIGTERM')
  const deadline = Date.now() + 2000
  for (const entry of tracked) {
    while (processGroup(entry.child.pid!).length > 0 && Date.now() < deadline) sleepSync(10)
    removeDir(entry.dir)
  }
  tracked.clear()
  for (const dir of exitDirs) removeDir(dir)
  exitDirs.clear()
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

function removeDir(dir: string): void {
  try {
    rmSync(dir, {recursive: true, force: true, maxRetries: 3, retryDelay: 10})
  } catch {
    // best effort at exit; reapStaleInstances() removes it next time
  }
}

const reaped = new Set<string>()

/**
 * A test process killed with SIGKILL cannot run its exit hook. Its instances are found by their temp
 * dir name, `<prefix><pid>-...` in baseDir (the temp dir): if that pid is gone, the master from
 * run/master.pid is stopped (when it is still ours) and the dir removed. Once per prefix and baseDir.
 */
export function reapStaleInstances(prefix: string, baseDir = tmpdir()): void {
  const key = join(baseDir, prefix)
  if (reaped.has(key)) return
  reaped.add(key)
  let names: string[]
  try {
    names = readdirSync(baseDir).filter((name) => name.startsWith(prefix))
  } catch {
    return
  }
  for (const name of names) {
    const owner = Number(name.slice(prefix.length).split('-')[0])
    if (!owner || owner === process.pid || isAlive(owner)) continue
    const dir = join(baseDir, name)
    const pidFile = join(dir, 'run', 'master.pid')
    const master = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0
    if (master && isAlive(master) && isOurMaster(master, dir)) signalGroup(master, 'SIGTERM')
    rmSync(dir, {recursive: true, force: true})
  }
}
