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

function pool(limit: number, refuseFrom = Infinity) {
  let opened = 0
  const refused: unknown[] = []
  const scans = new ScanConnections<Fake>(
    limit,
    async () => {
      if (opened >= refuseFrom) throw new Error('too many sessions')
      return new Fake(++opened)
    },
    (error) => refused.push(error),
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
  assert.equal(await scans.take(), undefined, 'the refused open answers undefined')
  assert.equal(refused.length, 1)
  // The limit is now the one open: the next caller waits for it instead of opening another.
  const waiting = scans.take()
  scans.release(a)
  assert.equal(await waiting, a)

  const none = pool(2, 0)
  assert.equal(await none.scans.take(), undefined)
  assert.equal(await none.scans.take(), undefined, 'no open attempt after the first refusal')
  assert.equal(none.refused.length, 1)
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
