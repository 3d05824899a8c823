/**
 * A session that is no longer wanted while it logs in (the run ended, the pool closed) is cut off at
 * once: its connection is closed without waiting for the login's answer or sending a LOGOUT, so the
 * process does not stay alive for a login and a logout nobody needs.
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'

import type {EndpointConfig} from '../../src/config/schema.js'
import {ConnectError} from '../../src/errors.js'
import {ConnectionPool} from '../../src/imap/pool.js'
import {openSession} from '../../src/imap/session.js'
import {HostileImapServer} from '../harness/hostile-imap.js'

/** A server that answers logins, or (hangLogin) one whose first LOGIN is never answered: a slow auth back end. */
async function server(hangLogin: boolean): Promise<{server: HostileImapServer; endpoint: EndpointConfig}> {
  const started = new HostileImapServer([], {silentOnce: hangLogin ? ['LOGIN'] : []})
  await started.start()
  return {server: started, endpoint: {host: '127.0.0.1', port: started.port, tls: 'none', tlsOptions: {verify: true}, user: 'alice', password: 'x'}}
}

async function until(what: string, done: () => boolean): Promise<void> {
  for (let waited = 0; !done(); waited += 10) {
    if (waited > 5000) assert.fail(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

test('openSession: cancelling a login in progress closes its connection at once, with a ConnectError', async () => {
  const hung = await server(true)
  try {
    const cancel = new AbortController()
    const opening = openSession(hung.endpoint, {label: 'source', cancel: cancel.signal})
    await until('the LOGIN', () => hung.server.heard.includes('LOGIN'))
    assert.equal(hung.server.connections, 1)
    const cancelledAt = Date.now()
    cancel.abort()
    await assert.rejects(opening, (error: unknown) => error instanceof ConnectError && /login cut off/.test(error.message))
    // Not after the session's own timeouts (16 s and more) run out.
    assert.ok(Date.now() - cancelledAt < 5000, `the login ended ${Date.now() - cancelledAt} ms after the cancel`)
    await until('the connection to close', () => hung.server.connections === 0)
    assert.ok(!hung.server.heard.includes('LOGOUT'))
    // Cancelled before it starts: nothing is opened.
    await assert.rejects(openSession(hung.endpoint, {label: 'source', cancel: cancel.signal}), ConnectError)
    assert.deepEqual(hung.server.heard.filter((command) => command === 'LOGIN'), ['LOGIN'])
  } finally {
    await hung.server.stop()
  }
})

test('ConnectionPool.close() cuts off a session fill() is still logging in; the logged-in one logs out', async () => {
  const [answering, hung] = await Promise.all([server(false), server(true)])
  try {
    let opened = 0
    const pool = new ConnectionPool({
      size: 2,
      connect: (cancel) => openSession(opened++ === 0 ? answering.endpoint : hung.endpoint, {label: 'source', cancel}),
    })
    await pool.warmUp()
    pool.fill()
    await until('the second LOGIN', () => hung.server.heard.includes('LOGIN'))
    await pool.close()
    await until('every connection to close', () => answering.server.connections === 0 && hung.server.connections === 0)
    assert.deepEqual(answering.server.heard.filter((c) => c === 'LOGIN' || c === 'LOGOUT'), ['LOGIN', 'LOGOUT'])
    assert.ok(!hung.server.heard.includes('LOGOUT'))
  } finally {
    await Promise.all([answering.server.stop(), hung.server.stop()])
  }
})
