/**
 * ConnectionPool's hand-out order: sessions go to the task that wants the folder they have
 * selected (a SELECT saved), nobody waits for ever behind such tasks, and fill() opens the rest.
 */
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {ConnectionPool} from '../../../src/imap/pool.js'
import type {ImapClient} from '../../../src/imap/session.js'

interface Fake {
  id: number
  usable: boolean
  mailbox: false | {path: string}
  close(): void
  logout(): Promise<void>
}

function fakeFactory() {
  const made: Fake[] = []
  const connect = async () => {
    const client: Fake = {
      id: made.length + 1,
      usable: true,
      mailbox: false,
      close: () => void (client.usable = false),
      logout: async () => void (client.usable = false),
    }
    made.push(client)
    return client as unknown as ImapClient
  }
  return {made, connect}
}

const fake = (client: ImapClient) => client as unknown as Fake
/** A task that selects `path` on its session and holds it until `release` is called. */
function selecting(path: string) {
  let release!: () => void
  const held = new Promise<void>((resolve) => (release = resolve))
  return {release, task: async (client: ImapClient) => ((fake(client).mailbox = {path}), await held, fake(client).id)}
}
const turn = () => new Promise((resolve) => setImmediate(resolve))

/** A pool of one session, lent to a task that has selected `path` and holds it until first.release(). */
async function busyWith(path: string) {
  const pool = new ConnectionPool({size: 1, connect: fakeFactory().connect})
  const first = selecting(path)
  const running = pool.use(first.task, path)
  await turn()
  return {pool, first, running}
}

describe('ConnectionPool hand-out order', () => {
  test('a session coming back goes to the waiter for its folder first', async () => {
    const {pool, first, running} = await busyWith('A')
    const forB = pool.use(async (client) => fake(client).id, 'B')
    const forA = pool.use(async (client) => fake(client).mailbox, 'A')
    const order: string[] = []
    void forB.then(() => order.push('B'))
    void forA.then(() => order.push('A'))
    first.release()
    await Promise.all([running, forA, forB])
    assert.deepEqual(order, ['A', 'B'])
  })

  test('the task that just used a folder gets its session back for the same folder, ahead of waiters for others', async () => {
    const {connect} = fakeFactory()
    const pool = new ConnectionPool({size: 1, connect})
    const first = selecting('A')
    const served: string[] = []
    const sameCaller = (async () => {
      const id = await pool.use(first.task, 'A')
      // Asked right after (prepare: SELECT, then the listing), in the same turn of the event loop.
      return pool.use(async (client) => (served.push('A again'), {id, again: fake(client).id, selected: fake(client).mailbox}), 'A')
    })()
    await turn()
    const other = pool.use(async () => void served.push('B'), 'B')
    first.release()
    const result = await sameCaller
    await other
    assert.deepEqual(result.selected, {path: 'A'})
    assert.deepEqual(served, ['A again', 'B'], 'the waiter for another folder is served after')
  })

  test('a waiter is passed over a bounded number of times, then served', async () => {
    const {pool, first, running} = await busyWith('A')
    const served: string[] = []
    const forB = pool.use(async () => void served.push('B'), 'B')
    // A long run of tasks for the selected folder, all queued behind the one for B.
    const forA = Array.from({length: 20}, (_, i) => pool.use(async (client) => ((fake(client).mailbox = {path: 'A'}), void served.push(`A${i}`)), 'A'))
    first.release()
    await Promise.all([running, forB, ...forA])
    const position = served.indexOf('B')
    assert.ok(position >= 0 && position <= 5, `B served at position ${position}: ${served.join(' ')}`)
  })

  test('a newcomer does not take an idle session from waiters unless it has its folder selected', async () => {
    const {pool, first, running} = await busyWith('A')
    const served: string[] = []
    const forB = pool.use(async (client) => ((fake(client).mailbox = {path: 'B'}), void served.push('B')), 'B')
    first.release()
    await running
    // The session is back and held for one turn; a newcomer for C must queue behind B.
    const forC = pool.use(async () => void served.push('C'), 'C')
    await Promise.all([forB, forC])
    assert.deepEqual(served, ['B', 'C'])
  })

  test('fill() opens every session up to the cap, and they are lent out', async () => {
    const {made, connect} = fakeFactory()
    const pool = new ConnectionPool({size: 3, connect})
    await pool.warmUp()
    pool.fill()
    await turn()
    assert.equal(made.length, 3)
    const hold = async (client: ImapClient) => (await turn(), fake(client).id)
    const ids = await Promise.all([pool.use(hold), pool.use(hold), pool.use(hold)])
    assert.deepEqual([...ids].sort(), [1, 2, 3])
    assert.equal(made.length, 3, 'no session beyond the cap')
    await pool.close()
  })

  test('warmUp: pushback at the first login is tried again under the retry policy; a refused login or connection is not', async () => {
    const policy = {retries: 3, initialDelayMs: 1, maxDelayMs: 2}
    const busy = () => Object.assign(new Error('Temporary authentication failure'), {serverResponseCode: 'UNAVAILABLE', responseStatus: 'NO'})
    const {made, connect} = fakeFactory()
    let failures = 2
    const retries: number[] = []
    const pool = new ConnectionPool({
      size: 2,
      retry: policy,
      connect: async () => {
        if (failures-- > 0) throw busy()
        return connect()
      },
      onRetry: ({attempt}) => retries.push(attempt),
    })
    await pool.warmUp()
    assert.deepEqual(retries, [1, 2])
    assert.equal(made.length, 1)
    await pool.close()

    // Pushback beyond the retries: the last error, saying how long it was tried.
    const always = new ConnectionPool({size: 1, retry: policy, connect: async () => Promise.reject(busy())})
    await assert.rejects(always.warmUp(), /Temporary authentication failure/)

    for (const refusal of [
      Object.assign(new Error('Authentication failed'), {authenticationFailed: true, responseStatus: 'NO'}),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {code: 'ECONNREFUSED'}),
    ]) {
      let calls = 0
      const once = new ConnectionPool({size: 1, retry: policy, connect: async () => (calls++, Promise.reject(refusal))})
      await assert.rejects(once.warmUp(), (error) => error === refusal)
      assert.equal(calls, 1, `${refusal.message}: tried again`)
    }
  })
})

describe('ConnectionPool.borrowPlace', () => {
  test('an idle session is logged out for the borrower; tasks wait until the place is given back, then get a new session', async () => {
    const {made, connect} = fakeFactory()
    const pool = new ConnectionPool({size: 1, connect})
    await pool.warmUp()
    const giveBack = await pool.borrowPlace()
    assert.equal(made[0].usable, false, 'the idle session was logged out')
    let ran = false
    const task = pool.use(async (client) => ((ran = true), fake(client).id))
    await turn()
    assert.equal(ran, false, 'no session while the place is lent')
    assert.equal(pool.waiting, true)
    assert.equal(made.length, 1, 'no second connection opened')
    giveBack()
    giveBack() // a second call gives nothing more back
    assert.equal(await task, 2, 'a new session for the task')
    assert.equal(made.length, 2)
    await pool.close()
  })

  test('tasks that wait go before a borrower that came first, and a borrower never opens a session', async () => {
    const {made, connect} = fakeFactory()
    const woken: string[] = []
    const pool = new ConnectionPool({size: 1, connect, onWaiting: () => woken.push('waiting')})
    const first = selecting('A')
    const running = pool.use(first.task)
    await turn()
    const order: string[] = []
    const borrowed = pool.borrowPlace().then((giveBack) => (order.push('borrower'), giveBack))
    const second = pool.use(async () => void order.push('task'))
    await turn()
    assert.deepEqual(woken, ['waiting', 'waiting'])
    first.release()
    await running
    await second
    const giveBack = await borrowed
    assert.deepEqual(order, ['task', 'borrower'])
    assert.equal(made.length, 1, 'the session that served both tasks is the only one opened')
    assert.equal(made[0].usable, false, 'and was logged out for the borrower')
    giveBack()
    await pool.close()
  })

  test('a free place is lent without logging a session in for it', async () => {
    const {made, connect} = fakeFactory()
    const pool = new ConnectionPool({size: 1, connect})
    const giveBack = await pool.borrowPlace()
    assert.equal(made.length, 0)
    giveBack()
    await pool.use(async () => undefined)
    assert.equal(made.length, 1)
    await pool.close()
  })
})
