/**
 * Runs the real `mailferry` binary (compiled lib/, as users run it) against harness servers.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before} from 'node:test'
import {fileURLToPath} from 'node:url'

import type {DovecotInstance} from '../harness/dovecot.js'

export const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** stdout parsed as JSON when --json was given and it parses. */
  json?: any
}

/** No run in these tests takes this long: one that does is killed, so a hang fails a test instead of CI. */
const HANG_LIMIT_MS = 240_000

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, options: {killAfterMs?: number} = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: {...process.env, ...env, NO_COLOR: '1'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const timer = options.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.killAfterMs)
    const hang = setTimeout(() => {
      stderr += `\n[test harness: mailferry ${args[0]} killed after ${HANG_LIMIT_MS / 1000} s]`
      child.kill('SIGKILL')
    }, HANG_LIMIT_MS)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer)
      clearTimeout(hang)
      let json
      if (args.includes('--json')) {
        try {
          json = JSON.parse(stdout)
        } catch {
          json = undefined
        }
      }
      resolve({code, signal, stdout, stderr, json})
    })
  })
}

/** A temp dir for state files, removed by the returned cleanup. */
/**
 * The servers a test file shares: started before its tests (and handed to `use`), stopped after
 * them, and `tmp` removed.
 */
export function serversForFile<T extends Array<{stop(): Promise<void>} | undefined>>(
  start: () => Promise<T>,
  use: (servers: T) => void,
  tmp?: {cleanup(): void},
): void {
  let servers: T | undefined
  before(async () => use((servers = await start())))
  after(async () => {
    await Promise.all((servers ?? []).map((server) => server?.stop()))
    tmp?.cleanup()
  })
}

export function tempDir(prefix = 'mailferry-test-'): {dir: string; cleanup: () => void} {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return {dir, cleanup: () => rmSync(dir, {recursive: true, force: true})}
}

/** Flags and env for a sync between two harness instances, plaintext on loopback. */
export function syncArgs(
  source: Pick<DovecotInstance, 'port' | 'password'>,
  dest: Pick<DovecotInstance, 'port' | 'password'>,
  user: {source: string; dest: string},
  statePath: string,
): {args: string[]; env: NodeJS.ProcessEnv} {
  return {
    args: [
      'sync',
      '--source',
      `imap://${encodeURIComponent(user.source)}@127.0.0.1:${source.port}`,
      '--source-tls',
      'none',
      '--source-password-env',
      'MF_TEST_SOURCE_PW',
      '--dest',
      `imap://${encodeURIComponent(user.dest)}@127.0.0.1:${dest.port}`,
      '--dest-tls',
      'none',
      '--dest-password-env',
      'MF_TEST_DEST_PW',
      '--state',
      statePath,
    ],
    env: {MF_TEST_SOURCE_PW: source.password, MF_TEST_DEST_PW: dest.password},
  }
}

let counter = 0
/** A brand-new user name: the harness lets any user log in, with an empty mailbox. */
export function freshUser(tag: string): string {
  counter++
  return `${tag}-${process.pid}-${counter}`
}

/** Polls check() every 50 ms until it is true and returns how long that took; fails after timeoutMs, saying `what`. */
export async function within(timeoutMs: number, check: () => Promise<boolean> | boolean, what: () => string = () => ''): Promise<number> {
  const started = Date.now()
  while (Date.now() - started < timeoutMs) {
    if (await check()) return Date.now() - started
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.fail(`not within ${timeoutMs} ms: ${what()}`)
}

/**
 * The log's lines that say a connection was refused for being one too many (Dovecot's "Maximum number
 * of connections", mailferry's "refuses more sessions / another connection"), or that a hand-over was
 * missed ("a mailferry bug").
 */
export function refusals(log: string): string[] {
  return log.split('\n').filter((line) => /Maximum number of connections|refuses (more sessions|another connection)|a mailferry bug/i.test(line))
}

/** A long-running command (watch) in the background: its stderr so far, its exit code, and stop() with SIGTERM for it. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): {stderr: () => string; exited: Promise<number | null>; stop: () => Promise<number | null>} {
  const child = spawn(process.execPath, [BIN, ...args], {env: {...process.env, ...env, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return {
    stderr: () => stderr,
    exited,
    stop: () => {
      child.kill('SIGTERM')
      return exited
    },
  }
}

/** Resolves once the run's log file (read again every 20 ms) satisfies `done`; fails after timeoutMs with its tail. */
export async function waitForLog(logFile: string, done: (text: string) => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let text = ''
    try {
      text = readFileSync(logFile, 'utf8')
    } catch {
      // not created yet
    }
    if (done(text)) return
    if (Date.now() > deadline) throw new Error(`${what} not in the log after ${timeoutMs} ms:\n${text.slice(-2000)}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Waits until the run's log shows `count` copied messages (it logs each at debug level). */
export const copiedInLog = (logFile: string, count: number, timeoutMs?: number) =>
  waitForLog(logFile, (text) => (text.match(/ copied \(/g) ?? []).length >= count, `${count} copied messages`, timeoutMs)
