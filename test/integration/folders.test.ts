/**
 * createFolders and subscribeFolders (src/sync/folders.ts) on a real Dovecot: ~50 new folders at three
 * depths, created and (un)subscribed with the commands in flight together (pipelined on one
 * connection, or over the pool's sessions). The result is exact, and a CREATE the server refuses
 * fails that folder only.
 */
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {after, before, test} from 'node:test'

import type {EndpointConfig} from '../../src/config/schema.js'
import {openStore} from '../../src/stores/open.js'
import {createFolders, startFolderCreation, subscribeFolders} from '../../src/sync/folders.js'
import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {folderTree, withClient} from '../harness/mailbox.js'
import {freshUser} from './cli.js'

let dest: DovecotInstance
before(async () => {
  dest = await startDovecot({separator: '.'})
})
after(async () => {
  await dest?.stop()
})

for (const pipeline of [true, false]) {
  test(`50 folders created and subscribed ${pipeline ? 'pipelined on one connection' : 'over the pool\'s sessions'}; a refused CREATE fails only its folder`, async () => {
    const user = freshUser('folders')
    const endpoint: EndpointConfig = {host: dest.host, port: dest.port, tls: 'none', tlsOptions: {verify: true}, user, password: dest.password}
    const store = openStore(endpoint, {label: 'destination', connections: 4, readOnly: false, pipeline})
    await store.open()
    // Two 150-character levels make one 302-character directory name in Maildir++: Dovecot answers NO.
    const refused = `${'A'.repeat(150)}.${'B'.repeat(150)}`
    const tops = Array.from({length: 10}, (_, i) => `Top${i}`)
    const children = tops.flatMap((top) => [`${top}.Child a`, `${top}.Child-b`, `${top}.Ünïcödé`])
    const grandchildren = tops.slice(0, 9).map((top) => `${top}.Child a.Deep`)
    const create = [...tops, refused, ...children, ...grandchildren]
    assert.ok(create.length >= 50)
    const subscribe = create.filter((_, i) => i % 2 === 0 && create[i] !== refused)
    const unsubscribe = create.filter((_, i) => i % 2 === 1 && create[i] !== refused)
    try {
      const created = await createFolders(store, {create})
      assert.equal(created.created, create.length - 1)
      assert.deepEqual([...created.notCreated.keys()], [refused])
      assert.match(created.notCreated.get(refused)!, /NO|too long|Not found/)

      const warnings: string[] = []
      assert.equal(await subscribeFolders(store, {subscribe, unsubscribe}, warnings), subscribe.length)
      assert.deepEqual(warnings, [])
    } finally {
      await store.close()
    }
    const expected = ['INBOX', ...create.filter((path) => path !== refused).map((path) => path.split('.').join('/'))].sort()
    assert.deepEqual(await folderTree(dest, user), expected)
    const subscribed = await withClient(dest, user, async (client) => (await client.list()).filter((entry) => entry.subscribed).map((entry) => entry.path))
    for (const path of subscribe) assert.ok(subscribed.includes(path), `${path} is subscribed`)
    for (const path of unsubscribe) assert.ok(!subscribed.includes(path), `${path} is not subscribed`)
  })
}

test('a fresh account: INBOX is opened before any CREATE, and each folder is used as soon as it is ready, without a Dovecot crash', async () => {
  const create = ['Top0', 'Top1', 'Top0.Child', 'Top1.Child', 'Top0.Child.Deep']
  for (let round = 0; round < 15; round++) {
    const user = freshUser('ready')
    const endpoint: EndpointConfig = {host: dest.host, port: dest.port, tls: 'none', tlsOptions: {verify: true}, user, password: dest.password}
    const store = openStore(endpoint, {label: 'destination', connections: 4, readOnly: false, pipeline: true})
    await store.open()
    const events: string[] = []
    const peek = store.peek!.bind(store)
    store.peek = async (path) => {
      const status = await peek(path)
      events.push(`peeked ${path}`)
      return status
    }
    const commands = store.folderCommands!.bind(store)
    store.folderCommands = (verb, paths) => (events.push(`${verb} ${paths.join(',')}`), commands(verb, paths))
    const createOne = store.createFolder.bind(store)
    store.createFolder = (path) => (events.push(`create ${path}`), createOne(path))
    try {
      const creation = startFolderCreation(store, {create})
      // Every folder, INBOX first, selected as soon as it is ready: as the engine's pairs do.
      const selected = await Promise.all(['INBOX', ...create].map(async (path) => {
        const refusal = await creation.ready(path)
        assert.equal(refusal, undefined, `${path}: ${refusal}`)
        events.push(`ready ${path}`)
        return (await store.status(path)).uidValidity
      }))
      assert.equal((await creation.done).created, create.length)
      assert.ok(selected.every((validity) => validity > 0))
      assert.equal(events[0], 'peeked INBOX', events.join('; '))
      for (const path of create) {
        const created = events.findIndex((event) => event.startsWith('create') && event.split(/[ ,]/).includes(path))
        assert.ok(created > 0 && created < events.indexOf(`ready ${path}`), `${path} is ready after its CREATE: ${events.join('; ')}`)
      }
    } finally {
      await store.close()
    }
  }
  assert.doesNotMatch(readFileSync(dest.logFile, 'utf8'), /Panic|Fatal/)
})
