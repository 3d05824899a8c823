/**
 * mailferry watch when things go wrong, against real Dovecots behind a TCP relay that can cut the
 * network: IDLE is set up again after its session dropped, and SIGTERM ends the process within about
 * a second while it waits on a rate limit or on a reconnect pause (each measured from the signal to
 * the process exit, once the test has seen it waiting).
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {appendOne, countMessages, seed, snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {Relay} from '../harness/relay.js'
import {BIN, freshUser, syncArgs, tempDir, within} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()
const relays: Relay[] = []

before(async () => {
  ;[source, dest] = await Promise.all([startDovecot({separator: '.'}), startDovecot({separator: '/'})])
})
after(async () => {
  for (const relay of relays) await relay.down().catch(() => undefined)
  await Promise.all([source?.stop(), dest?.stop()])
  tmp.cleanup()
})

/** The time a stop may take: the promise is one second; the rest is process exit on a busy machine. */
const STOP_BUDGET_MS = 1500

/** `mailferry watch` from the source (through a relay) to the destination. */
async function startWatch(seedMessages: ReturnType<typeof generateMessages>, extra: string[]) {
  const users = {source: freshUser('wsig'), dest: freshUser('wsig')}
  await seed(source, users.source, {INBOX: seedMessages})
  const relay = new Relay(source.port)
  await relay.start()
  relays.push(relay)
  const {args, env} = syncArgs({...source, port: relay.port}, dest, users, join(tmp.dir, `${users.source}.sqlite`))
  args[0] = 'watch'
  const child = spawn(process.execPath, [BIN, ...args, '--interval', '120', ...extra], {env: {...process.env, ...env}, stdio: ['ignore', 'ignore', 'pipe']})
  let stderr = ''
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise<{code: number | null; at: number}>((resolve) => child.on('close', (code) => resolve({code, at: Date.now()})))
  /** SIGTERM now; resolves with how long the process took to end, and its exit code. */
  const stop = async () => {
    const sent = Date.now()
    child.kill('SIGTERM')
    const {code, at} = await exited
    return {ms: at - sent, code}
  }
  after(() => child.kill('SIGKILL'))
  return {users, relay, stop, stderr: () => stderr}
}

test('IDLE is set up again after its session dropped: new mail still arrives within seconds, not at --interval', async () => {
  const messages = generateMessages(5, {seed: 41})
  const watch = await startWatch(messages.slice(0, 3), [])
  const equal = async () => JSON.stringify(await snapshot(dest, watch.users.dest)) === JSON.stringify(await snapshot(source, watch.users.source))
  await within(20_000, equal, watch.stderr)
  // Every session drops, the IDLE one included; the network is back at once.
  await watch.relay.down()
  await watch.relay.up()
  await appendOne(source, watch.users.source, 'INBOX', messages[3])
  await within(10_000, equal, watch.stderr)
  // The pass after the drop is over: only IDLE (--interval is 120 s) can bring this one in time.
  await appendOne(source, watch.users.source, 'INBOX', messages[4])
  const took = await within(5000, equal, () => `the IDLE watch was not set up again\n${watch.stderr()}`)
  console.log(`# watch: new mail after the IDLE session dropped arrived in ${took} ms`)
  const {code} = await watch.stop()
  assert.equal(code, 0, watch.stderr())
})

test('IDLE that cannot be set up while the network is down is tried again soon: mail after the outage arrives within seconds', async () => {
  const messages = generateMessages(4, {seed: 44})
  // Retries enough for the pass to outlive the outage; the IDLE session is not retried, only set up again.
  const watch = await startWatch(messages.slice(0, 3), ['--retries', '10', '--retry-max-delay', '1'])
  const equal = async () => JSON.stringify(await snapshot(dest, watch.users.dest)) === JSON.stringify(await snapshot(source, watch.users.source))
  await within(20_000, equal, watch.stderr)
  // The IDLE session drops; setting it up again is refused; the pass that follows waits for the network.
  await watch.relay.down()
  await new Promise((resolve) => setTimeout(resolve, 1000))
  await watch.relay.up()
  // That pass has ended (--interval is 120 s): only IDLE, set up again, can bring this one in time.
  await new Promise((resolve) => setTimeout(resolve, 3000))
  await appendOne(source, watch.users.source, 'INBOX', messages[3])
  const took = await within(8000, equal, () => `IDLE was not set up again after the outage\n${watch.stderr()}`)
  console.log(`# watch: new mail after an outage that IDLE could not outlive arrived in ${took} ms`)
  const {code} = await watch.stop()
  assert.equal(code, 0, watch.stderr())
})

test('SIGTERM while copies wait on --max-bytes-per-second: the process ends within a second, state saved', async () => {
  // 6 x ~100 KB at 25 KB/s: after the first copy, the others wait 3 to 20 s for their slots.
  const watch = await startWatch(generateMessages(0, {seed: 42, largeSizes: [100_000, 100_000, 100_000, 100_000, 100_000, 100_000]}), [
    '--max-bytes-per-second',
    '25000',
    // Few copies in flight: those finish when stopped (without their wait), the rest are not started.
    '--concurrency',
    '1',
  ])
  await within(20_000, async () => (await countMessages(dest, watch.users.dest, 'INBOX')) >= 1, watch.stderr)
  const {ms, code} = await watch.stop()
  console.log(`# watch: stopped ${ms} ms after SIGTERM during a rate-limit wait`)
  assert.equal(code, 0, watch.stderr())
  assert.match(watch.stderr(), /stopped; the state is saved/)
  assert.ok((await countMessages(dest, watch.users.dest, 'INBOX')) < 6, 'it was still waiting when stopped')
  assert.ok(ms < STOP_BUDGET_MS, `stopped ${ms} ms after SIGTERM`)
})

test('SIGTERM during the reconnect pauses of a source that went away: the process ends within a second', async () => {
  const logFile = join(tmp.dir, `watch-backoff-${process.pid}.log`)
  const watch = await startWatch(generateMessages(3, {seed: 43}), ['--retries', '50', '--retry-max-delay', '30', '--log-file', logFile])
  const equal = async () => JSON.stringify(await snapshot(dest, watch.users.dest)) === JSON.stringify(await snapshot(source, watch.users.source))
  await within(20_000, equal, watch.stderr)
  await watch.relay.down()
  // Retry 4 and later pause 4 s and more (doubling from 0.5 s): it is now inside such a pause.
  const log = () => {
    try {
      return readFileSync(logFile, 'utf8')
    } catch {
      return ''
    }
  }
  await within(30_000, () => /retry ([4-9]|\d\d)\/50 in /.test(log()), () => `${watch.stderr()}\n${log().slice(-2000)}`)
  const {ms, code} = await watch.stop()
  console.log(`# watch: stopped ${ms} ms after SIGTERM during a reconnect pause`)
  assert.equal(code, 0, watch.stderr())
  assert.match(watch.stderr(), /stopped; the state is saved/)
  assert.ok(ms < STOP_BUDGET_MS, `stopped ${ms} ms after SIGTERM`)
})
