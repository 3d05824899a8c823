import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {ConnectError, MessageRejectedError} from '../../../src/errors.js'
import {describeTlsFailure, isPushback, isSessionCap, isTransient, translateAppendError, translateConnectError} from '../../../src/imap/errors.js'
import {ConnectionPool, type RetryNotice} from '../../../src/imap/pool.js'
import {backoffDelay} from '../../../src/imap/retry.js'
import type {ImapClient} from '../../../src/imap/session.js'
import {RateLimiter} from '../../../src/imap/throttle.js'

/** Mirrors what the pool reads of an ImapFlow: usable, mailbox, close(), logout(). */
function fakeClient(): ImapClient {
  const client = {usable: true, mailbox: false, close: () => (client.usable = false), logout: async () => void (client.usable = false)}
  return client as unknown as ImapClient
}
const imapError = (fields: Record<string, unknown>) => Object.assign(new Error(String(fields.message ?? 'failed')), fields)

describe('error classification', () => {
  test('pushback: response codes, Office 365 and Dovecot texts, ETHROTTLE', () => {
    assert.ok(isPushback(imapError({responseStatus: 'NO', serverResponseCode: 'UNAVAILABLE'})))
    assert.ok(isPushback(imapError({responseStatus: 'NO', serverResponseCode: 'LIMIT'})))
    assert.ok(isPushback(imapError({responseStatus: 'NO', serverResponseCode: 'INUSE'})))
    assert.ok(isPushback(imapError({responseStatus: 'BAD', responseText: 'Request is throttled. Suggested Backoff Time: 2000 milliseconds'})))
    assert.ok(isPushback(imapError({code: 'NoConnection', reason: 'Server Unavailable. 15'})))
    assert.ok(isPushback(imapError({code: 'ETHROTTLE', throttleReset: 5000})))
    assert.ok(isPushback(imapError({code: 'ClosedAfterConnectText', reason: 'Maximum number of connections from user+IP exceeded'})))
    // Dovecot's answer to a SELECT racing another session's first open of an auto-created folder.
    assert.ok(isPushback(imapError({responseStatus: 'NO', serverResponseCode: 'ALREADYEXISTS', responseText: '[ALREADYEXISTS] Mailbox already exists'})))
    assert.ok(!isPushback(imapError({responseStatus: 'NO', serverResponseCode: 'OVERQUOTA'})))
  })

  test('a temporary auth failure is not a refused login; a refused login is not transient', () => {
    const temporary = translateConnectError(imapError({authenticationFailed: true, responseStatus: 'NO', serverResponseCode: 'UNAVAILABLE', responseText: 'Temporary authentication failure'}), 'source x')
    assert.ok(temporary instanceof ConnectError && temporary.transient)
    const refused = translateConnectError(imapError({authenticationFailed: true, responseStatus: 'NO', serverResponseCode: 'AUTHENTICATIONFAILED'}), 'source x')
    assert.equal(refused.exitCode, 3)
    assert.ok(!isTransient(refused))
    const tls = translateConnectError(imapError({code: 'DEPTH_ZERO_SELF_SIGNED_CERT'}), 'source x')
    assert.equal(tls.exitCode, 4)
    assert.ok(!isTransient(tls))
  })

  test('APPEND: lost connection = outcome unknown; NO = the message; pushback NO = retry; APPENDLIMIT named', () => {
    const lost = translateAppendError(imapError({code: 'EConnectionClosed'}), 'destination x', 'INBOX')
    assert.ok(lost instanceof ConnectError && lost.outcomeUnknown && lost.transient)
    assert.ok(!isTransient(lost))
    assert.ok(translateAppendError(imapError({responseStatus: 'NO', responseText: 'Too big'}), 'd', 'INBOX') instanceof MessageRejectedError)
    const tooBig = translateAppendError(imapError({responseStatus: 'NO', serverResponseCode: 'LIMIT', responseText: 'Mail size is larger than the maximum'}), 'd', 'INBOX')
    assert.ok(tooBig instanceof MessageRejectedError, 'NO [LIMIT] to an APPEND is about the message')
    const busy = translateAppendError(imapError({responseStatus: 'NO', serverResponseCode: 'UNAVAILABLE'}), 'd', 'INBOX')
    assert.ok(busy instanceof ConnectError && busy.transient && !busy.outcomeUnknown)
    const limit = translateAppendError(imapError({serverResponseCode: 'APPENDLIMIT', message: 'Message content too big for APPENDLIMIT=1000'}), 'd', 'INBOX')
    assert.equal(limit.message, "larger than the destination's APPENDLIMIT (1000 bytes)")
  })
})

describe('ConnectionPool retries', () => {
  const policy = {retries: 3, initialDelayMs: 1, maxDelayMs: 4}

  test('backoff doubles up to the cap, with jitter; a throttling hint wins', () => {
    const p = {retries: 9, initialDelayMs: 500, maxDelayMs: 30_000}
    assert.deepEqual([1, 2, 3, 8].map((n) => backoffDelay(p, n, undefined, () => 0.5)), [500, 1000, 2000, 30_000])
    assert.equal(backoffDelay(p, 1, imapError({code: 'ETHROTTLE', throttleReset: 7000}), () => 0.5), 7000)
  })

  test('an idempotent task is run again on a new session after a lost connection', async () => {
    const notices: RetryNotice[] = []
    let sessions = 0
    const pool = new ConnectionPool({size: 2, retry: policy, connect: async () => (sessions++, fakeClient()), onRetry: (n) => notices.push(n)})
    let calls = 0
    const result = await pool.use(async () => {
      if (++calls < 3) throw new ConnectError('lost', {transient: true})
      return 'done'
    })
    assert.equal(result, 'done')
    assert.equal(notices.length, 2)
    assert.equal(sessions, 3, 'each failed session was replaced')
  })

  test('APPEND (not idempotent) is not re-sent after a lost connection; pushback and connect failures are retried', async () => {
    let connects = 0
    const pool = new ConnectionPool({
      size: 1,
      retry: policy,
      connect: async () => {
        if (++connects === 1) throw new ConnectError('refused', {transient: true})
        return fakeClient()
      },
    })
    let calls = 0
    await assert.rejects(
      pool.use(async () => {
        calls++
        if (calls === 1) throw new ConnectError('busy', {transient: true, cause: imapError({responseStatus: 'NO', serverResponseCode: 'LIMIT'})})
        throw new ConnectError('lost mid-APPEND', {transient: true, outcomeUnknown: true})
      }, {idempotent: false}),
      (error: unknown) => error instanceof ConnectError && error.outcomeUnknown,
    )
    assert.equal(calls, 2)
    assert.equal(connects, 2)
  })

  test('gives up after the retries with a final ConnectError (exit 4)', async () => {
    const pool = new ConnectionPool({size: 1, retry: policy, connect: async () => {
      throw new ConnectError('destination x: cannot connect: ECONNREFUSED', {transient: true})
    }})
    await assert.rejects(pool.use(async () => 1), (error: unknown) => {
      assert.ok(error instanceof ConnectError)
      assert.match(error.message, /still failing after 3 retries/)
      assert.equal(error.exitCode, 4)
      return true
    })
  })

  test('tasks waiting for a session are not stranded when new sessions cannot be opened', async () => {
    let up = false
    const pool = new ConnectionPool({size: 1, retry: {retries: 20, initialDelayMs: 1, maxDelayMs: 2}, connect: async () => {
      if (!up) throw new ConnectError('refused', {transient: true})
      return fakeClient()
    }})
    const tasks = [1, 2, 3].map((n) => pool.use(async () => n))
    setTimeout(() => (up = true), 20)
    assert.deepEqual(await Promise.all(tasks), [1, 2, 3])
  })

  test('a cap on sessions is told from pushback that passes', () => {
    const cap = imapError({code: 'NoConnection', reason: 'Maximum number of connections from user+IP exceeded'})
    assert.ok(isSessionCap(cap))
    assert.ok(isSessionCap(new ConnectError('busy', {transient: true, cause: cap})))
    assert.ok(isSessionCap(imapError({responseStatus: 'NO', serverResponseCode: 'LIMIT', responseText: 'Too many sessions'})))
    assert.ok(isSessionCap(imapError({responseStatus: 'NO', responseText: 'Too many simultaneous connections. (Failure)'})))
    const passing = imapError({responseStatus: 'NO', serverResponseCode: 'UNAVAILABLE', responseText: 'Temporary authentication failure.'})
    assert.ok(isPushback(passing) && !isSessionCap(passing))
    assert.ok(!isSessionCap(new ConnectError('busy', {transient: true, cause: passing})))
    assert.ok(!isSessionCap(imapError({code: 'ECONNREFUSED'})))
  })

  /**
   * Three tasks on a pool of 3 whose logins after the first fail with `cause` (`times` times at most):
   * every task's result, the sizes it shrank to, its size at the end.
   */
  async function threeTasksUnder(cause: Error, times = Infinity) {
    let open = 0
    let failures = times
    const shrunk: number[] = []
    const pool = new ConnectionPool({
      size: 3,
      retry: policy,
      onShrink: (size) => shrunk.push(size),
      connect: async () => {
        if (open >= 1 && failures-- > 0) throw new ConnectError('busy', {transient: true, cause})
        open++
        return fakeClient()
      },
    })
    const results = await Promise.all([1, 2, 3].map((n) => pool.use(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5))
      return n
    })))
    return {results, shrunk, size: pool.size}
  }

  test('pushback that passes while others work: the pool keeps its size and opens the session later', async () => {
    const cause = imapError({responseStatus: 'NO', serverResponseCode: 'UNAVAILABLE', responseText: 'Temporary authentication failure'})
    assert.deepEqual(await threeTasksUnder(cause, 1), {results: [1, 2, 3], shrunk: [], size: 3})
  })

  test('"too many connections" while others work: the pool goes on with fewer', async () => {
    const cause = imapError({code: 'NoConnection', reason: 'Maximum number of connections from user+IP exceeded'})
    assert.deepEqual(await threeTasksUnder(cause), {results: [1, 2, 3], shrunk: [1], size: 1})
  })
})

describe('ConnectionPool.renew', () => {
  test('after renew() no session opened before it is lent again, idle or busy at the time, and the cap holds', async () => {
    const made: ImapClient[] = []
    const pool = new ConnectionPool({size: 2, connect: async () => {
      const client = fakeClient()
      made.push(client)
      return client
    }})
    const hold = async (client: ImapClient) => (await new Promise((resolve) => setTimeout(resolve, 2)), client)
    await Promise.all([pool.use(hold), pool.use(hold)])
    const old = [...made]
    assert.equal(old.length, 2)

    let release!: () => void
    const busy = pool.use(async (client) => (await new Promise<void>((resolve) => (release = resolve)), client))
    await new Promise((resolve) => setTimeout(resolve, 1))
    pool.renew()
    assert.equal(old.filter((c) => !c.usable).length, 1, 'the idle session is closed at once')

    const fresh = await pool.use(async (c) => c)
    assert.ok(!old.includes(fresh), 'a task after renew() gets a new session')
    release()
    const wasBusy = await busy
    assert.ok(old.includes(wasBusy) && !wasBusy.usable, 'the busy session is closed when it comes back')

    const later = await Promise.all([pool.use(hold), pool.use(hold)])
    for (const client of later) assert.ok(!old.includes(client))
    assert.equal(made.length, 4, 'one replacement per old session, never more than the cap')
  })
})

describe('RateLimiter', () => {
  test('books time per unit after a one-second burst', async () => {
    let now = 0
    const waits: number[] = []
    const limiter = new RateLimiter({perSecond: 10, now: () => now, sleep: async (ms) => void waits.push(ms)})
    for (let i = 0; i < 12; i++) await limiter.take(1)
    assert.deepEqual(waits, [100])
    now = 10_000
    await limiter.take(50)
    assert.deepEqual(waits, [100], 'idle time refills the burst allowance')
    await limiter.take(1)
    assert.equal(waits.length, 2)
    assert.ok(waits[1] > 0)
  })

  test('no limit: never waits', async () => {
    const limiter = new RateLimiter({sleep: async () => assert.fail('waited')})
    await limiter.take(1e9)
  })
})

describe('TLS failures in words', () => {
  test('OpenSSL text is cut to its reason; STARTTLS missing and version mismatch get their own advice', () => {
    const openssl = '80EC4501147F0000:error:0A00042E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 70'
    const version = describeTlsFailure('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', openssl)
    assert.equal(version.text, 'no TLS version both sides accept (tlsv1 alert protocol version)')
    assert.match(version.hint, /minTls/)
    assert.equal(describeTlsFailure(undefined, 'Server does not support STARTTLS').text, 'the server does not offer STARTTLS')
    assert.match(describeTlsFailure('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate').hint, /caFile/)
  })

  test('"wrong version number" (a plain port answered) is not a version mismatch: it says so and advises STARTTLS', () => {
    const openssl = '40B8F1D1A07F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:354:'
    const plain = describeTlsFailure('ERR_SSL_WRONG_VERSION_NUMBER', openssl)
    assert.equal(plain.text, 'the server did not answer in TLS (is this a plain IMAP port?)')
    assert.match(plain.hint, /STARTTLS/)
    assert.doesNotMatch(plain.hint, /minTls/)
    assert.equal(describeTlsFailure(undefined, openssl).text, plain.text)
  })
})
