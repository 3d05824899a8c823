/**
 * Folder mapping on real servers: a Courier/Cyrus-style Dovecot (separator '.', personal namespace
 * "INBOX.", Sent = "Sent Items", Trash = "Deleted Items") and a default-style one (separator '/', no
 * prefix, Sent = "Sent", Trash = "Trash", Junk = "Junk"), in both directions; every rule type, the
 * `plan` command, `sync --dry-run` and `sync --folders-only`. Judged by what the servers return.
 */
import assert from 'node:assert/strict'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {folderTree, normalPath, seed, serverPath, snapshot, withClient, type Snapshot} from '../harness/mailbox.js'
import {generateMessages, type SeedMessage} from '../harness/messages.js'
import {freshUser, runCli, syncArgs, tempDir} from './cli.js'

let courier: DovecotInstance
let plain: DovecotInstance
const tmp = tempDir()

before(async () => {
  ;[courier, plain] = await Promise.all([
    startDovecot({separator: '.', inboxPrefix: true, name: 'courier', specialUse: {'\\Sent': 'Sent Items', '\\Trash': 'Deleted Items'}}),
    startDovecot({separator: '/', name: 'plain', specialUse: {'\\Sent': 'Sent', '\\Trash': 'Trash', '\\Junk': 'Junk'}}),
  ])
})
after(async () => {
  await Promise.all([courier?.stop(), plain?.stop()])
  tmp.cleanup()
})

/** A few distinct messages per folder, from one deterministic pool. */
function mailbox(names: string[], seedValue: number): Record<string, SeedMessage[]> {
  const pool = generateMessages(names.length * 2, {seed: seedValue})
  return Object.fromEntries(names.map((name, i) => [name, pool.slice(i * 2, i * 2 + 1 + (i % 2))]))
}

async function mf(command: 'sync' | 'plan', from: DovecotInstance, to: DovecotInstance, users: {source: string; dest: string}, state: string, extra: string[]) {
  const {args, env} = syncArgs(from, to, users, state)
  return runCli([command, ...args.slice(1), ...extra], env)
}

function assertExit(run: Awaited<ReturnType<typeof mf>>, code = 0) {
  assert.equal(run.code, code, `exit ${run.code}\nstdout: ${run.stdout.slice(0, 3000)}\nstderr: ${run.stderr.slice(0, 3000)}`)
}

/** Normalised paths of the subscribed folders. */
async function subscriptions(server: DovecotInstance, user: string): Promise<string[]> {
  return withClient(server, user, async (client) =>
    (await client.list()).filter((entry) => entry.subscribed).map((entry) => normalPath(server, entry.path)).sort(),
  )
}

/** The folders as the server names them (prefix and separator included). */
async function rawNames(server: DovecotInstance, user: string): Promise<string[]> {
  return withClient(server, user, async (client) => (await client.list()).map((entry) => entry.path).sort())
}

/** A snapshot with folders renamed (source name -> destination name); others dropped. */
function renamed(source: Snapshot, names: Record<string, string>): Snapshot {
  return Object.fromEntries(Object.entries(names).map(([from, to]) => [to, source[from]]).sort(([a], [b]) => (a < b ? -1 : 1)))
}

describe('folder mapping between two real servers', {concurrency: true}, () => {
  test("'INBOX.' + '.' -> '/' without prefix: namespace, UTF-7 names, special-use, Gmail, map, rename, exclude, subscriptions; then plan", async () => {
    const users = {source: freshUser('map-src'), dest: freshUser('map-dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    const names = [
      'INBOX',
      'Sent Items',
      'Deleted Items',
      'Spam',
      'Entwürfe',
      '日本語',
      'Año 2024',
      'R&D/Q3 & Q4',
      'Lists/fork',
      'Projects/2023',
      'Private',
      'Unsubscribed',
      '[Gmail]/All Mail',
      '[Gmail]/Important',
    ]
    await seed(courier, users.source, mailbox(names, 21))
    await withClient(courier, users.source, (client) => client.mailboxUnsubscribe(serverPath(courier, 'Unsubscribed')))
    const sourceBefore = await snapshot(courier, users.source)
    assert.ok((await rawNames(courier, users.source)).includes('INBOX.Sent Items'), 'the source really has the INBOX. prefix')

    const rules = ['--map', 'Projects/2023=Archive/2023', '--rename', 's#^Lists/#Mailing lists/#', '--exclude', '^Private$']
    const run = await mf('sync', courier, plain, users, state, ['--json', ...rules])
    assertExit(run)

    const mapped = {
      INBOX: 'INBOX',
      'Sent Items': 'Sent',
      'Deleted Items': 'Trash',
      Spam: 'Junk',
      'Entwürfe': 'Entwürfe',
      '日本語': '日本語',
      'Año 2024': 'Año 2024',
      'R&D/Q3 & Q4': 'R&D/Q3 & Q4',
      'Lists/fork': 'Mailing lists/fork',
      'Projects/2023': 'Archive/2023',
      Unsubscribed: 'Unsubscribed',
    }
    assert.deepEqual(await snapshot(plain, users.dest), renamed(sourceBefore, mapped), 'every message in its mapped folder, exactly')
    assert.deepEqual(await snapshot(courier, users.source), sourceBefore, 'the source is unchanged')
    assert.deepEqual(await folderTree(plain, users.dest), [
      'Archive',
      'Archive/2023',
      'Año 2024',
      'Entwürfe',
      'INBOX',
      'Junk',
      'Mailing lists',
      'Mailing lists/fork',
      'R&D',
      'R&D/Q3 & Q4',
      'Sent',
      'Trash',
      'Unsubscribed',
      '日本語',
    ])
    const subscribed = await subscriptions(plain, users.dest)
    assert.ok(!subscribed.includes('Unsubscribed'), 'a folder unsubscribed on the source stays unsubscribed')
    for (const folder of ['Entwürfe', '日本語', 'Año 2024', 'R&D/Q3 & Q4', 'Mailing lists/fork', 'Archive/2023']) {
      assert.ok(subscribed.includes(folder), `${folder} subscribed like on the source`)
    }
    assert.equal(run.json.foldersSubscribed, 6)

    // plan, afterwards: everything is copied per the state database.
    const planned = await mf('plan', courier, plain, users, state, ['--json', ...rules])
    assertExit(planned)
    const rows = Object.fromEntries(planned.json.folders.map((row: any) => [row.source, row]))
    assert.deepEqual(
      [rows['INBOX.Sent Items'].dest, rows['INBOX.Sent Items'].rule, rows['INBOX.Sent Items'].detail],
      ['Sent', 'special-use', '\\Sent (attribute on both sides)'],
    )
    assert.deepEqual([rows['INBOX.Spam'].dest, rows['INBOX.Spam'].detail], ['Junk', '\\Junk (source name "Spam", destination attribute)'])
    assert.deepEqual([rows['INBOX.Projects.2023'].dest, rows['INBOX.Projects.2023'].rule], ['Archive/2023', 'map'])
    assert.deepEqual([rows['INBOX.Lists.fork'].dest, rows['INBOX.Lists.fork'].rule], ['Mailing lists/fork', 'rename'])
    assert.deepEqual([rows['INBOX.Private'].dest, rows['INBOX.Private'].rule], [null, 'exclude'])
    assert.deepEqual([rows['INBOX.[Gmail].All Mail'].dest, rows['INBOX.[Gmail].All Mail'].rule], [null, 'gmail'])
    assert.deepEqual([rows['INBOX.[Gmail].Important'].dest, rows['INBOX.[Gmail].Important'].rule], [null, 'gmail'])
    const total = Object.keys(mapped).reduce((n, name) => n + sourceBefore[name].length, 0)
    assert.deepEqual(
      [planned.json.totals.messages, planned.json.totals.copied, planned.json.totals.toCopy, planned.json.stateFound],
      [total, total, 0, true],
    )
    assert.deepEqual(planned.json.sourceNamespace, {prefix: 'INBOX.', delimiter: '.'})
    assert.deepEqual(planned.json.destNamespace, {prefix: '', delimiter: '/'})
    // With one connection each folder is read on the session instead of a scan connection: the same plan.
    const onSession = await mf('plan', courier, plain, users, state, ['--json', '--connections', '1', ...rules])
    assertExit(onSession)
    assert.deepEqual(onSession.json.folders, planned.json.folders)
    assert.deepEqual(onSession.json.totals, planned.json.totals)

    const table = await mf('plan', courier, plain, users, state, rules)
    assertExit(table)
    const size = sourceBefore['Sent Items'].reduce((n, m) => n + m.size, 0)
    assert.match(table.stdout, new RegExp(`^INBOX\\.Sent Items +Sent +special-use +${sourceBefore['Sent Items'].length} +\\S+ KiB +${sourceBefore['Sent Items'].length} +0 +0 B$`, 'm'), `(${size} bytes)\n${table.stdout}`)
    assert.match(table.stdout, /^INBOX\.Private +- +exclude +- /m)
  })

  test("'/' without prefix -> 'INBOX.' + '.': special-use back, a '.' inside a name, include, subscribed-only", async () => {
    const users = {source: freshUser('rev-src'), dest: freshUser('rev-dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    await seed(plain, users.source, mailbox(['INBOX', 'Sent', 'Trash', 'Junk', 'Reports 1.5', 'Work/Deep/Er', 'Entwürfe', 'Old'], 22))
    await withClient(plain, users.source, (client) => client.mailboxUnsubscribe('Old'))
    const sourceBefore = await snapshot(plain, users.source)

    const run = await mf('sync', plain, courier, users, state, ['--json', '--include', '^(INBOX|Sent|Trash|Junk|Reports|Work|Old)', '--subscribed-only'])
    assertExit(run)
    assert.ok(
      run.json.warnings.some((w: string) => w.includes('"Reports 1.5" contains the destination separator "."; it becomes "Reports 1_5"')),
      run.json.warnings.join('\n'),
    )
    const mapped = {INBOX: 'INBOX', Sent: 'Sent Items', Trash: 'Deleted Items', Junk: 'Junk', 'Reports 1.5': 'Reports 1_5', 'Work/Deep/Er': 'Work/Deep/Er'}
    const dest = await snapshot(courier, users.dest)
    assert.deepEqual(renamed(dest, Object.fromEntries(Object.values(mapped).map((name) => [name, name]))), renamed(sourceBefore, mapped))
    assert.equal(dest.Sent, undefined, 'no second Sent folder next to "Sent Items"')
    const raw = await rawNames(courier, users.dest)
    for (const name of ['INBOX', 'INBOX.Sent Items', 'INBOX.Deleted Items', 'INBOX.Junk', 'INBOX.Reports 1_5', 'INBOX.Work.Deep.Er']) {
      assert.ok(raw.includes(name), `${name} in ${raw.join(', ')}`)
    }
    assert.ok(!raw.some((name) => /Entwürfe|Old|Reports 1\.5|Reports 1\.|INBOX\.Reports 1$/.test(name)), raw.join(', '))
  })

  test('--dry-run writes nothing and creates no state; plan; --folders-only; then the sync under --nest-under', async () => {
    const users = {source: freshUser('nest-src'), dest: freshUser('nest-dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    await seed(courier, users.source, mailbox(['INBOX', 'Sent Items', 'Work/A'], 23))
    const sourceBefore = await snapshot(courier, users.source)
    const nest = ['--nest-under', 'Migrated/carol']
    const treeBefore = await folderTree(plain, users.dest)
    const destBefore = await snapshot(plain, users.dest)

    const dry = await mf('sync', courier, plain, users, state, ['--dry-run', ...nest])
    assertExit(dry)
    assert.match(dry.stdout, /^Dry run: nothing is written/m)
    assert.match(dry.stdout, /^INBOX +Migrated\/carol\/INBOX \(new, subscribe\) +nest-under +1 /m)
    assert.deepEqual(await folderTree(plain, users.dest), treeBefore)
    assert.deepEqual(await snapshot(plain, users.dest), destBefore)
    assert.equal(existsSync(state), false, 'no state database')

    const planned = await mf('plan', courier, plain, users, state, ['--json', ...nest])
    assertExit(planned)
    assert.deepEqual(
      planned.json.folders.map((row: any) => [row.source, row.dest, row.rule, row.messages, row.copied, row.toCopy]),
      [
        ['INBOX', 'Migrated/carol/INBOX', 'nest-under', sourceBefore.INBOX.length, 0, sourceBefore.INBOX.length],
        // Every user of this server has it (special_use, auto = subscribe); nested, it keeps its name.
        ['INBOX.Deleted Items', 'Migrated/carol/Deleted Items', 'nest-under', 0, 0, 0],
        ['INBOX.Sent Items', 'Migrated/carol/Sent Items', 'nest-under', sourceBefore['Sent Items'].length, 0, sourceBefore['Sent Items'].length],
        ['INBOX.Work', null, 'noselect', null, null, null],
        ['INBOX.Work.A', 'Migrated/carol/Work/A', 'nest-under', sourceBefore['Work/A'].length, 0, sourceBefore['Work/A'].length],
      ],
    )
    assert.equal(planned.json.stateFound, false)
    assert.equal(existsSync(state), false, 'plan creates no state database either')

    const folders = await mf('sync', courier, plain, users, state, ['--json', '--folders-only', ...nest])
    assertExit(folders)
    const tree = await folderTree(plain, users.dest)
    for (const name of ['Migrated/carol/INBOX', 'Migrated/carol/Sent Items', 'Migrated/carol/Deleted Items', 'Migrated/carol/Work/A']) {
      assert.ok(tree.includes(name), tree.join(', '))
    }
    const afterFolders = await snapshot(plain, users.dest)
    assert.equal(Object.values(afterFolders).flat().length, 0, 'no message copied')
    assert.ok((await subscriptions(plain, users.dest)).includes('Migrated/carol/Work/A'))

    assertExit(await mf('sync', courier, plain, users, state, ['--json', ...nest]))
    const dest = await snapshot(plain, users.dest)
    assert.deepEqual(
      renamed(dest, {'Migrated/carol/INBOX': 'INBOX', 'Migrated/carol/Sent Items': 'Sent Items', 'Migrated/carol/Deleted Items': 'Deleted Items', 'Migrated/carol/Work/A': 'Work/A'}),
      renamed(sourceBefore, {INBOX: 'INBOX', 'Sent Items': 'Sent Items', 'Deleted Items': 'Deleted Items', 'Work/A': 'Work/A'}),
    )
    assert.deepEqual(dest.INBOX, [], "the destination's own INBOX is left alone")
  })

  test('conflicts stop the sync before anything is written, naming both folders and the rules', async () => {
    const users = {source: freshUser('clash-src'), dest: freshUser('clash-dst')}
    const state = join(tmp.dir, `${users.source}.sqlite`)
    await seed(courier, users.source, mailbox(['INBOX', 'Spam', 'Private', 'Work'], 24))
    const treeBefore = await folderTree(plain, users.dest)
    const run = await mf('sync', courier, plain, users, state, ['--map', 'Private=Junk', '--rename', 's/^Work$//'])
    assertExit(run, 2)
    assert.match(
      run.stderr,
      /source folders "INBOX\.Private" \(rule map: "Private=Junk"\) and "INBOX\.Spam" \(rule special-use: \\Junk \(source name "Spam", destination attribute\)\) both map to destination folder "Junk"/,
    )
    assert.match(run.stderr, /source folder "INBOX\.Work" would go to an invalid destination name "" \(rule rename: s\/\^Work\$\/\/\): empty name segment/)
    assert.match(run.stderr, /^Hint: nothing was written/m)
    assert.deepEqual(await folderTree(plain, users.dest), treeBefore)
    assert.equal(Object.values(await snapshot(plain, users.dest)).flat().length, 0)
  })
})
