import assert from 'node:assert/strict'
import {test} from 'node:test'

import {RateLimiter} from '../../../src/imap/throttle.js'

test('a rate-limit wait ends when the signal aborts, not when the slot comes', async () => {
  const limiter = new RateLimiter({perSecond: 1000})
  await limiter.take(1000) // the one-second burst is spent
  await limiter.take(1000) // books the next second
  const abort = new AbortController()
  const started = Date.now()
  const waiting = limiter.take(5000, abort.signal) // its slot is ~1 s away, and books 5 s more
  setTimeout(() => abort.abort(), 20)
  await waiting
  const took = Date.now() - started
  assert.ok(took < 500, `waited ${took} ms`)
  // Without a signal the wait is kept.
  const plain = new RateLimiter({perSecond: 10})
  await plain.take(10)
  const t0 = Date.now()
  await plain.take(1)
  await plain.take(1)
  assert.ok(Date.now() - t0 >= 80, 'the limit still holds (one slot of 100 ms)')
})
