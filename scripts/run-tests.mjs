#!/usr/bin/env node
// Runs the test suite with node's built-in runner and the tsx loader.
// Usage: node scripts/run-tests.mjs [dir-or-file ...]   (default: test/unit and test/integration)
// Node 20 has no glob support in --test, so the files are collected here.
//
// The tests run with TMPDIR set to a fresh dir of this run, in a process group of their own. Whatever
// they leave (a test process killed before its exit hooks ran, say) is stopped and removed at the end,
// also after Ctrl-C or a SIGTERM to this process alone, which is passed on to the whole group.
import {spawn} from 'node:child_process'
import {chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

function collect(path, out) {
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path).sort()) collect(join(path, entry), out)
  } else if (path.endsWith('.test.ts')) {
    out.push(path)
  }
  return out
}

const roots = process.argv.slice(2)
const files = (roots.length ? roots : ['test/unit', 'test/integration']).flatMap((root) => collect(root, []))
if (files.length === 0) {
  console.error('no test files found')
  process.exit(1)
}

const RUN_PREFIX = 'mf-run-'
reapStaleRuns()
const runDir = mkdtempSync(join(tmpdir(), `${RUN_PREFIX}${process.pid}-`))
// As root the servers run as the mail user, which must reach its homes below this dir.
chmodSync(runDir, 0o711)

const concurrency = process.env.MAILFERRY_TEST_CONCURRENCY ?? '2'
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  {stdio: 'inherit', detached: true, env: {...process.env, TMPDIR: runDir}},
)
const group = child.pid

// Ctrl-C signals our foreground group, not the tests' one: pass every such signal on, once.
const signals = ['SIGINT', 'SIGTERM', 'SIGHUP']
let received
for (const signal of signals) {
  process.on(signal, () => {
    received ??= signal
    signalGroup(group, signal)
  })
}

child.on('exit', async (code, signal) => {
  // The runner is gone; its test processes may still be running their exit hooks.
  await waitForGroup(group, 5000)
  const left = cleanUp(runDir, group)
  if (left > 0) console.error(`run-tests: stopped ${left} process(es) the tests left behind`)
  const dieOf = received ?? signal
  if (dieOf) {
    for (const s of signals) process.removeAllListeners(s)
    process.kill(process.pid, dieOf)
    return
  }
  process.exit(code ?? 1)
})

function signalGroup(pgrp, signal) {
  try {
    process.kill(-pgrp, signal)
  } catch {
    // the group is gone already
  }
}

/** Processes in /proc as {pid, pgrp, cmdline}; zombies left out. */
function processes() {
  const out = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1')
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (state === 'Z') continue
      out.push({pid: Number(name), pgrp: Number(pgrp), cmdline: readFileSync(`/proc/${name}/cmdline`, 'latin1')})
    } catch {
      // exited meanwhile
    }
  }
  return out
}

async function waitForGroup(pgrp, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  while (processes().some((p) => p.pgrp === pgrp) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
}

/**
 * Stops what is left of a run: the tests' group, and every process group whose member's command line
 * names the run's dir (server masters run detached, `dovecot -c <dir>/...`, `master -C <dir>/...`).
 * Then removes the dir. Returns how many processes it had to stop.
 */
function cleanUp(dir, testGroup) {
  const groups = new Set(testGroup ? [testGroup] : [])
  for (const p of processes()) if (p.cmdline.includes(dir)) groups.add(p.pgrp)
  const members = () => processes().filter((p) => groups.has(p.pgrp))
  const left = members().length
  if (left > 0) {
    for (const g of groups) signalGroup(g, 'SIGTERM')
    const deadline = Date.now() + 3000
    while (members().length > 0 && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20)
    for (const g of groups) signalGroup(g, 'SIGKILL')
  }
  rmSync(dir, {recursive: true, force: true, maxRetries: 3, retryDelay: 50})
  return left
}

/** Run dirs of runs that were SIGKILLed (their pid is gone): stop what they left, remove them. */
function reapStaleRuns() {
  let names = []
  try {
    names = readdirSync(tmpdir()).filter((name) => name.startsWith(RUN_PREFIX))
  } catch {
    return
  }
  for (const name of names) {
    const owner = Number(name.slice(RUN_PREFIX.length).split('-')[0])
    if (!owner || processes().some((p) => p.pid === owner)) continue
    cleanUp(join(tmpdir(), name))
  }
}
