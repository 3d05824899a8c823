/**
 * kill -9 at chosen points of a run (mbsync run-tests.pl "Interrupting at step"), then a re-run:
 * the destination must end equal to the source, with nothing missing and nothing duplicated.
 * The hidden --debug-kill-at flag makes the process SIGKILL itself exactly there; one case kills
 * it from outside at an arbitrary moment.
 */
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {seed, snapshot} from '../harness/mailbox.js'
import {generateMessages, nastyMessages, type SeedMessage} from '../harness/messages.js'
import {freshUser, runCli, syncArgs, tempDir} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()

before(async () => {
  ;[source, dest] = await Promise.all([startDovecot({separator: '.'}), startDovecot({separator: '/'})])
})
after(async () => {
  await Promise.all([source?.stop(), dest?.stop()])
  tmp.cleanup()
})

function mailbox(): Record<string, SeedMessage[]> {
  const generated = generateMessages(40, {seed: 21})
  // Identical copies make "which one landed?" ambiguous on purpose.
  return {INBOX: [...nastyMessages(), ...generated.slice(0, 25), generated[3], generated[3]], 'Old/2019': generated.slice(25)}
}

async function killThenResume(killPoints: string[]) {
  const users = {source: freshUser('src'), dest: freshUser('dst')}
  const state = join(tmp.dir, `${users.source}.sqlite`)
  await seed(source, users.source, mailbox())
  const {args, env} = syncArgs(source, dest, users, state)
  for (const point of killPoints) {
    const killed = await runCli([...args, '--debug-kill-at', point], env)
    assert.equal(killed.signal, 'SIGKILL', `run with --debug-kill-at ${point} should die: ${killed.stderr}`)
  }
  const resumed = await runCli([...args, '--json'], env)
  assert.equal(resumed.code, 0, resumed.stderr)
  const expected = await snapshot(source, users.source)
  assert.deepEqual(await snapshot(dest, users.dest), expected)
  return resumed.json
}

describe('resume after kill -9', () => {
  for (const point of ['before-append:1', 'after-append:1', 'after-append:17', 'before-append:30']) {
    test(`killed at ${point}`, async () => {
      const report = await killThenResume([point])
      if (point.startsWith('after-append')) {
        assert.ok(report.totals.recognised >= 1, 'the APPEND that landed before the kill is recognised, not repeated')
      }
    })
  }

  test('killed twice in a row (after-append:5, then after-append:2 of the next run)', async () => {
    await killThenResume(['after-append:5', 'after-append:2'])
  })

  test('killed from outside at an arbitrary moment, several times', async () => {
    const users = {source: freshUser('src'), dest: freshUser('dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    await seed(source, users.source, {...mailbox(), Big: generateMessages(6, {seed: 9, largeSizes: [3_000_000, 2_000_000]})})
    const {args, env} = syncArgs(source, dest, users, state)
    for (const delay of [700, 900, 1100]) {
      await runCli(args, env, {killAfterMs: delay})
    }
    const resumed = await runCli([...args, '--json'], env)
    assert.equal(resumed.code, 0, resumed.stderr)
    assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
  })
})
