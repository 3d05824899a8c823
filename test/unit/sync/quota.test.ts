/**
 * The budgets' rolling windows on a real (in-memory) state database, with a clock the test moves.
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {BudgetReachedError, ExitCode} from '../../../src/errors.js'
import {openStateDb} from '../../../src/state/db.js'
import {SpendLedger} from '../../../src/state/spend.js'
import {shiftedClock, utcTime, type Clock} from '../../../src/sync/clock.js'
import {DAY_MS, HOUR_MS, Quota, type BudgetLimits, type Grant} from '../../../src/sync/quota.js'

const T0 = Date.UTC(2026, 0, 5, 10, 0, 30)

function setup(limits: BudgetLimits) {
  const db = openStateDb(':memory:')
  const ledger = new SpendLedger(db.db)
  const clock: Clock & {at: number} = {at: T0, now: () => clock.at, sleepUntil: async () => {}}
  return {db, ledger, clock, quota: () => new Quota(limits, ledger, clock)}
}

/** Reserves and spends `bytes` on both sides, as a finished copy does. */
function copy(grant: Grant, bytes: number): void {
  assert.ok('ticket' in grant, `expected a ticket, got ${JSON.stringify(grant)}`)
  grant.ticket.spend('source', bytes)
  grant.ticket.spend('dest', bytes)
  grant.ticket.release()
}

test('bytes per day: copies until the next does not fit, then every later one is refused with the time the window frees', () => {
  const {clock, quota} = setup({source: {bytesPerDay: 1000}, dest: {bytesPerDay: 1000}})
  const q = quota()
  copy(q.reserve(400), 400)
  clock.at += 10 * 60_000
  copy(q.reserve(400), 400)
  const refused = q.reserve(300)
  assert.ok('stop' in refused)
  assert.ok(refused.stop instanceof BudgetReachedError)
  assert.equal(refused.stop.exitCode, ExitCode.budget)
  // 200 must leave the window: the first minute's 400 does, one day after that minute ends.
  assert.equal(refused.stop.resumeAt.getTime(), Date.UTC(2026, 0, 5, 10, 1) + DAY_MS)
  assert.match(refused.stop.message, /^budget reached: 800 of --max-bytes-per-day 1000 bytes downloaded from the source in the last 24 h; resume after 10:01 UTC on 2026-01-06$/)
  // A small one would fit, but the run has stopped: nothing starts after the stop.
  assert.ok('stop' in q.reserve(1))
})

test('a resumed run knows what was spent; the window slides and frees it', () => {
  const {clock, quota} = setup({dest: {bytesPerDay: 1000}})
  copy(quota().reserve(900), 900)
  clock.at += HOUR_MS
  assert.ok('stop' in quota().reserve(200), 'a new run (same state) sees the 900 spent')
  clock.at = T0 + DAY_MS + 60_000
  const later = quota()
  copy(later.reserve(1000), 1000)
  assert.deepEqual(later.report({messages: 0, bytes: 0}).dest, {bytesPerDay: {limit: 1000, spent: 1000}})
})

test('messages per hour counts copies in flight: no more reservations than the limit', () => {
  const {clock, quota} = setup({source: {messagesPerHour: 3}})
  const q = quota()
  const grants = [q.reserve(10), q.reserve(10), q.reserve(10)]
  assert.ok(grants.every((g) => 'ticket' in g))
  const fourth = q.reserve(10)
  assert.ok('stop' in fourth)
  // In flight, not spent yet: they free the window an hour (and a minute) from now.
  assert.equal(fourth.stop.resumeAt.getTime(), clock.at + 60_000 + HOUR_MS)
  for (const g of grants) copy(g, 10)
  clock.at += HOUR_MS + 2 * 60_000
  assert.ok('ticket' in quota().reserve(10))
})

test('a copy that ended early gives its reservation back; a message larger than the day budget can never fit', () => {
  const {quota} = setup({source: {bytesPerDay: 100}, dest: {bytesPerDay: 100}})
  const q = quota()
  const g = q.reserve(100)
  assert.ok('ticket' in g)
  g.ticket.release()
  copy(q.reserve(100), 100)
  const big = quota().reserve(101)
  assert.ok('tooLarge' in big)
  assert.match(big.tooLarge, /larger \(101 bytes\) than --max-bytes-per-day 100/)
})

test('report: spent per side and the ETA in days at the tightest budget', () => {
  const {quota} = setup({source: {bytesPerDay: 1000, messagesPerHour: 10}, dest: {bytesPerDay: 500}})
  const q = quota()
  copy(q.reserve(100), 100)
  const report = q.report({messages: 480, bytes: 1200})
  assert.deepEqual(report.source, {bytesPerDay: {limit: 1000, spent: 100}, messagesPerHour: {limit: 10, spent: 1}})
  assert.deepEqual(report.dest, {bytesPerDay: {limit: 500, spent: 100}})
  // 1200 bytes at 500 a day: 2.4 days; 480 messages at 240 a day: 2 days.
  assert.equal(report.etaDays, 2.4)
  assert.equal(report.resumeAt, undefined)
  assert.equal(new Quota({}, setup({}).ledger, shiftedClock(0)).active, false)
})

test('utcTime rounds up to the minute and names another day', () => {
  assert.equal(utcTime(Date.UTC(2026, 0, 5, 14, 5, 0), T0), '14:05 UTC')
  assert.equal(utcTime(Date.UTC(2026, 0, 5, 14, 5, 1), T0), '14:06 UTC')
  assert.equal(utcTime(Date.UTC(2026, 0, 6, 0, 1), T0), '00:01 UTC on 2026-01-06')
})
