import {startDovecot} from '../test/harness/dovecot.js'
import {parallelAppend} from '../scripts/bench/appenders.js'
import {realCorpus} from '../scripts/bench/corpus.js'
import {DelayLine} from '../scripts/bench/delay-line.js'
import {measure} from '../scripts/bench/measure.js'
import {writeFileSync} from 'node:fs'
const rtt = Number(process.env.RTT ?? 32)
const [source, dest] = await Promise.all([startDovecot({separator: '.', name: 'w-src'}), startDovecot({separator: '/', name: 'w-dst'})])
try {
  const corpus = realCorpus()!
  await parallelAppend({server: source, port: source.port}, 'wan', corpus, 4)
  const lines = [new DelayLine(source.port, rtt / 2), new DelayLine(dest.port, rtt / 2)]
  await Promise.all(lines.map((l) => l.start()))
  for (const [i, extra] of [[2, (process.env.EXTRA ?? '').split(' ').filter(Boolean)]] as const) {
    const args = ['/work/wt-speed/bin/run.js', 'sync', '--source', `imap://wan@127.0.0.1:${lines[0].port}`, '--source-tls', 'none', '--source-password-env', 'PW',
      '--dest', `imap://u${i}@127.0.0.1:${lines[1].port}`, '--dest-tls', 'none', '--dest-password-env', 'PW2', '--state', `/tmp/wan-${i}-${Date.now()}.sqlite`, '--json', '--log-file', `/tmp/wan-${i}.log`, '--concurrency', '4', '--debug-imap', ...extra]
    const run = await measure(process.execPath, args, {PW: source.password, PW2: dest.password})
    console.log(i, extra.join(' '), run.code, (run.wallMs / 1000).toFixed(2), 's', run.json?.durationMs, 'cpu', run.cpuMs)
    writeFileSync(`/tmp/wan-${i}.json`, run.stdout)
    if (run.code !== 0) console.log(run.stderr.slice(0, 1000))
  }
  await Promise.all(lines.map((l) => l.stop()))
} finally {
  await Promise.all([source.stop(), dest.stop()])
}
