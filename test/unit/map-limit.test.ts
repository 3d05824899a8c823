import assert from 'node:assert/strict'
import {test} from 'node:test'

import {mapLimit} from '../../src/map-limit.js'

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

test('mapLimit keeps input order and at most `limit` calls in flight', async () => {
  let running = 0
  let most = 0
  const results = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (n) => {
    most = Math.max(most, ++running)
    await tick(n)
    running--
    return n * 10
  })
  assert.deepEqual(results, [50, 10, 40, 20, 30, 0])
  assert.equal(most, 2)
  assert.deepEqual(await mapLimit([], 4, async () => 1), [])
})

test('mapLimit rejects with the first failure and starts no further item', async () => {
  const started: number[] = []
  await assert.rejects(
    mapLimit([1, 2, 3, 4, 5, 6], 2, async (n) => {
      started.push(n)
      await tick(1)
      if (n === 2) throw new Error('two')
      return n
    }),
    /two/,
  )
  await tick(20)
  assert.deepEqual(started, [1, 2, 3])
})
