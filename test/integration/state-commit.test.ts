/**
 * A commit of the state's message rows that fails in the middle of a sync (a full disk or an I/O
 * error does that; here SQLite's own check of a deferred foreign key fails the COMMIT, on the real
 * database): the run stops with the state error, no APPEND goes out behind the failed commit, every
 * message on the destination has a committed row, and the re-run copies the rest, nothing twice.
 * First in-process between two Dovecots, wired as app/open.ts wires a sync (group commits, the
 * destination's APPEND barrier); then `sync` and `watch` as users run them, which end with exit 6.
 */
import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import {join} from 'node:path'
import {after, before, test} from 'node:test'

import type {EndpointConfig} from '../../src/config/schema.js'
import {sha256} from '../../src/digest.js'
import {ExitCode} from '../../src/errors.js'
import {openStateDb} from '../../src/state/db.js'
import {StateRepository} from '../../src/state/repository.js'
import {openStore} from '../../src/stores/open.js'
import type {EngineHooks} from '../../src/sync/engine.js'
import type {RunResult} from '../../src/sync/events.js'
import {runSync} from '../../src/sync/run.js'
import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {appendOne, seed, snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {freshUser, runCli, spawnCli, syncArgs, tempDir} from './cli.js'

let source: DovecotInstance
let dest: DovecotInstance
const tmp = tempDir()

before(async () => {
  ;[source, dest] = await Promise.all([startDovecot({separator: '/', name: 'sc-src'}), startDovecot({separator: '.', name: 'sc-dst'})])
})
after(async () => {
  await Promise.all([source?.stop(), dest?.stop()])
  tmp.cleanup()
})

const endpoint = (server: DovecotInstance, user: string): EndpointConfig => ({
  host: server.host,
  port: server.port,
  tls: 'none',
  tlsOptions: {verify: true},
  user,
  password: server.password,
})

/** One sync run, in-process, on the state file `statePath`. */
async function sync(users: {source: string; dest: string}, statePath: string, hooks: (db: Database.Database) => EngineHooks = () => ({})): Promise<RunResult> {
  const from = openStore(endpoint(source, users.source), {label: 'source', connections: 4, readOnly: true, readPipeline: true})
  const to = openStore(endpoint(dest, users.dest), {label: 'destination', connections: 4, readOnly: false, pipeline: true})
  const state = openStateDb(statePath)
  try {
    await Promise.all([from.open(), to.open()])
    const repository = new StateRepository(state.db)
    repository.bindAccounts(users.source, users.dest)
    to.setAppendBarrier!(() => repository.commit())
    repository.groupCommits()
    const ctx = {source: from, dest: to, state: repository, emit: () => {}, sourceName: 'source', destName: 'destination', statePath}
    return await runSync(ctx, {concurrency: 4, hooks: hooks(state.db)})
  } finally {
    await Promise.all([from.close(), to.close()])
    state.close()
  }
}

test('a failed commit of message rows stops the run before any APPEND it should precede; the re-run completes it, nothing twice', {timeout: 60_000}, async () => {
  const users = {source: freshUser('sc'), dest: freshUser('sc')}
  const generated = generateMessages(300, {seed: 7, meanSize: 2500})
  await seed(source, users.source, {INBOX: generated.slice(0, 200), 'Lists/dev': generated.slice(200)})
  const statePath = join(tmp.dir, `${users.source}.sqlite`)

  let injected = false
  const failed = await sync(users, statePath, (db) => ({
    beforeAppend: (ordinal) => {
      if (ordinal !== 60) return
      // The open group (this copy's pending row is in it) gets a row that breaks a foreign key,
      // checked only at COMMIT: the next commit, the APPEND barrier's, fails and rolls the group back.
      assert.ok(db.inTransaction, 'message rows wait in an open group')
      db.pragma('defer_foreign_keys = ON')
      db.prepare(`INSERT INTO messages (pair_id, source_uid, status, size, updated_at) VALUES (999999, 1, 'pending', 1, 'now')`).run()
      injected = true
    },
  }))
  assert.ok(injected, 'the commit was made to fail')
  assert.equal(failed.exitCode, ExitCode.state, JSON.stringify(failed.error))
  assert.match(failed.error ?? '', /message rows could not be committed: .*FOREIGN KEY/)

  // Every message on the destination has a committed row (its pending row came first), and the run
  // stopped well short of copying everything.
  const onDest = Object.values(await snapshot(dest, users.dest)).flat()
  const db = new Database(statePath, {readonly: true})
  const rows = db.prepare(`SELECT message_id AS messageId FROM messages WHERE status IN ('pending', 'copied')`).all() as Array<{messageId: string}>
  db.close()
  const committed = new Set(rows.map((row) => row.messageId))
  const idOf = new Map(generated.map((m) => [sha256(m.raw), /^Message-ID: (.*)$/im.exec(m.raw.toString('latin1'))![1].trim()]))
  assert.ok(onDest.length > 0 && onDest.length < generated.length, `${onDest.length} of ${generated.length} copied before the stop`)
  const withoutRow = onDest.filter((message) => !committed.has(idOf.get(message.sha256)!))
  assert.equal(withoutRow.length, 0, `${withoutRow.length} messages on the destination have no committed row`)

  const resumed = await sync(users, statePath)
  assert.equal(resumed.exitCode, ExitCode.ok, JSON.stringify(resumed.error))
  assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
})

test('sync and watch end with exit 6 when a commit fails, the message uncopied; once the cause is gone the re-run copies it', {timeout: 90_000}, async () => {
  const users = {source: freshUser('sc'), dest: freshUser('sc')}
  const [first, late] = [generateMessages(6, {seed: 8, meanSize: 2000}), generateMessages(1, {seed: 9, meanSize: 2000})]
  await seed(source, users.source, {INBOX: first})
  const statePath = join(tmp.dir, `${users.source}.sqlite`)
  const {args, env} = syncArgs(source, dest, users, statePath)
  assert.equal((await runCli(args, env)).code, 0)

  // A trap in the state file: every new message row brings along a row whose foreign key SQLite
  // checks only at COMMIT, so the commit before the APPEND fails, as on a full disk.
  const trap = new Database(statePath)
  trap.exec(`CREATE TABLE trap (pair_id INTEGER REFERENCES folder_pairs(id) DEFERRABLE INITIALLY DEFERRED);
    CREATE TRIGGER trap_rows AFTER INSERT ON messages BEGIN INSERT INTO trap VALUES (999999); END;`)
  trap.close()
  await appendOne(source, users.source, 'INBOX', late[0])

  const failed = await runCli(args, env)
  assert.equal(failed.code, ExitCode.state, failed.stderr)
  assert.match(failed.stdout, /Stopped early: state database .*: message rows could not be committed: FOREIGN KEY constraint failed\nHint: make room where the state file is/)
  assert.equal(await dest.messageCount(users.dest, 'INBOX'), first.length, 'nothing sent behind the failed commit')

  const watch = spawnCli(['watch', ...args.slice(1), '--interval', '1'], env)
  const ended = await Promise.race([watch.exited, new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), 20_000))])
  if (ended === 'running') await watch.stop()
  assert.equal(ended, ExitCode.state, `watch ends instead of failing pass after pass:\n${watch.stderr()}`)
  assert.match(watch.stderr(), /message rows could not be committed/)

  const mended = new Database(statePath)
  mended.exec('DROP TRIGGER trap_rows; DROP TABLE trap;')
  mended.close()
  const resumed = await runCli(args, env)
  assert.equal(resumed.code, 0, resumed.stderr)
  assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
})
