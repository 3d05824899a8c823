import assert from 'node:assert/strict'
import {test} from 'node:test'

import {ByteBudget} from '../../../src/sync/budget.js'

test('holds no more than the limit at once, and grants in arrival order', async () => {
  const budget = new ByteBudget(100)
  const a = await budget.acquire(60)
  const order: string[] = []
  const b = budget.acquire(50).then((release) => (order.push('b'), release))
  const c = budget.acquire(10).then((release) => (order.push('c'), release))
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(order, [], 'b does not fit yet, and c waits behind it')
  a()
  const releaseB = await b
  const releaseC = await c
  assert.deepEqual(order, ['b', 'c'])
  releaseB()
  releaseC()
})

test('a message bigger than the whole budget runs alone', async () => {
  const budget = new ByteBudget(100)
  const small = await budget.acquire(10)
  let bigStarted = false
  const big = budget.acquire(500).then((release) => ((bigStarted = true), release))
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(bigStarted, false)
  small()
  const releaseBig = await big
  assert.equal(bigStarted, true)
  let nextStarted = false
  const next = budget.acquire(1).then((release) => ((nextStarted = true), release))
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(nextStarted, false, 'nothing runs beside it')
  releaseBig()
  ;(await next)()
  assert.equal(nextStarted, true)
})
