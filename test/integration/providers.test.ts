/**
 * Provider presets reach the run: `provider: gmail` on the source and `provider: microsoft365` on
 * the destination, with each preset's host, port and TLS overridden to two local Dovecots. The gmail
 * preset leaves Gmail's views out of the plan; the microsoft365 preset refuses a message whose line is
 * longer than Microsoft 365 accepts (listed as failed, never sent, never rewritten) until the limit is
 * overridden; the run log states the values each store got.
 */
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {seed, snapshot} from '../harness/mailbox.js'
import {generateMessages, type SeedMessage} from '../harness/messages.js'
import {freshUser, runCli, serversForFile, tempDir} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()

serversForFile(() => Promise.all([startDovecot({separator: '/'}), startDovecot({separator: '/'})]), (started) => ([source, dest] = started), tmp)

const LONG_LINE = 12_000

const longLine: SeedMessage = {
  raw: Buffer.from(
    'From: alice@example.com\r\nTo: bob@example.com\r\nSubject: one long line\r\nMessage-ID: <long-line@example.com>\r\n' +
      `Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n\r\n${'x'.repeat(LONG_LINE)}\r\n`,
  ),
  flags: ['\\Seen'],
  internalDate: new Date('2024-01-01T00:00:00Z'),
  name: 'long line',
}

test('gmail -> microsoft365 presets with local hosts: Gmail views out, a too-long line refused until overridden', async () => {
  const users = {source: freshUser('preset'), dest: freshUser('preset')}
  const messages = generateMessages(5, {seed: 71})
  await seed(source, users.source, {
    INBOX: [messages[0], messages[1], longLine],
    Work: [messages[2]],
    '[Gmail]/All Mail': [messages[0], messages[1], messages[2], messages[3]],
    '[Gmail]/Important': [messages[4]],
  })
  const logFile = join(tmp.dir, 'run.log')
  const config = join(tmp.dir, 'presets.yaml')
  writeFileSync(
    config,
    [
      'source:',
      '  provider: gmail',
      `  host: 127.0.0.1`,
      `  port: ${source.port}`,
      '  tls: none',
      `  user: ${users.source}`,
      '  passwordEnv: MF_TEST_SOURCE_PW',
      'dest:',
      '  provider: microsoft365',
      `  host: 127.0.0.1`,
      `  port: ${dest.port}`,
      '  tls: none',
      `  user: ${users.dest}`,
      '  passwordEnv: MF_TEST_DEST_PW',
      `state: ${join(tmp.dir, 'state.sqlite')}`,
      `logFile: ${logFile}`,
      '',
    ].join('\n'),
    {mode: 0o600},
  )
  const env = {MF_TEST_SOURCE_PW: source.password, MF_TEST_DEST_PW: dest.password}
  const show = (run: {code: number | null; stdout: string; stderr: string}) => `exit ${run.code}\nstdout: ${run.stdout.slice(0, 2000)}\nstderr: ${run.stderr.slice(0, 2000)}`

  const plan = await runCli(['plan', '--config', config, '--json'], env)
  assert.equal(plan.code, 0, show(plan))
  const rows = Object.fromEntries(plan.json.folders.map((row: {source: string}) => [row.source, row]))
  for (const view of ['[Gmail]/All Mail', '[Gmail]/Important']) assert.deepEqual([rows[view].dest, rows[view].rule], [null, 'gmail'], view)
  assert.equal(plan.json.totals.toCopy, 4)

  const first = await runCli(['sync', '--config', config, '--json'], env)
  assert.equal(first.code, 1, show(first))
  assert.deepEqual([first.json.totals.copied, first.json.totals.failed], [3, 1])
  assert.equal(first.json.failures.length, 1)
  assert.match(first.json.failures[0].reason, /line longer than the destination accepts \(maxLineLength 10500 bytes\)/)
  const log = readFileSync(logFile, 'utf8')
  assert.match(log, new RegExp(`dest: provider microsoft365 \\(127\\.0\\.0\\.1:${dest.port}\\): 4 sessions, 12 retries up to 120 s apart, 1 messages/s, messages up to 36700160 bytes, lines up to 10500 bytes`))
  assert.match(log, new RegExp(`source: provider gmail \\(127\\.0\\.0\\.1:${source.port}\\): 4 sessions, 12 retries up to 120 s apart`))
  assert.equal((await snapshot(dest, users.dest)).INBOX.length, 2, 'the refused message was not sent')

  // The override reaches the run: the message goes across as it is.
  const second = await runCli(['sync', '--config', config, '--json', '--dest-max-line-length', String(LONG_LINE + 10)], env)
  assert.equal(second.code, 0, show(second))
  assert.deepEqual([second.json.totals.copied, second.json.totals.failed], [1, 0])
  const [sourceAfter, destAfter] = await Promise.all([snapshot(source, users.source), snapshot(dest, users.dest)])
  assert.deepEqual(destAfter.INBOX, sourceAfter.INBOX)
  assert.deepEqual(destAfter.Work, sourceAfter.Work)
  assert.deepEqual(Object.keys(destAfter).sort(), ['INBOX', 'Work'])
})
