/**
 * `npm run bench` (builds, then `node --import tsx scripts/bench.ts`): mailferry's throughput against two
 * local Dovecot instances (test/harness), with the real binary (bin/run.js, compiled lib/).
 *
 *   (a) first full sync of a generated corpus into an empty account
 *   (b) a re-run with no change
 *   (c) a re-run after 1% new messages and flag changes on 5% of the messages
 *   (d) the same corpus APPENDed raw (imapflow, 4 connections, bytes already in memory) into a fresh
 *       account on the same destination server: the practical limit (a) is measured against
 *   (e) the same first full sync by mbsync (isync), when `mbsync` is installed: the same corpus into a
 *       fresh account, flags and internal dates kept (CopyArrivalDate); its message count is checked
 *   and, as a check that (a)-(c) copied exactly, `verify` and `verify --deep` after (c).
 * Loading the corpus into the source is not measured.
 *
 * Options (flag or environment variable):
 *   --messages N      BENCH_MESSAGES      generated messages (default 10000)
 *   --mean-size B     BENCH_MEAN_SIZE     mean message size in bytes (default 50000)
 *   --large-mb LIST   BENCH_LARGE_MB      extra large messages, MB each, comma-separated, or "none" (default 10,18,25)
 *   --concurrency N   BENCH_CONCURRENCY   mailferry --concurrency (default 4)
 *   --repeat N        BENCH_REPEAT        repeat (a) and (d) N times (fresh accounts) and report the median (default 1)
 *   --out DIR         BENCH_OUT           where latest.json and latest.md go (default bench-results)
 *   --compare-bin F   BENCH_COMPARE_BIN   also time (a) with another build's bin/run.js (e.g. the commit before a
 *                                         change, built elsewhere), interleaved with (a) under the same load: (a0)
 * Writes DIR/latest.json and DIR/latest.md and prints the Markdown table.
 */
import {execFileSync, spawn} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {availableParallelism, cpus, loadavg, release, tmpdir, totalmem} from 'node:os'
import {join, resolve} from 'node:path'
import {performance} from 'node:perf_hooks'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

import {ImapFlow} from 'imapflow'

import {DOVECOT_BIN, startDovecot, type DovecotInstance} from '../test/harness/dovecot.js'
import {countMessages, createFolder, openClient, serverPath, uidSet} from '../test/harness/mailbox.js'
import {createRng, generateMessages, type SeedMessage} from '../test/harness/messages.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(ROOT, 'bin', 'run.js')

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  messages: number
  meanSize: number
  largeMb: number[]
  concurrency: number
  repeat: number
  out: string
  compareBin?: string
  cpuProf?: string
}

function options(): Options {
  const {values} = parseArgs({
    options: {
      messages: {type: 'string'},
      'mean-size': {type: 'string'},
      'large-mb': {type: 'string'},
      concurrency: {type: 'string'},
      repeat: {type: 'string'},
      out: {type: 'string'},
      'compare-bin': {type: 'string'},
      'cpu-prof': {type: 'string'},
    },
  })
  const env = process.env
  const int = (name: string, text: string | undefined, fallback: number, min: number) => {
    if (text === undefined || text === '') return fallback
    const n = Number(text)
    if (!Number.isInteger(n) || n < min) throw new Error(`${name}: expected an integer >= ${min}, got "${text}"`)
    return n
  }
  const large = values['large-mb'] ?? env.BENCH_LARGE_MB ?? '10,18,25'
  return {
    messages: int('--messages', values.messages ?? env.BENCH_MESSAGES, 10_000, 1),
    meanSize: int('--mean-size', values['mean-size'] ?? env.BENCH_MEAN_SIZE, 50_000, 300),
    largeMb: large === 'none' || large === '' ? [] : large.split(',').map((part) => {
      const n = Number(part)
      if (!(n > 0)) throw new Error(`--large-mb: expected sizes in MB like 10,18,25 or "none", got "${large}"`)
      return n
    }),
    concurrency: int('--concurrency', values.concurrency ?? env.BENCH_CONCURRENCY, 4, 1),
    repeat: int('--repeat', values.repeat ?? env.BENCH_REPEAT, 1, 1),
    out: resolve(values.out ?? env.BENCH_OUT ?? join(ROOT, 'bench-results')),
    cpuProf: values['cpu-prof'] ? resolve(values['cpu-prof']) : undefined,
    compareBin: values['compare-bin'] ?? env.BENCH_COMPARE_BIN ? resolve(values['compare-bin'] ?? env.BENCH_COMPARE_BIN!) : undefined,
  }
}

// ---------------------------------------------------------------------------------------------
// Corpus

/** Folders and their share of the generated messages (source paths, '/'-separated). */
const FOLDERS: Array<[string, number]> = [['INBOX', 0.4], ['Archive/2023', 0.25], ['Archive/2024', 0.2], ['Lists/dev', 0.15]]

type Corpus = Record<string, SeedMessage[]>

/** Splits messages over FOLDERS by their shares; `large` messages go to INBOX. */
function distribute(messages: SeedMessage[], large: SeedMessage[] = []): Corpus {
  const corpus: Corpus = {}
  let start = 0
  FOLDERS.forEach(([path, share], index) => {
    const end = index === FOLDERS.length - 1 ? messages.length : start + Math.round(messages.length * share)
    corpus[path] = messages.slice(start, end)
    start = end
  })
  corpus.INBOX.push(...large)
  return corpus
}

const countOf = (corpus: Corpus) => Object.values(corpus).reduce((n, list) => n + list.length, 0)
const bytesOf = (corpus: Corpus) => Object.values(corpus).reduce((n, list) => n + list.reduce((m, msg) => m + msg.raw.length, 0), 0)

// ---------------------------------------------------------------------------------------------
// Raw parallel APPEND (loading, and run (d))

/**
 * APPENDs every message of `corpus` with its flags and date over `connections` imapflow connections
 * sharing one work list; creates the folders first. Connecting and creating are part of the time.
 */
async function parallelAppend(server: DovecotInstance, user: string, corpus: Corpus, connections: number): Promise<number> {
  const started = performance.now()
  const clients = await Promise.all(Array.from({length: connections}, () => openClient(server, user, {disableAutoIdle: true})))
  try {
    for (const path of Object.keys(corpus)) if (path !== 'INBOX') await clients[0].mailboxCreate(serverPath(server, path))
    const jobs = Object.entries(corpus).flatMap(([path, list]) => list.map((message) => ({mailbox: serverPath(server, path), message})))
    let next = 0
    await Promise.all(
      clients.map(async (client: ImapFlow) => {
        while (next < jobs.length) {
          const {mailbox, message} = jobs[next++]
          const done = await client.append(mailbox, message.raw, message.flags, message.internalDate)
          if (!done) throw new Error(`APPEND to ${mailbox} failed`)
        }
      }),
    )
  } finally {
    await Promise.allSettled(clients.map((client) => client.logout()))
  }
  return performance.now() - started
}

/** Adds a keyword to `share` of each folder's messages (picked by a seeded PRNG). Returns how many. */
async function changeFlags(server: DovecotInstance, user: string, share: number, seed: number): Promise<number> {
  const rng = createRng(seed)
  const client = await openClient(server, user)
  let changed = 0
  try {
    for (const [path] of FOLDERS) {
      await client.mailboxOpen(serverPath(server, path))
      const uids: number[] = []
      for await (const message of client.fetch('1:*', {uid: true})) if (rng() < share) uids.push(message.uid)
      if (uids.length === 0) continue
      await client.messageFlagsAdd(uidSet(uids.sort((a, b) => a - b)), ['$BenchChanged'], {uid: true})
      changed += uids.length
    }
  } finally {
    await client.logout()
  }
  return changed
}

// ---------------------------------------------------------------------------------------------
// Running mailferry

interface Measured {
  code: number | null
  wallMs: number
  /** Peak RSS from outside: the last VmHWM read from /proc/<pid>/status while it ran. */
  vmHwmBytes?: number
  /** CPU time (user + system) from /proc/<pid>/stat, last read while it ran (up to 25 ms short). */
  cpuMs?: number
  json?: any
  stderr: string
}

function runMailferry(args: string[], env: NodeJS.ProcessEnv, bin = BIN, nodeArgs: string[] = []): Promise<Measured> {
  return new Promise((resolveRun, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, [...nodeArgs, bin, ...args], {env: {...process.env, ...env, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    let hwm: number | undefined
    let cpuMs: number | undefined
    const poll = () => {
      try {
        const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
        if (match) hwm = Math.max(hwm ?? 0, Number(match[1]) * 1024)
        // Fields 14 and 15 (utime, stime) in clock ticks of 10 ms, after the ")" of the name.
        const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ')
        cpuMs = (Number(fields[11]) + Number(fields[12])) * 10
      } catch {
        // gone already, or no /proc
      }
    }
    const timer = setInterval(poll, 25)
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => {
      clearInterval(timer)
      const wallMs = performance.now() - started
      let json
      try {
        json = JSON.parse(stdout)
      } catch {
        json = undefined
      }
      resolveRun({code, wallMs, vmHwmBytes: hwm, cpuMs, json, stderr})
    })
  })
}

function accountArgs(source: DovecotInstance, dest: DovecotInstance, users: {source: string; dest: string}): {args: string[]; env: NodeJS.ProcessEnv} {
  return {
    args: [
      '--source', `imap://${users.source}@127.0.0.1:${source.port}`, '--source-tls', 'none', '--source-password-env', 'BENCH_SOURCE_PW',
      '--dest', `imap://${users.dest}@127.0.0.1:${dest.port}`, '--dest-tls', 'none', '--dest-password-env', 'BENCH_DEST_PW',
    ],
    env: {BENCH_SOURCE_PW: source.password, BENCH_DEST_PW: dest.password},
  }
}

// ---------------------------------------------------------------------------------------------
// Figures

interface RunFigures {
  /** What was measured, for the table. */
  label: string
  /** Messages copied/appended (for (b): messages looked at). */
  messages: number
  bytes: number
  /** Wall time of the whole process (node start, login, work, logout). */
  wallMs: number
  /** The run's own duration from its JSON report, when it has one. */
  reportedMs?: number
  msgPerSec: number
  mbPerSec: number
  peakRssReportedBytes?: number
  peakRssVmHwmBytes?: number
  flagsUpdated?: number
  exitCode?: number | null
  /** All samples' wall times when repeated; the figures above are the median's. */
  samplesMs?: number[]
}

const MB = 1_000_000

function figures(label: string, messages: number, bytes: number, wallMs: number, extra: Partial<RunFigures> = {}): RunFigures {
  return {
    label,
    messages,
    bytes,
    wallMs: Math.round(wallMs),
    msgPerSec: round(messages / (wallMs / 1000), 1),
    mbPerSec: round(bytes / MB / (wallMs / 1000), 2),
    ...extra,
  }
}

const round = (n: number, digits: number) => Number(n.toFixed(digits))
const medianIndex = (values: number[]) => {
  const sorted = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0])
  return sorted[Math.floor((sorted.length - 1) / 2)][1]
}

function fromSync(label: string, run: Measured, messages: number, bytes: number): RunFigures {
  return figures(label, messages, bytes, run.wallMs, {
    reportedMs: run.json?.durationMs,
    peakRssReportedBytes: run.json?.peakRssBytes,
    peakRssVmHwmBytes: run.vmHwmBytes,
    flagsUpdated: run.json?.totals?.flagsUpdated,
    exitCode: run.code,
  })
}

function expectOk(what: string, run: Measured, check?: (json: any) => string | undefined): void {
  const problem = run.code !== 0 ? `exit ${run.code}` : check?.(run.json)
  if (problem) throw new Error(`${what}: ${problem}\n${run.stderr.slice(0, 2000)}`)
}

function machine() {
  const cpuModel = /model name\s*:\s*(.*)/.exec(safeRead('/proc/cpuinfo'))?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown'
  let dovecot = 'unknown'
  try {
    dovecot = execFileSync(DOVECOT_BIN, ['--version'], {encoding: 'utf8'}).trim()
  } catch {
    // not fatal for the report
  }
  return {
    nproc: availableParallelism(),
    cpu: cpuModel,
    ramBytes: totalmem(),
    node: process.version,
    dovecot,
    kernel: release(),
    loadavg: loadavg().map((n) => round(n, 2)),
  }
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

const mib = (bytes: number | undefined) => (bytes === undefined ? '-' : `${Math.round(bytes / 1024 / 1024)} MiB`)
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`

function markdown(result: any): string {
  const m = result.machine
  const runs: RunFigures[] = Object.values(result.runs)
  const lines = [
    `## mailferry benchmark, ${result.date.slice(0, 10)}`,
    '',
    `Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpu}, ${Math.round(m.ramBytes / 1024 ** 3)} GiB RAM, node ${m.node}, Dovecot ${m.dovecot}, Linux ${m.kernel}; ` +
      `load average before/after: ${m.loadavg.join(' ')} / ${result.loadavgAfter.join(' ')}.`,
    `Corpus: ${result.corpus.messages} messages, ${(result.corpus.bytes / MB).toFixed(0)} MB (mean ${Math.round(result.corpus.bytes / result.corpus.messages)} B` +
      `${result.corpus.largeMb.length ? `, including ${result.corpus.largeMb.map((n: number) => `${n} MB`).join(', ')}` : ''}) in ${Object.keys(result.corpus.folders).length} folders; ` +
      `both servers on 127.0.0.1 (maildir, fsync off); mailferry --concurrency ${result.concurrency}` +
      `${result.repeat > 1 ? `; (a) and (d) are the median of ${result.repeat} runs` : ''}.`,
    '',
    '| run | messages | MB | wall time | msg/s | MB/s | peak RSS (report) | peak RSS (VmHWM) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...runs.map((r) =>
      `| ${r.label} | ${r.messages}${r.flagsUpdated ? ` (+${r.flagsUpdated} flag updates)` : ''} | ${(r.bytes / MB).toFixed(1)} | ${secs(r.wallMs)}` +
        `${r.reportedMs !== undefined ? ` (${secs(r.reportedMs)} in-run)` : ''} | ${r.msgPerSec} | ${r.mbPerSec} | ${mib(r.peakRssReportedBytes)} | ${mib(r.peakRssVmHwmBytes)} |`),
    '',
    `First sync rate: **${(result.firstSyncVsRawAppend * 100).toFixed(0)}%** of the raw parallel APPEND rate (wall time of the whole mailferry process, ` +
      `including node start-up and login, against the raw APPEND including connect and login).` +
      (result.firstSyncVsMbsync !== undefined ? ` mailferry's first sync took ${(1 / result.firstSyncVsMbsync).toFixed(2)}× mbsync's time.` : ''),
    '',
  ]
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------------
// mbsync (isync) for comparison, run (e)

function mbsyncInstalled(): boolean {
  try {
    execFileSync('mbsync', ['--version'], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}

/** The same first sync with mbsync: every folder pulled into a fresh account. Returns the wall time in ms. */
async function runMbsync(work: string, source: DovecotInstance, dest: DovecotInstance, users: {source: string; dest: string}): Promise<number> {
  const dir = join(work, `mbsync-${users.dest}`)
  mkdirSync(dir, {recursive: true})
  const account = (name: string, server: DovecotInstance, user: string) =>
    `IMAPAccount ${name}\nHost 127.0.0.1\nPort ${server.port}\nUser ${user}\nPass ${server.password}\nSSLType None\nAuthMechs PLAIN\n\n` +
    `IMAPStore ${name}\nAccount ${name}\n\n`
  const config =
    account('src', source, users.source) +
    account('dst', dest, users.dest) +
    `Channel bench\nFar :src:\nNear :dst:\nPatterns *\nCreate Near\nSync Pull\nCopyArrivalDate yes\nSyncState ${dir}/\n`
  const file = join(dir, 'mbsyncrc')
  writeFileSync(file, config, {mode: 0o600})
  const started = performance.now()
  const code = await new Promise<number | null>((done, fail) => {
    const child = spawn('mbsync', ['-q', '-c', file, 'bench'], {stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', fail)
    child.on('close', (exit) => (exit === 0 ? done(exit) : fail(new Error(`mbsync exited ${exit}: ${stderr.slice(0, 2000)}`))))
  })
  void code
  return performance.now() - started
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const opts = options()
  if (!existsSync(join(ROOT, 'lib', 'commands', 'sync.js'))) throw new Error('lib/ is not built: run `npm run build` (npm run bench does)')
  const log = (text: string) => process.stderr.write(`[bench] ${text}\n`)
  const started = new Date()
  const host = machine()
  const work = mkdtempSync(join(tmpdir(), 'mailferry-bench-'))
  log(`starting two Dovecot instances`)
  const [source, dest] = await Promise.all([startDovecot({separator: '.', name: 'bench-src'}), startDovecot({separator: '/', name: 'bench-dst'})])
  try {
    log(`generating ${opts.messages} messages (mean ${opts.meanSize} B)${opts.largeMb.length ? ` + ${opts.largeMb.join(', ')} MB` : ''}`)
    const all = generateMessages(opts.messages, {seed: 2024, meanSize: opts.meanSize, largeSizes: opts.largeMb.map((mb) => Math.round((mb * MB * 3) / 4))})
    const corpus = distribute(all.slice(0, opts.messages), all.slice(opts.messages))
    const total = countOf(corpus)
    const bytes = bytesOf(corpus)
    log(`corpus: ${total} messages, ${(bytes / MB).toFixed(1)} MB; loading it into the source (not measured)`)
    const loadMs = await parallelAppend(source, 'bench', corpus, 4)
    log(`loaded in ${secs(loadMs)}`)

    const firstRuns: Measured[] = []
    const rawRuns: number[] = []
    const mbsyncRuns: number[] = []
    const compareRuns: Measured[] = []
    const withMbsync = mbsyncInstalled()
    let users = {source: 'bench', dest: ''}
    let state = ''
    for (let r = 1; r <= opts.repeat; r++) {
      log(`(d) raw parallel APPEND, 4 connections, run ${r}/${opts.repeat}`)
      rawRuns.push(await parallelAppend(dest, `raw${r}`, corpus, 4))
      log(`    ${secs(rawRuns.at(-1)!)}`)
      users = {source: 'bench', dest: `mf${r}`}
      state = join(work, `state-${r}.sqlite`)
      const {args, env} = accountArgs(source, dest, users)
      log(`(a) first full sync, run ${r}/${opts.repeat}`)
      const first = await runMailferry(['sync', ...args, '--state', state, '--concurrency', String(opts.concurrency), '--json'], env, BIN, opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProf] : [])
      expectOk('first sync', first, (json) => (json?.totals?.copied === total ? undefined : `copied ${json?.totals?.copied}, expected ${total}`))
      firstRuns.push(first)
      log(`    ${secs(first.wallMs)}, CPU ${secs(first.cpuMs ?? 0)}`)
      if (opts.compareBin) {
        log(`(a0) first full sync with ${opts.compareBin}, run ${r}/${opts.repeat}`)
        const other = accountArgs(source, dest, {source: 'bench', dest: `cmp${r}`})
        const run = await runMailferry(['sync', ...other.args, '--state', join(work, `cmp-${r}.sqlite`), '--concurrency', String(opts.concurrency), '--json'], other.env, opts.compareBin)
        expectOk('first sync (other build)', run, (json) => (json?.totals?.copied === total ? undefined : `copied ${json?.totals?.copied}, expected ${total}`))
        compareRuns.push(run)
        log(`    ${secs(run.wallMs)}, CPU ${secs(run.cpuMs ?? 0)}`)
      }
      if (withMbsync) {
        log(`(e) mbsync, first full sync, run ${r}/${opts.repeat}`)
        const mbsyncUsers = {source: 'bench', dest: `mbsync${r}`}
        mbsyncRuns.push(await runMbsync(work, source, dest, mbsyncUsers))
        log(`    ${secs(mbsyncRuns.at(-1)!)}`)
        for (const [path, list] of Object.entries(corpus)) {
          const count = await countMessages(dest, mbsyncUsers.dest, path)
          if (count !== list.length) throw new Error(`mbsync: ${path} has ${count} messages, expected ${list.length}`)
        }
      }
    }
    // (b) and (c) continue from the last first sync.
    const {args, env} = accountArgs(source, dest, users)
    const syncArgs = ['sync', ...args, '--state', state, '--concurrency', String(opts.concurrency), '--json']
    log('(b) re-run, no change')
    const noChange = await runMailferry(syncArgs, env)
    expectOk('no-change re-run', noChange, (json) => (json?.totals?.copied === 0 ? undefined : `copied ${json?.totals?.copied}, expected 0`))
    log('(b2) re-run, no change, CONDSTORE ignored (every folder listed: UID FETCH 1:* FLAGS)')
    const noChangeNoCondstore = await runMailferry([...syncArgs, '--debug-no-condstore'], env)
    expectOk('no-change re-run without CONDSTORE', noChangeNoCondstore, (json) => (json?.totals?.copied === 0 ? undefined : `copied ${json?.totals?.copied}, expected 0`))

    const newCount = Math.max(1, Math.round(opts.messages / 100))
    // Flags first, so that only messages the destination has already are changed.
    const changed = await changeFlags(source, 'bench', 0.05, 7)
    const fresh = distribute(generateMessages(newCount, {seed: 4048, meanSize: opts.meanSize}))
    await parallelAppend(source, 'bench', fresh, 4)
    log(`(c) re-run after ${newCount} new messages and ${changed} flag changes`)
    const incremental = await runMailferry(syncArgs, env)
    expectOk('incremental re-run', incremental, (json) =>
      json?.totals?.copied === newCount && json?.totals?.flagsUpdated === changed
        ? undefined
        : `copied ${json?.totals?.copied} (expected ${newCount}), flags updated ${json?.totals?.flagsUpdated} (expected ${changed})`)

    log('verify, then verify --deep (both must find no difference)')
    const verify = await runMailferry(['verify', ...args, '--concurrency', String(opts.concurrency), '--json'], env)
    expectOk('verify', verify)
    const verifyDeep = await runMailferry(['verify', ...args, '--deep', '--concurrency', String(opts.concurrency), '--json'], env)
    expectOk('verify --deep', verifyDeep)

    const firstIndex = medianIndex(firstRuns.map((run) => run.wallMs))
    const rawIndex = medianIndex(rawRuns)
    const firstSync = fromSync('(a) first full sync', firstRuns[firstIndex], total, bytes)
    const rawAppend = figures('(d) raw parallel APPEND, 4 connections', total, bytes, rawRuns[rawIndex])
    if (opts.repeat > 1) {
      firstSync.samplesMs = firstRuns.map((run) => Math.round(run.wallMs))
      rawAppend.samplesMs = rawRuns.map(Math.round)
    }
    const sourceNow = total + newCount
    const result = {
      date: started.toISOString(),
      machine: host,
      loadavgAfter: loadavg().map((n) => round(n, 2)),
      corpus: {
        messages: total,
        bytes,
        meanSize: opts.meanSize,
        largeMb: opts.largeMb,
        folders: Object.fromEntries(Object.entries(corpus).map(([path, list]) => [path, list.length])),
      },
      concurrency: opts.concurrency,
      repeat: opts.repeat,
      runs: {
        firstSync,
        noChange: fromSync('(b) re-run, no change', noChange, total, 0),
        noChangeNoCondstore: fromSync('(b2) re-run, no change, without CONDSTORE', noChangeNoCondstore, total, 0),
        incremental: fromSync(`(c) re-run: ${newCount} new (1%), ${changed} flag changes (5%)`, incremental, newCount, incremental.json.totals.bytes),
        rawAppend,
        ...(compareRuns.length > 0
          ? {compare: fromSync(`(a0) first full sync, other build (${opts.compareBin})`, compareRuns[medianIndex(compareRuns.map((run) => run.wallMs))], total, bytes)}
          : {}),
        ...(mbsyncRuns.length > 0 ? {mbsync: figures('(e) mbsync (isync), first full sync', total, bytes, mbsyncRuns[medianIndex(mbsyncRuns)])} : {}),
        verify: figures('verify (after c)', sourceNow, 0, verify.wallMs, {reportedMs: verify.json?.durationMs, peakRssReportedBytes: verify.json?.peakRssBytes, peakRssVmHwmBytes: verify.vmHwmBytes, exitCode: verify.code}),
        verifyDeep: figures('verify --deep (after c)', sourceNow, verifyDeep.json?.totals?.bytesHashed ?? 0, verifyDeep.wallMs, {reportedMs: verifyDeep.json?.durationMs, peakRssReportedBytes: verifyDeep.json?.peakRssBytes, peakRssVmHwmBytes: verifyDeep.vmHwmBytes, exitCode: verifyDeep.code}),
      },
      firstSyncVsRawAppend: round(rawRuns[rawIndex] / firstRuns[firstIndex].wallMs, 3),
      firstSyncVsMbsync: mbsyncRuns.length > 0 ? round(mbsyncRuns[medianIndex(mbsyncRuns)] / firstRuns[firstIndex].wallMs, 3) : undefined,
      loadMs: Math.round(loadMs),
    }
    mkdirSync(opts.out, {recursive: true})
    writeFileSync(join(opts.out, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`)
    const md = markdown(result)
    writeFileSync(join(opts.out, 'latest.md'), md)
    process.stdout.write(md)
    log(`wrote ${join(opts.out, 'latest.json')} and latest.md`)
  } finally {
    await Promise.all([source.stop(), dest.stop()])
    rmSync(work, {recursive: true, force: true})
  }
}

await main()
