import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {accountDemand, HostBudget} from '../../../src/batch/budget.js'
import {schedule, type Queued} from '../../../src/batch/schedule.js'
import type {Clock} from '../../../src/sync/clock.js'

const A = {host: 'a.example', port: 993}
const B = {host: 'b.example', port: 993}
const C = {host: 'c.example', port: 993}

/** A clock whose sleeps end at once, noting the times asked for. */
function instantClock(asked: number[]): Clock {
  return {now: () => 0, sleepUntil: async (at) => void asked.push(at)}
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('batch schedule', () => {
  it('runs at most `parallel` at once, in order, and each only when its sessions fit the host budget', async () => {
    const queue: Array<Queued<string>> = [
      {item: 'ab1', demand: accountDemand(A, B, 2)},
      {item: 'ab2', demand: accountDemand(A, B, 2)},
      {item: 'cc', demand: accountDemand(C, C, 1)},
      {item: 'ab3', demand: accountDemand(A, B, 1)},
    ]
    const budget = new HostBudget(3)
    const started: string[] = []
    let running = 0
    let most = 0
    const done = await schedule(queue, {parallel: 2, budget, clock: instantClock([])}, {
      run: async (item) => {
        started.push(item)
        most = Math.max(most, ++running)
        await tick()
        running--
        return undefined
      },
      unfit: () => assert.fail('every item fits alone'),
    })
    assert.deepEqual(done, [])
    assert.equal(most, 2)
    // ab2 does not fit beside ab1 (4 > 3 on a and b): cc goes past it, and ab3 (1 more) fits beside ab1.
    assert.deepEqual(started.slice(0, 2), ['ab1', 'cc'])
    assert.deepEqual(started.sort(), ['ab1', 'ab2', 'ab3', 'cc'])
    assert.deepEqual(budget.peaks(), {'a.example:993': 3, 'b.example:993': 3, 'c.example:993': 2})
  })

  it('an item that asks to run again goes first once its time has come; one that cannot fit alone is unfit', async () => {
    const asked: number[] = []
    const order: string[] = []
    const unfit: string[] = []
    let first = true
    await schedule(
      [
        {item: 'budgeted', demand: accountDemand(A, B, 1)},
        {item: 'next', demand: accountDemand(A, B, 1)},
        {item: 'huge', demand: accountDemand(A, A, 2)},
      ],
      {parallel: 1, budget: new HostBudget(3), clock: instantClock(asked)},
      {
        run: async (item) => {
          order.push(item)
          if (item === 'budgeted' && first) {
            first = false
            return 12_345
          }
          return undefined
        },
        unfit: (item) => unfit.push(item),
      },
    )
    assert.deepEqual(asked, [12_345])
    assert.deepEqual(order, ['budgeted', 'next', 'budgeted'])
    assert.deepEqual(unfit, ['huge'])
  })

  it('once aborted nothing more starts; the items never started are handed back', async () => {
    const abort = new AbortController()
    const queue = ['one', 'two', 'three'].map((item) => ({item, demand: accountDemand(A, B, 1)}))
    const ran: string[] = []
    const left = await schedule(queue, {parallel: 1, budget: new HostBudget(undefined), signal: abort.signal, clock: instantClock([])}, {
      run: async (item) => {
        ran.push(item)
        abort.abort()
        return 1 // asks to run again: not after an abort
      },
      unfit: () => assert.fail('no cap'),
    })
    assert.deepEqual(ran, ['one'])
    assert.deepEqual(left, ['two', 'three'])
  })
})
