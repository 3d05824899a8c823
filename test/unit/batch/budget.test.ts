import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {accountDemand, fitConcurrency, HostBudget, hostKey} from '../../../src/batch/budget.js'
import {outcomeOf} from '../../../src/batch/state.js'

const OLD = {host: 'Old.Example', port: 993}
const NEW = {host: 'new.example', port: 993}

describe('host budget', () => {
  it('keys hosts by lower-case host and port', () => {
    assert.equal(hostKey(OLD), 'old.example:993')
  })

  it('an account needs its concurrency on each side, twice on one shared host', () => {
    assert.deepEqual([...accountDemand(OLD, NEW, 3)], [['old.example:993', 3], ['new.example:993', 3]])
    assert.deepEqual([...accountDemand(OLD, OLD, 3)], [['old.example:993', 6]])
  })

  it('fits an account concurrency to the cap', () => {
    assert.equal(fitConcurrency(4, OLD, NEW, undefined), 4)
    assert.equal(fitConcurrency(4, OLD, NEW, 3), 3)
    assert.equal(fitConcurrency(4, OLD, OLD, 5), 2)
    assert.equal(fitConcurrency(4, OLD, OLD, 1), 1)
  })

  it('admits an account only when it fits every host, and tracks the peak', () => {
    const budget = new HostBudget(4)
    const a = accountDemand(OLD, NEW, 2)
    const b = accountDemand(OLD, NEW, 2)
    const c = accountDemand(OLD, {host: 'third', port: 143}, 1)
    assert.ok(budget.tryAcquire(a))
    assert.ok(budget.tryAcquire(b))
    assert.equal(budget.inUse('old.example:993'), 4)
    assert.ok(!budget.tryAcquire(c), 'old.example is full')
    assert.equal(budget.inUse('third:143'), 0, 'nothing reserved when it does not fit')
    budget.release(a)
    assert.ok(budget.tryAcquire(c))
    assert.deepEqual(budget.peaks(), {'old.example:993': 4, 'new.example:993': 4, 'third:143': 1})
    budget.release(b)
    budget.release(c)
    assert.throws(() => budget.release(c), /released more than reserved/)
  })

  it('without a cap everything fits', () => {
    const budget = new HostBudget(undefined)
    for (let i = 0; i < 100; i++) assert.ok(budget.tryAcquire(accountDemand(OLD, NEW, 8)))
    assert.equal(budget.peaks()['old.example:993'], 800)
  })
})

describe('outcomeOf', () => {
  it('maps sync exit codes to ok / partial / failed', () => {
    assert.equal(outcomeOf(0), 'ok')
    assert.equal(outcomeOf(1), 'partial')
    for (const code of [2, 3, 4, 5, 6, 130]) assert.equal(outcomeOf(code), 'failed')
  })
})
