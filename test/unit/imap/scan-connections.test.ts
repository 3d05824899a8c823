import assert from 'node:assert/strict'
import {test} from 'node:test'

import {ScanConnections} from '../../../src/imap/scan-connections.js'

class Fake {
  usable = true
  loggedOut = false
  constructor(readonly id: number) {}
  async logout(): Promise<void> {
    this.loggedOut = true
    this.usable = false
  }
}

function pool(limit: number, refuseFrom = Infinity, depth = 1) {
  let opened = 0
  const refused: unknown[] = []
  const scans = new ScanConnections<Fake>(
    limit,
    async () => {
      if (opened >= refuseFrom) throw new Error('too many sessions')
      return new Fake(++opened)
    },
    (error) => refused.push(error),
    depth,
  )
  return {scans, refused, opened: () => opened}
}

test('at most `limit` open; a caller over it waits for one released, which is reused', async () => {
  const {scans, opened} = pool(2)
  const [a, b] = await Promise.all([scans.take(), scans.take()])
  let third: Fake | undefined
  const waiting = scans.take().then((c) => (third = c))
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(third, undefined, 'a third connection was handed out over the limit')
  scans.release(a!)
  await waiting
  assert.equal(third, a)
  assert.equal(opened(), 2)
  scans.release(b!)
  assert.equal(await scans.take(), b, 'an idle connection is reused')
})

test('a dead connection is dropped and a new one opened for the next caller', async () => {
  const {scans, opened} = pool(1)
  const a = (await scans.take())!
  const waiting = scans.take()
  a.usable = false
  scans.release(a)
  const b = await waiting
  assert.notEqual(b, a)
  assert.equal(opened(), 2)
})

test('a refused connection lowers the limit to those open; with none open, callers read on the pool (undefined)', async () => {
  const {scans, refused} = pool(3, 1)
  const a = await scans.take()
  assert.ok(a)
  // The refused open lowers the limit to the one open: the caller waits for it instead.
  let second: Fake | undefined
  const waiting = scans.take().then((c) => (second = c))
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(refused.length, 1)
  assert.equal(second, undefined)
  scans.release(a)
  assert.equal(await waiting, a)
  scans.release(a)
  assert.equal(await scans.take(), a)

  const none = pool(2, 0)
  assert.equal(await none.scans.take(), undefined)
  assert.equal(await none.scans.take(), undefined, 'no open attempt after the first refusal')
  assert.equal(none.refused.length, 1)
})

test('depth: each connection carries up to `depth` scans, spread over the connections first', async () => {
  const {scans, opened} = pool(2, Infinity, 3)
  const taken = await Promise.all(Array.from({length: 6}, () => scans.take()))
  assert.equal(opened(), 2)
  const count = (c: Fake) => taken.filter((t) => t === c).length
  assert.deepEqual(taken.slice(0, 2).map((c) => c!.id).sort(), [1, 2], 'the first two scans open a connection each')
  assert.equal(count(taken[0]!), 3)
  assert.equal(count(taken[1]!), 3)
  let seventh: Fake | undefined
  const waiting = scans.take().then((c) => (seventh = c))
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(seventh, undefined, 'a seventh scan went over the depth')
  scans.release(taken[1]!)
  assert.equal(await waiting, taken[1])
})

test('warm opens every connection at once; waiters get them as they come', async () => {
  const {scans, opened} = pool(2, Infinity, 2)
  scans.warm()
  assert.equal(opened(), 2, 'both opens started')
  const taken = await Promise.all([scans.take(), scans.take(), scans.take()])
  assert.equal(opened(), 2, 'take() opened more than the limit')
  assert.ok(taken.every(Boolean))
  assert.equal(new Set(taken).size, 2)
})

test('a dead connection is dropped once its scans are back, and one that died idle is not handed out', async () => {
  const {scans, opened} = pool(1, Infinity, 2)
  const [a, b] = await Promise.all([scans.take(), scans.take()])
  assert.equal(a, b)
  a!.usable = false
  scans.release(a!)
  scans.release(b!)
  const c = await scans.take()
  assert.notEqual(c, a)
  assert.equal(opened(), 2)
  scans.release(c!)
  c!.usable = false
  const d = await scans.take()
  assert.notEqual(d, c, 'a connection that died while idle was handed out')
  assert.equal(opened(), 3)
})

test('close: waiters get undefined, idle connections log out, taken ones log out when released', async () => {
  const {scans} = pool(1)
  const a = (await scans.take())!
  const waiting = scans.take()
  await scans.close()
  assert.equal(await waiting, undefined)
  assert.equal(a.loggedOut, false)
  scans.release(a)
  assert.equal(a.loggedOut, true)

  const idle = pool(1)
  const b = (await idle.scans.take())!
  idle.scans.release(b)
  await idle.scans.close()
  assert.equal(b.loggedOut, true)
})
