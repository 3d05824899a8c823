/**
 * Proves the real-server test harness: Dovecot instances, seeding, snapshots, TLS, limits,
 * cleanup. The server tests run concurrently, each on its own instances.
 */
import assert from 'node:assert/strict'
import {existsSync, readFileSync} from 'node:fs'
import {connect} from 'node:net'
import {describe, it} from 'node:test'
import {corpusSkipReason, loadCorpus} from '../harness/corpus.js'
import {instanceProcesses, isAlive, startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {appendOne, countMessages, expectedSnapshot, expunge, folderTree, listUids, openClient, seed, setFlags, snapshot, withClient} from '../harness/mailbox.js'
import {generateMessages, nastyMessages, type SeedMessage} from '../harness/messages.js'

/** Starts instances, runs `fn`, and always stops them. */
async function using<T>(options: Parameters<typeof startDovecot>[0][], fn: (instances: DovecotInstance[]) => Promise<T>): Promise<T> {
  const instances = await Promise.all(options.map((option) => startDovecot(option)))
  try {
    return await fn(instances)
  } finally {
    await Promise.all(instances.map((instance) => instance.stop()))
  }
}

const NASTY_FOLDERS = (): Record<string, SeedMessage[]> => {
  const nasty = nastyMessages()
  return {'INBOX': nasty.slice(0, 4), 'Work/Projects 2024': nasty, 'Entwürfe': nasty.slice(4, 9), 'Work/Projects 2024/Q3 & Q4': nasty.slice(9)}
}

describe('test harness', {concurrency: true}, () => {
  it('generates deterministic, varied messages', () => {
    const a = generateMessages(200, {seed: 42, largeSizes: [100_000]})
    const b = generateMessages(200, {seed: 42, largeSizes: [100_000]})
    assert.equal(a.length, 201)
    assert.deepEqual(a.map((m) => m.raw), b.map((m) => m.raw))
    assert.notDeepEqual(generateMessages(5, {seed: 43}).map((m) => m.raw), a.slice(0, 5).map((m) => m.raw))
    assert.ok(a[200].raw.length > 100_000, 'the large message holds its attachment')
    for (const message of a) {
      assert.equal(message.internalDate.getTime() % 1000, 0, 'internal dates are whole seconds')
      const header = /^Date: (.*)$/m.exec(message.raw.toString('latin1'))
      assert.ok(header, 'has a Date header')
      assert.notEqual(new Date(header[1]).getTime(), message.internalDate.getTime(), 'internal date differs from Date header')
    }
    const flags = new Set(a.flatMap((m) => m.flags))
    for (const flag of ['\\Seen', '\\Answered', '\\Flagged', '\\Draft', '\\Deleted', '$Forwarded', '$Label1', 'Project-X', 'NonJunk']) assert.ok(flags.has(flag), flag)
    const years = new Set(a.map((m) => m.internalDate.getUTCFullYear()))
    assert.ok(years.size > 10, 'dates spread over years')
  })

  it('has every nasty case', () => {
    const nasty = nastyMessages()
    const byName = (name: string) => nasty.find((m) => m.name === name)!.raw
    const text = (name: string) => byName(name).toString('latin1')
    assert.ok(!/^Message-ID:/im.test(text('no Message-ID')))
    const [a, b, c] = ['shared Message-ID A (same headers and size as B)', 'shared Message-ID B (same headers and size as A)', 'shared Message-ID C (different headers and size)'].map(text)
    assert.equal(a.length, b.length)
    assert.notEqual(a, b)
    assert.equal(a.split('\r\n\r\n')[0], b.split('\r\n\r\n')[0])
    for (const m of [a, b, c]) assert.match(m, /^Message-ID: <shared-id-0001@example.com>$/m)
    assert.deepEqual(byName('byte-identical copy 1'), byName('byte-identical copy 2'))
    assert.ok(!text('bare LF line ends').includes('\r'))
    assert.match(text('mixed CRLF and LF'), /[^\r]\n/)
    assert.match(text('mixed CRLF and LF'), /\r\n/)
    assert.ok(byName('8-bit UTF-8 headers').includes(Buffer.from('Grüße aus Köln')))
    assert.ok(byName('8-bit latin1 headers').includes(Buffer.from([0x47, 0x72, 0xfc, 0xdf, 0x65])), 'latin1 "Grüße"')
    assert.ok(text('line of 3000 octets').split('\r\n').some((line) => line.length === 3000))
    assert.ok(text('empty body').endsWith('\r\n\r\n'))
    assert.ok(byName('2 MiB attachment').length > 2 * 1024 * 1024)
    assert.ok(!text('headers only').includes('\r\n\r\n'))
    assert.match(text('folded Message-ID header'), /^Message-ID:\r\n <folded-id@example.com>$/m)
  })

  it("seeds '.', 'INBOX.'-prefixed and '/' instances to equal snapshots", async () => {
    await using([{separator: '.', name: 'dot'}, {separator: '.', inboxPrefix: true, name: 'prefix'}, {separator: '/', name: 'slash'}], async (instances) => {
      const folders = NASTY_FOLDERS()
      await Promise.all(instances.map((instance) => seed(instance, 'alice', folders)))
      const snapshots = await Promise.all(instances.map((instance) => snapshot(instance, 'alice')))
      assert.deepEqual(snapshots[0], expectedSnapshot(folders), 'bytes (CRLF-normalised), sizes, flags and dates as seeded')
      assert.deepEqual(snapshots[1], snapshots[0])
      assert.deepEqual(snapshots[2], snapshots[0])

      // Reading did not set \Seen (BODY.PEEK, EXAMINE).
      assert.deepEqual(await snapshot(instances[0], 'alice'), snapshots[0])

      const trees = await Promise.all(instances.map((instance) => folderTree(instance, 'alice')))
      const expectedTree = ['Entwürfe', 'INBOX', 'Work', 'Work/Projects 2024', 'Work/Projects 2024/Q3 & Q4']
      for (const tree of trees) assert.deepEqual(tree, expectedTree)

      // The server-side names really use each instance's separator and prefix.
      const names = await Promise.all(instances.map((instance) => withClient(instance, 'alice', async (client) => (await client.list()).map((entry) => entry.path).sort())))
      assert.ok(names[0].includes('Work.Projects 2024.Q3 & Q4'))
      assert.ok(names[1].includes('INBOX.Work.Projects 2024.Q3 & Q4'))
      assert.ok(names[2].includes('Work/Projects 2024/Q3 & Q4'))

      // A fresh user has an empty mailbox.
      assert.deepEqual(await snapshot(instances[0], 'bob'), {INBOX: []})
    })
  })

  it("lets '/' folder names contain dots, and edits flags and messages", async () => {
    await using([{separator: '/'}], async ([instance]) => {
      const messages = generateMessages(3, {seed: 5})
      await seed(instance, 'carol', {'Archive/v1.2': messages})
      assert.deepEqual(await folderTree(instance, 'carol'), ['Archive', 'Archive/v1.2', 'INBOX'])
      const uids = await listUids(instance, 'carol', 'Archive/v1.2')
      assert.equal(uids.length, 3)
      await setFlags(instance, 'carol', 'Archive/v1.2', [uids[0]], ['\\Flagged', 'Project-X'])
      await expunge(instance, 'carol', 'Archive/v1.2', [uids[1]])
      const uid = await appendOne(instance, 'carol', 'Archive/v1.2', generateMessages(1, {seed: 6})[0])
      assert.ok(uid > uids[2])
      assert.equal(await countMessages(instance, 'carol', 'Archive/v1.2'), 3)
      const snap = await snapshot(instance, 'carol')
      assert.ok(snap['Archive/v1.2'].some((m) => m.flags.join(' ') === 'Project-X \\Flagged'))
    })
  })

  it('refuses a wrong password', async () => {
    await using([{}], async ([instance]) => {
      await assert.rejects(openClient({...instance, password: 'not-the-password'}, 'dave'), (error: {authenticationFailed?: boolean}) => error.authenticationFailed === true)
      // A refused login does not slow down the next one (Dovecot's auth penalty is off).
      const started = Date.now()
      await (await openClient(instance, 'dave')).logout()
      assert.ok(Date.now() - started < 1000, `login after a failure took ${Date.now() - started} ms`)
    })
  })

  it('serves STARTTLS and implicit TLS with a certificate that verifies against caFile', async () => {
    await using([{}], async ([instance]) => {
      const ca = readFileSync(instance.caFile)
      const connectTls = async (options: {starttls: boolean; ca?: Buffer; servername?: string}) => {
        const client = await openClient(instance, 'erin', {
          port: options.starttls ? instance.port : instance.tlsPort,
          secure: !options.starttls,
          doSTARTTLS: options.starttls,
          tls: {ca: options.ca, servername: options.servername, rejectUnauthorized: true},
        })
        const secure = client.secureConnection
        await client.logout()
        return secure
      }
      assert.equal(await connectTls({starttls: true, ca}), true)
      assert.equal(await connectTls({starttls: false, ca}), true)
      assert.equal(await connectTls({starttls: false, ca, servername: 'localhost'}), true)
      await assert.rejects(connectTls({starttls: true}), /self[- ]signed|unable to verify|certificate/i)
      await assert.rejects(connectTls({starttls: false}), /self[- ]signed|unable to verify|certificate/i)
    })
  })

  it('refuses APPENDs over maxMailSize with a tagged NO', async () => {
    await using([{maxMailSize: 64 * 1024}], async ([instance]) => {
      const [small, big] = generateMessages(1, {seed: 9, meanSize: 1000, largeSizes: [100_000]})
      const client = await openClient(instance, 'frank')
      try {
        assert.equal(client.capabilities.has('APPENDLIMIT'), false, 'Dovecot 2.3 does not advertise APPENDLIMIT')
        await assert.rejects(client.append('INBOX', big.raw, big.flags, big.internalDate), (error: {response?: string; serverResponseCode?: string}) => {
          assert.match(error.response ?? '', / NO \[LIMIT\] Mail size is larger than the maximum size allowed by server configuration/)
          assert.equal(error.serverResponseCode, 'LIMIT')
          return true
        })
        assert.ok(await client.append('INBOX', small.raw, small.flags, small.internalDate))
      } finally {
        await client.logout()
      }
      assert.equal(await countMessages(instance, 'frank', 'INBOX'), 1)
    })
  })

  it('counts connections, and stop() leaves no process, port or directory behind', async () => {
    const instance = await startDovecot({name: 'stopper'})
    const clients = [await openClient(instance, 'gina'), await openClient(instance, 'gina')]
    assert.equal(await instance.connectionCount(), 2)
    const pids = instanceProcesses(instance)
    assert.ok(pids.length >= 4, `master and its services: ${pids}`)
    await instance.stop()
    assert.deepEqual(pids.filter(isAlive), [])
    assert.equal(existsSync(instance.dir), false)
    for (const port of [instance.port, instance.tlsPort]) assert.equal(await accepts(port), false, `port ${port} still open`)
    await Promise.all(clients.map((client) => client.close()))
    await instance.stop() // idempotent
  })

  it('seeds the shared corpus', async (t) => {
    const reason = corpusSkipReason()
    if (reason) return t.skip(reason)
    const corpus = loadCorpus()!
    assert.equal(Object.values(corpus.folders).flat().length, 1310)
    await using([{separator: '.', inboxPrefix: true}], async ([instance]) => {
      await seed(instance, 'hana', corpus.folders)
      assert.deepEqual(await snapshot(instance, 'hana'), expectedSnapshot(corpus.folders))
    })
  })
})

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({host: '127.0.0.1', port})
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
