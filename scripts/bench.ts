/**
 * `npm run bench` (builds, then `node --import tsx scripts/bench.ts`): mailferry's first sync side by
 * side with the limit and its peers, in one run, against two local Dovecot instances (test/harness),
 * with the real binary (bin/run.js, compiled lib/). Files under scripts/bench/.
 *
 * Loopback section (a generated corpus; skipped with --messages 0):
 *   limit  the corpus read from files and written by a pipelined MULTIAPPEND on N connections
 *          (the project's own src/imap/append-pipeline.ts): what the destination can take
 *   (a)    mailferry's first full sync into an empty account
 *   (a0)   the same with another build (--compare-bin), interleaved under the same load
 *   (a1)   mailferry at --concurrency 1 (one connection a side, as mbsync), when --concurrency is not 1
 *   (e)    mbsync (isync) and imapsync, when installed (the report says which were skipped)
 *   (d)    imapflow's APPEND on 4 connections, one command in flight each (earlier figures' baseline)
 *   (b)    a re-run with no change, (b2) the same without CONDSTORE
 *   (c)    a re-run after 1% new messages and flag changes on 5%
 *   and `verify` and `verify --deep` after (c), which must find no difference.
 * WAN section (--rtt-ms N): a delay line on 127.0.0.1 in front of each server (N/2 ms each way,
 * order and throughput kept: scripts/bench/delay-line.ts); the real messages of ../shared/corpus in
 * their folders; the limit, mailferry (first sync, then (b)), mbsync and imapsync through it.
 * Loading the source is not measured. Writes DIR/latest.json, latest.md and latest.svg (a chart).
 */
import {accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

import {startDovecot, type DovecotInstance} from '../test/harness/dovecot.js'
import {countMessages, openClient, serverPath, uidSet} from '../test/harness/mailbox.js'
import {createRng, generateMessages} from '../test/harness/messages.js'
import {parallelAppend, pipelinedLimit, type Target} from './bench/appenders.js'
import {bytesOf, countOf, distribute, FOLDERS, generatedCorpus, realCorpus, writeFiles, type Corpus} from './bench/corpus.js'
import {DelayLine} from './bench/delay-line.js'
import {expectOk, installed, measure, type Measured} from './bench/measure.js'
import {runImapsync, runMbsync, type Accounts} from './bench/peers.js'
import {chart, figures, fromProcess, machine, markdown, median, round, type RunFigures, type Section} from './bench/report.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(ROOT, 'bin', 'run.js')

const HELP = `npm run bench -- [options]   (each also as an environment variable)
  --messages N          BENCH_MESSAGES          generated messages of the loopback section (default 10000; 0: no loopback section)
  --mean-size B         BENCH_MEAN_SIZE         their mean size in bytes (default 50000)
  --large-mb LIST       BENCH_LARGE_MB          extra large messages, MB each, or "none" (default 10,18,25)
  --rtt-ms N            BENCH_RTT_MS            also the WAN section: the real corpus through a delay line of N ms round trip (default 0: none)
  --concurrency N       BENCH_CONCURRENCY       mailferry --concurrency (default 4)
  --limit-connections N BENCH_LIMIT_CONNECTIONS connections of the pipelined limit run (default 4)
  --repeat N            BENCH_REPEAT            first syncs run N times each (fresh accounts), interleaved; the median is reported (default 1)
  --out DIR             BENCH_OUT               where latest.json, latest.md and latest.svg go (default bench-results)
  --compare-bin FILE    BENCH_COMPARE_BIN       also time another build's bin/run.js (a0), interleaved with (a)
  --mail-dir DIR        BENCH_MAIL_DIR          where both servers keep their mail (default /dev/shm, a tmpfs, when writable; else the temp dir)
  --cpu-prof DIR                                write a V8 CPU profile of each mailferry first sync to DIR
  --help`

interface Options {
  messages: number
  meanSize: number
  largeMb: number[]
  rttMs: number
  concurrency: number
  limitConnections: number
  repeat: number
  out: string
  compareBin?: string
  cpuProf?: string
  mailDir: string
}

function options(): Options | undefined {
  const names = ['messages', 'mean-size', 'large-mb', 'rtt-ms', 'concurrency', 'limit-connections', 'repeat', 'out', 'compare-bin', 'cpu-prof', 'mail-dir']
  const {values} = parseArgs({
    options: {...Object.fromEntries(names.map((name) => [name, {type: 'string' as const}])), help: {type: 'boolean' as const}},
  }) as {values: Record<string, string | boolean | undefined>}
  if (values.help) return undefined
  const env = process.env
  const text = (name: string) => (values[name] as string | undefined) ?? env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`]
  const int = (name: string, fallback: number, min: number) => {
    const value = text(name)
    if (value === undefined || value === '') return fallback
    const n = Number(value)
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer >= ${min}, got "${value}"`)
    return n
  }
  const large = text('large-mb') ?? '10,18,25'
  const path = (name: string) => (text(name) ? resolve(text(name)!) : undefined)
  return {
    messages: int('messages', 10_000, 0),
    meanSize: int('mean-size', 50_000, 300),
    largeMb: large === 'none' || large === '' ? [] : large.split(',').map((part) => {
      const n = Number(part)
      if (!(n > 0)) throw new Error(`--large-mb: expected sizes in MB like 10,18,25 or "none", got "${large}"`)
      return n
    }),
    rttMs: int('rtt-ms', 0, 0),
    concurrency: int('concurrency', 4, 1),
    limitConnections: int('limit-connections', 4, 1),
    repeat: int('repeat', 1, 1),
    out: path('out') ?? join(ROOT, 'bench-results'),
    compareBin: path('compare-bin'),
    cpuProf: path('cpu-prof'),
    mailDir: path('mail-dir') ?? defaultMailDir(),
  }
}

/**
 * On a disk, the servers' cost of creating a file per message moves with the file system's state (ext4
 * searching its inode bitmaps: the same mbsync run took 1.2 s or 2.7 s): on tmpfs the tools are compared.
 */
function defaultMailDir(): string {
  try {
    accessSync('/dev/shm', constants.W_OK)
    return '/dev/shm'
  } catch {
    return tmpdir()
  }
}

const log = (text: string) => process.stderr.write(`[bench] ${text}\n`)
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`

function accountArgs(source: Target, dest: Target, users: {source: string; dest: string}): {args: string[]; env: NodeJS.ProcessEnv} {
  return {
    args: [
      '--source', `imap://${users.source}@127.0.0.1:${source.port}`, '--source-tls', 'none', '--source-password-env', 'BENCH_SOURCE_PW',
      '--dest', `imap://${users.dest}@127.0.0.1:${dest.port}`, '--dest-tls', 'none', '--dest-password-env', 'BENCH_DEST_PW',
    ],
    env: {BENCH_SOURCE_PW: source.server.password, BENCH_DEST_PW: dest.server.password},
  }
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

/** How many messages each folder of `corpus` has in the account; throws when `strict` and any differs. */
async function countCopies(tool: string, dest: DovecotInstance, user: string, corpus: Corpus, strict: boolean): Promise<{copied: number; short: string[]}> {
  let copied = 0
  const short: string[] = []
  for (const [path, list] of Object.entries(corpus)) {
    const count = await countMessages(dest, user, path)
    copied += count
    if (count !== list.length) short.push(`${path} has ${count} of ${list.length}`)
  }
  if (strict && short.length > 0) throw new Error(`${tool}: ${short.join(', ')}`)
  return {copied, short}
}

interface Peers {
  mbsync: boolean
  imapsync: boolean
}

/**
 * The first syncs of one corpus, `repeat` times, interleaved (each round: limit, mailferry, other
 * build, mbsync, imapsync, imapflow), each into a fresh account. Returns the median figures and the
 * last mailferry account, for the re-runs.
 */
async function firstSyncs(
  name: string,
  opts: Options,
  work: string,
  sides: {source: Target; dest: Target},
  corpus: Corpus,
  peers: Peers,
  extra: {rawAppend: boolean},
): Promise<{runs: Record<string, RunFigures>; ratios: Record<string, number | undefined>; last: {users: {source: string; dest: string}; state: string}}> {
  const total = countOf(corpus)
  const bytes = bytesOf(corpus)
  const files = writeFiles(corpus, join(work, `${name}-files`))
  const samples: Record<string, Array<{wallMs: number; measured?: Measured}>> = {}
  const notes: Record<string, Set<string>> = {}
  const add = (key: string, wallMs: number, measured?: Measured) => (samples[key] ??= []).push({wallMs, measured})
  let last = {users: {source: name, dest: ''}, state: ''}
  for (let r = 1; r <= opts.repeat; r++) {
    const round = `${r}/${opts.repeat}`
    log(`${name}: limit, pipelined MULTIAPPEND from files on ${opts.limitConnections} connections, run ${round}`)
    add('limit', await pipelinedLimit(sides.dest, `${name}limit${r}`, files, opts.limitConnections))
    await countCopies('limit', sides.dest.server, `${name}limit${r}`, corpus, true)
    log(`    ${secs(samples.limit.at(-1)!.wallMs)}`)

    const users = {source: name, dest: `${name}mf${r}`}
    const state = join(work, `${name}-state-${r}.sqlite`)
    last = {users, state}
    const {args, env} = accountArgs(sides.source, sides.dest, users)
    log(`${name}: (a) mailferry first full sync, run ${round}`)
    const profile = opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProf] : []
    const first = await measure(process.execPath, [...profile, BIN, 'sync', ...args, '--state', state, '--concurrency', String(opts.concurrency), '--json'], env)
    expectOk('first sync', first, (json) => (json?.totals?.copied === total ? undefined : `copied ${json?.totals?.copied}, expected ${total}`))
    add('firstSync', first.wallMs, first)
    log(`    ${secs(first.wallMs)}, CPU ${secs(first.cpuMs ?? 0)}`)

    if (opts.compareBin) {
      log(`${name}: (a0) first full sync with ${opts.compareBin}, run ${round}`)
      const other = accountArgs(sides.source, sides.dest, {source: name, dest: `${name}cmp${r}`})
      const run = await measure(process.execPath, [opts.compareBin, 'sync', ...other.args, '--state', join(work, `${name}-cmp-${r}.sqlite`), '--concurrency', String(opts.concurrency), '--json'], other.env)
      expectOk('first sync (other build)', run, (json) => (json?.totals?.copied === total ? undefined : `copied ${json?.totals?.copied}, expected ${total}`))
      add('compare', run.wallMs, run)
      log(`    ${secs(run.wallMs)}, CPU ${secs(run.cpuMs ?? 0)}`)
    }
    if (opts.concurrency !== 1) {
      // One connection a side, as mbsync and imapsync use: the pipelined connections take turns with the sessions.
      log(`${name}: (a1) mailferry --concurrency 1, run ${round}`)
      const one = accountArgs(sides.source, sides.dest, {source: name, dest: `${name}one${r}`})
      const run = await measure(process.execPath, [BIN, 'sync', ...one.args, '--state', join(work, `${name}-one-${r}.sqlite`), '--concurrency', '1', '--json'], one.env)
      expectOk('first sync at --concurrency 1', run, (json) => (json?.totals?.copied === total ? undefined : `copied ${json?.totals?.copied}, expected ${total}`))
      add('oneConnection', run.wallMs, run)
      log(`    ${secs(run.wallMs)}, CPU ${secs(run.cpuMs ?? 0)}`)
    }
    for (const [tool, runTool] of [['mbsync', runMbsync], ['imapsync', runImapsync]] as const) {
      if (!peers[tool]) continue
      log(`${name}: (e) ${tool}, first full sync, run ${round}`)
      const accounts: Accounts = {source: {...sides.source, user: name}, dest: {...sides.dest, user: `${name}${tool}${r}`}}
      const run = await runTool(work, accounts)
      // A peer that leaves messages behind is timed all the same; the shortfall is reported.
      const {short} = await countCopies(tool, sides.dest.server, accounts.dest.user, corpus, false)
      if (short.length > 0) (notes[tool] ??= new Set()).add(`${tool} did not copy every message: ${short.join(', ')}`)
      add(tool, run.wallMs, run)
      log(`    ${secs(run.wallMs)}, CPU ${secs(run.cpuMs ?? 0)}`)
    }
    if (extra.rawAppend) {
      log(`${name}: (d) imapflow APPEND, 4 connections, run ${round}`)
      add('rawAppend', await parallelAppend(sides.dest, `${name}raw${r}`, corpus, 4))
      log(`    ${secs(samples.rawAppend.at(-1)!.wallMs)}`)
    }
  }
  const labels: Record<string, string> = {
    limit: `limit: pipelined MULTIAPPEND from files, ${opts.limitConnections} connections`,
    firstSync: '(a) mailferry, first full sync',
    compare: `(a0) mailferry, other build (${opts.compareBin})`,
    oneConnection: '(a1) mailferry --concurrency 1 (one connection a side, as mbsync)',
    mbsync: '(e) mbsync (isync), first full sync',
    imapsync: '(e) imapsync, first full sync',
    rawAppend: '(d) imapflow APPEND, 4 connections',
  }
  const runs: Record<string, RunFigures> = {}
  for (const [key, list] of Object.entries(samples)) {
    const {run, samplesMs} = median(list, (sample) => sample.wallMs)
    runs[key] = run.measured ? fromProcess(labels[key], run.measured, total, bytes) : figures(labels[key], total, bytes, run.wallMs)
    if (samplesMs) runs[key].samplesMs = samplesMs
  }
  const speed = (key: string) => (runs[key] ? round(runs[key].wallMs / runs.firstSync.wallMs, 3) : undefined)
  for (const [key, set] of Object.entries(notes)) runs[key].notes = [...set]
  return {runs, ratios: {limit: speed('limit'), mbsync: speed('mbsync'), imapsync: speed('imapsync'), rawAppend: speed('rawAppend'), compare: speed('compare')}, last}
}

async function loopback(opts: Options, work: string, source: DovecotInstance, dest: DovecotInstance, peers: Peers): Promise<Section> {
  log(`generating ${opts.messages} messages (mean ${opts.meanSize} B)${opts.largeMb.length ? ` + ${opts.largeMb.join(', ')} MB` : ''}`)
  const corpus = generatedCorpus(opts.messages, opts.meanSize, opts.largeMb)
  const total = countOf(corpus)
  log(`corpus: ${total} messages, ${(bytesOf(corpus) / 1e6).toFixed(1)} MB; loading it into the source (not measured)`)
  const sides = {source: {server: source, port: source.port}, dest: {server: dest, port: dest.port}}
  await parallelAppend(sides.source, 'lan', corpus, 4)
  const {runs, ratios, last} = await firstSyncs('lan', opts, work, sides, corpus, peers, {rawAppend: true})

  // (b) and (c) continue from the last first sync.
  const {args, env} = accountArgs(sides.source, sides.dest, last.users)
  const sync = (more: string[] = [], state = last.state) =>
    measure(process.execPath, [BIN, 'sync', ...args, '--state', state, '--concurrency', String(opts.concurrency), '--json', ...more], env)
  const copiedNone = (json: any) => (json?.totals?.copied === 0 ? undefined : `copied ${json?.totals?.copied}, expected 0`)
  log('(b) re-run, no change')
  const noChange = await sync()
  expectOk('no-change re-run', noChange, copiedNone)
  log('(b2) re-run, no change, CONDSTORE ignored (every folder listed: UID FETCH 1:* FLAGS)')
  const noChangeNoCondstore = await sync(['--debug-no-condstore'])
  expectOk('no-change re-run without CONDSTORE', noChangeNoCondstore, copiedNone)
  log('(b3) re-run without the state file (every message recognised on the destination by content)')
  const stateless = await sync([], join(work, 'stateless.db'))
  expectOk('state-less re-run', stateless, copiedNone)

  const newCount = Math.max(1, Math.round(opts.messages / 100))
  // Flags first, so that only messages the destination has already are changed.
  const changed = await changeFlags(source, 'lan', 0.05, 7)
  await parallelAppend(sides.source, 'lan', distribute(generateMessages(newCount, {seed: 4048, meanSize: opts.meanSize})), 4)
  log(`(c) re-run after ${newCount} new messages and ${changed} flag changes`)
  const incremental = await sync()
  expectOk('incremental re-run', incremental, (json) =>
    json?.totals?.copied === newCount && json?.totals?.flagsUpdated === changed
      ? undefined
      : `copied ${json?.totals?.copied} (expected ${newCount}), flags updated ${json?.totals?.flagsUpdated} (expected ${changed})`)

  log('verify, then verify --deep (both must find no difference)')
  const verify = await measure(process.execPath, [BIN, 'verify', ...args, '--concurrency', String(opts.concurrency), '--json'], env)
  expectOk('verify', verify)
  const verifyDeep = await measure(process.execPath, [BIN, 'verify', ...args, '--deep', '--concurrency', String(opts.concurrency), '--json'], env)
  expectOk('verify --deep', verifyDeep)
  const now = total + newCount
  return {
    title: 'Loopback',
    corpus: {source: 'generated', messages: total, bytes: bytesOf(corpus), largeMb: opts.largeMb, folders: Object.fromEntries(Object.entries(corpus).map(([path, list]) => [path, list.length]))},
    runs: {
      ...runs,
      noChange: fromProcess('(b) re-run, no change', noChange, total, 0),
      noChangeNoCondstore: fromProcess('(b2) re-run, no change, without CONDSTORE', noChangeNoCondstore, total, 0),
      stateless: fromProcess('(b3) re-run without the state file', stateless, total, 0),
      incremental: fromProcess(`(c) re-run: ${newCount} new (1%), ${changed} flag changes (5%)`, incremental, newCount, incremental.json.totals.bytes),
      verify: fromProcess('verify (after c)', verify, now, 0),
      verifyDeep: fromProcess('verify --deep (after c)', verifyDeep, now, verifyDeep.json?.totals?.bytesHashed ?? 0),
    },
    ratios,
  }
}

async function wan(opts: Options, work: string, source: DovecotInstance, dest: DovecotInstance, peers: Peers): Promise<Section | string> {
  const corpus = realCorpus()
  if (!corpus) return 'the WAN section: no corpus at ../shared/corpus (set MAILFERRY_CORPUS)'
  log(`WAN: real corpus, ${countOf(corpus)} messages in ${Object.keys(corpus).length} folders; loading it into the source (not measured)`)
  await parallelAppend({server: source, port: source.port}, 'wan', corpus, 4)
  const lines = [new DelayLine(source.port, opts.rttMs / 2), new DelayLine(dest.port, opts.rttMs / 2)]
  await Promise.all(lines.map((line) => line.start()))
  try {
    log(`WAN: a delay line of ${opts.rttMs / 2} ms each way in front of each server (ports ${lines[0].port}, ${lines[1].port})`)
    const sides = {source: {server: source, port: lines[0].port}, dest: {server: dest, port: lines[1].port}}
    const {runs, ratios, last} = await firstSyncs('wan', opts, work, sides, corpus, peers, {rawAppend: false})
    // (b) over the link too: a re-run's round trips per folder (STATUS on each side) are what it costs there.
    log('wan: (b) re-run, no change')
    const {args, env} = accountArgs(sides.source, sides.dest, last.users)
    const noChange = await measure(process.execPath, [BIN, 'sync', ...args, '--state', last.state, '--concurrency', String(opts.concurrency), '--json'], env)
    expectOk('no-change re-run over the link', noChange, (json) => (json?.totals?.copied === 0 ? undefined : `copied ${json?.totals?.copied}, expected 0`))
    runs.noChange = fromProcess('(b) re-run, no change', noChange, countOf(corpus), 0)
    return {
      title: `WAN: ${opts.rttMs} ms round trip (a delay line of ${opts.rttMs / 2} ms each way in front of each server)`,
      corpus: {source: 'the real messages of ../shared/corpus', messages: countOf(corpus), bytes: bytesOf(corpus), folders: Object.fromEntries(Object.entries(corpus).map(([path, list]) => [path, list.length]))},
      runs,
      ratios,
    }
  } finally {
    await Promise.all(lines.map((line) => line.stop()))
  }
}

async function main(): Promise<void> {
  const opts = options()
  if (!opts) return void process.stdout.write(`${HELP}\n`)
  if (!existsSync(join(ROOT, 'lib', 'commands', 'sync.js'))) throw new Error('lib/ is not built: run `npm run build` (npm run bench does)')
  const started = new Date()
  const host = machine(opts.mailDir)
  const skipped: string[] = []
  const peers = {mbsync: installed('mbsync'), imapsync: installed('imapsync')}
  for (const [tool, here] of Object.entries(peers)) if (!here) skipped.push(`${tool} (not installed)`)
  const work = mkdtempSync(join(tmpdir(), 'mailferry-bench-'))
  log('starting two Dovecot instances')
  const [source, dest] = await Promise.all([startDovecot({separator: '.', name: 'bench-src', baseDir: opts.mailDir}), startDovecot({separator: '/', name: 'bench-dst', baseDir: opts.mailDir})])
  try {
    const sections: Section[] = []
    if (opts.messages > 0) sections.push(await loopback(opts, work, source, dest, peers))
    if (opts.rttMs > 0) {
      const section = await wan(opts, work, source, dest, peers)
      if (typeof section === 'string') skipped.push(section)
      else sections.push(section)
    }
    const [lan, wide] = [sections.find((s) => s.title === 'Loopback'), sections.find((s) => s.title !== 'Loopback')]
    const result = {
      date: started.toISOString(),
      machine: host,
      loadavgAfter: loadavg().map((n) => round(n, 2)),
      concurrency: opts.concurrency,
      limitConnections: opts.limitConnections,
      repeat: opts.repeat,
      skipped,
      // The loopback section at the top level, as before; the WAN section apart.
      ...(lan ? {corpus: lan.corpus, runs: lan.runs, firstSyncVsLimit: lan.ratios.limit, firstSyncVsRawAppend: lan.ratios.rawAppend, firstSyncVsMbsync: lan.ratios.mbsync, firstSyncVsImapsync: lan.ratios.imapsync} : {}),
      ...(wide ? {wan: {rttMs: opts.rttMs, ...wide}} : {}),
    }
    mkdirSync(opts.out, {recursive: true})
    writeFileSync(join(opts.out, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`)
    const md = markdown({...result, sections}) + `\nChart: latest.svg.\n`
    writeFileSync(join(opts.out, 'latest.md'), md)
    const bars: Array<[string, string]> = [['limit', 'limit (pipelined MULTIAPPEND)'], ['firstSync', 'mailferry'], ['compare', 'mailferry, other build'], ['oneConnection', 'mailferry, 1 connection'], ['mbsync', 'mbsync'], ['imapsync', 'imapsync'], ['rawAppend', 'imapflow APPEND']]
    writeFileSync(join(opts.out, 'latest.svg'), chart(sections, bars))
    process.stdout.write(md)
    log(`wrote ${join(opts.out, 'latest.json')}, latest.md and latest.svg`)
  } finally {
    await Promise.all([source.stop(), dest.stop()])
    rmSync(work, {recursive: true, force: true})
  }
}

await main()
