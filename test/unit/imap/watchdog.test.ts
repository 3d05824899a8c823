/**
 * The watchdog behind the raw connections' wake-ups: it looks once, WATCHDOG_MS after it was armed,
 * warns only when its check says a wake-up was missed, and looks no more once stopped.
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {Watchdog, WATCHDOG_MS} from '../../../src/imap/watchdog.js'
import {silentLogger, type Logger} from '../../../src/log.js'

function recorder(): {logger: Logger; warnings: string[]} {
  const warnings: string[] = []
  return {logger: {...silentLogger, warn: (text: string) => void warnings.push(text)}, warnings}
}

test('a missed wake-up is warned of as a bug, once, after WATCHDOG_MS; arming again meanwhile changes nothing', (t) => {
  t.mock.timers.enable({apis: ['setTimeout']})
  const {logger, warnings} = recorder()
  const dog = new Watchdog(logger, 'APPENDs waited beside a free connection; sent now')
  let checks = 0
  dog.arm(() => (checks++, true))
  dog.arm(() => (checks += 10, true))
  t.mock.timers.tick(WATCHDOG_MS - 1)
  assert.equal(checks, 0)
  t.mock.timers.tick(1)
  assert.equal(checks, 1)
  assert.deepEqual(warnings, ['APPENDs waited beside a free connection; sent now (a mailferry bug: please report it)'])
})

test('nothing missed: no warning, and it can be armed again; stopped: it never looks', (t) => {
  t.mock.timers.enable({apis: ['setTimeout']})
  const {logger, warnings} = recorder()
  const dog = new Watchdog(logger, 'x')
  let checks = 0
  dog.arm(() => (checks++, false))
  t.mock.timers.tick(WATCHDOG_MS)
  dog.arm(() => (checks++, false))
  t.mock.timers.tick(WATCHDOG_MS)
  assert.equal(checks, 2)
  dog.arm(() => (checks++, true))
  dog.stop()
  t.mock.timers.tick(2 * WATCHDOG_MS)
  assert.equal(checks, 2)
  assert.deepEqual(warnings, [])
})
