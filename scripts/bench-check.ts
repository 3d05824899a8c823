/**
 * `check` against the sync it predicts, Dovecot to Cyrus: a Dovecot source (the real-mail
 * corpus of ../shared/corpus, seeded once and N times into one account) and a fresh Cyrus account
 * per run. Times `--version`, `plan`, `check`, `sync` and a `recheck` (check again with the sync's
 * state database) (wall and CPU, scripts/bench/measure.ts; in-run time is the report's durationMs),
 * medians of --repeat runs, and checks every time that the messages check predicts as refused are the
 * ones the sync is refused (same folders and UIDs), and that the re-check finds those left to copy.
 * --rtt-ms puts delay lines (scripts/bench/delay-line.ts) in front of both servers.
 *
 *   npm run build && node --import tsx scripts/bench-check.ts [--repeat 3] [--copies 1,3] [--rtt-ms 32] [--compare-bin FILE]
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

import {corpusSkipReason, loadCorpus} from '../test/harness/corpus.js'
import {cyrusAvailable, startCyrus} from '../test/harness/cyrus.js'
import {startDovecot} from '../test/harness/dovecot.js'
import {seed} from '../test/harness/mailbox.js'
import {DelayLine} from './bench/delay-line.js'
import {measure, type Measured} from './bench/measure.js'

const BIN = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const {values} = parseArgs({options: {repeat: {type: 'string'}, copies: {type: 'string'}, 'rtt-ms': {type: 'string'}, 'compare-bin': {type: 'string'}}})
const rttMs = Number(values['rtt-ms'] ?? 0)
const repeat = Number(values.repeat ?? 3)
const copies = (values.copies ?? '1,3').split(',').map(Number)
const bins = [BIN, ...(values['compare-bin'] ? [values['compare-bin']] : [])]

const skip = corpusSkipReason() ?? (await cyrusAvailable())
if (skip) {
  console.error(`bench-check: ${skip}`)
  process.exit(1)
}
const corpus = loadCorpus()!
const [dovecot, cyrus] = await Promise.all([startDovecot({separator: '/', name: 'bc-src'}), startCyrus({name: 'bc-dst'})])
const tmp = mkdtempSync(join(tmpdir(), 'mf-bench-check-'))
const lines = rttMs > 0 ? [new DelayLine(dovecot.port, rttMs / 2), new DelayLine(cyrus.port, rttMs / 2)] : []
const [sourcePort, destPort] = rttMs > 0 ? await Promise.all(lines.map((line) => line.start())) : [dovecot.port, cyrus.port]
try {
  for (const n of copies) {
    const folders = Object.fromEntries(Object.entries(corpus.folders).map(([path, list]) => [path, Array.from({length: n}, () => list).flat()]))
    await seed(dovecot, `src${n}`, folders)
  }
  const env = {SRC_PW: dovecot.password, DST_PW: cyrus.password}
  const samples = new Map<string, Measured[]>()
  const keep = (key: string, run: Measured) => samples.set(key, [...(samples.get(key) ?? []), run])
  let fresh = 0
  for (let round = 0; round < repeat; round++) {
    for (const [b, bin] of bins.entries()) {
      const run = (args: string[]) => measure(process.execPath, [bin, ...args], env)
      keep(`${b} --version`, await run(['--version']))
      for (const n of copies) {
        const dest = `dst-${process.pid}-${++fresh}`
        const args = (command: string) => [command,
          '--source', `imap://src${n}@127.0.0.1:${sourcePort}`, '--source-tls', 'none', '--source-password-env', 'SRC_PW',
          '--dest', `imap://${dest}@127.0.0.1:${destPort}`, '--dest-tls', 'none', '--dest-password-env', 'DST_PW',
          '--state', join(tmp, `${dest}.sqlite`), '--json']
        const runs: Record<string, Measured> = {}
        for (const command of ['plan', 'check', 'sync', 'recheck']) keep(`${b} ${n} ${command}`, (runs[command] = await run(args(command === 'recheck' ? 'check' : command))))
        const predicted = runs.check.json?.folders.flatMap((f: any) => f.flagged.filter((m: any) => m.verdict !== 'altered').map((m: any) => `${f.source}:${m.uid}`)).sort()
        const refused = runs.sync.json?.failures.map((f: any) => `${f.folder}:${f.uid}`).sort()
        const same = predicted !== undefined && JSON.stringify(predicted) === JSON.stringify(refused)
        console.log(`round ${round + 1}, build ${b}, corpus x${n}: sync refused ${refused?.length}, check predicted ${predicted?.length}: ${same ? 'the same' : 'DIFFERENT'}`)
        const left = runs.recheck.json?.totals.toCopy
        if (left !== refused?.length) console.log(`  the re-check finds ${left} messages left to copy, the sync left ${refused?.length}: DIFFERENT`)
        if (!same || left !== refused?.length) process.exitCode = 1
      }
    }
  }
  const s = (ms: number) => (ms / 1000).toFixed(2)
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]
  const cell = (key: string) => {
    const runs = samples.get(key)!
    const inRun = runs.map((r) => r.json?.durationMs).filter((ms): ms is number => typeof ms === 'number')
    return `${s(median(runs.map((r) => r.wallMs)))} s | ${s(median(runs.map((r) => r.cpuMs ?? 0)))} s | ${inRun.length ? `${s(median(inRun))} s` : ''}`
  }
  console.log(`\nload average ${loadavg().map((l) => l.toFixed(1)).join(' ')}; ${rttMs > 0 ? `delay lines ${rttMs} ms round trip; ` : ''}medians of ${repeat}; build 0 = ${BIN}${bins[1] ? `, build 1 = ${bins[1]}` : ''}\n`)
  console.log('| build | run | wall | CPU | in-run |\n|---|---|---:|---:|---:|')
  for (const key of samples.keys()) {
    const [b, ...rest] = key.split(' ')
    console.log(`| ${b} | ${rest.length === 1 ? rest[0] : `corpus x${rest[0]} ${rest[1]}`} | ${cell(key)} |`)
  }
} finally {
  await Promise.all([...lines.map((line) => line.stop()), dovecot.stop(), cyrus.stop()])
  rmSync(tmp, {recursive: true, force: true})
}
