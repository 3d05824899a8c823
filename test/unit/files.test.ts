/**
 * Atomic private writes (src/files.ts) and the directory fsyncs of the Maildir store. The syscalls
 * are checked with strace where it is installed and allowed: a rename is durable only once its
 * directory has been fsynced, which no file content can show.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {after, test} from 'node:test'
import {fileURLToPath} from 'node:url'

import {writePrivateFile, writePrivateFileSync} from '../../src/files.js'

const dir = mkdtempSync(join(tmpdir(), 'mf-files-'))
after(() => rmSync(dir, {recursive: true, force: true}))

test('writes replace the file whole, mode 0600 even over a looser file, and leave no temp file', async () => {
  const path = join(dir, 'batch.json')
  writeFileSync(path, 'old content that is longer')
  chmodSync(path, 0o644)
  writePrivateFileSync(path, '{"new": 1}\n')
  assert.equal(readFileSync(path, 'utf8'), '{"new": 1}\n')
  assert.equal(statSync(path).mode & 0o777, 0o600)
  await writePrivateFile(path, Buffer.from('again\n'))
  assert.equal(readFileSync(path, 'utf8'), 'again\n')
  assert.equal(statSync(path).mode & 0o777, 0o600)
  assert.deepEqual(readdirSync(dir), ['batch.json'])
})

test('a failed write leaves the old file and no temp file', async () => {
  const sub = join(dir, 'failing')
  mkdirSync(join(sub, 'target-is-a-dir'), {recursive: true})
  writeFileSync(join(sub, 'target-is-a-dir', 'x'), 'x')
  assert.throws(() => writePrivateFileSync(join(sub, 'target-is-a-dir'), 'data'))
  await assert.rejects(writePrivateFile(join(sub, 'target-is-a-dir'), 'data'))
  assert.deepEqual(readdirSync(sub), ['target-is-a-dir'])
  assert.throws(() => writePrivateFileSync(join(dir, 'no-such-dir', 'file'), 'data'), /ENOENT/)
})

const STRACE = spawnSync('strace', ['-qq', '-e', 'trace=none', 'true']).status === 0
const LIB = fileURLToPath(new URL('../../lib/', import.meta.url))

/** Runs a script under strace: renames, mkdirs and (data)syncs with the paths of their descriptors. */
function traced(script: string): string[] {
  const result = spawnSync('strace', ['-f', '-y', '-qq', '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2,mkdir,mkdirat', process.execPath, '--input-type=module', '-e', script], {
    encoding: 'utf8',
  })
  assert.equal(result.status, 0, result.stderr)
  return result.stderr
    .split('\n')
    .map((line) => line.replace(/^\[pid +\d+\] /, ''))
    .filter((line) => line.includes(dir))
}

const syncOf = (lines: string[], path: string, from: number) => lines.findIndex((line, i) => i > from && new RegExp(`^fsync\\(\\d+<${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}>\\)`).test(line))
const renames = (lines: string[]) =>
  lines.flatMap((line, i) => {
    const match = /^rename(?:at2?)?\(.*"([^"]+)", (?:\S+, )?"([^"]+)"/.exec(line)
    return match ? [{i, from: match[1], to: match[2]}] : []
  })

test('every rename is followed by an fsync of its directory; a message file before its uidlist line', {skip: !STRACE && 'strace is not available'}, () => {
  const root = join(dir, 'traced', 'md')
  const lines = traced(`
    import {writePrivateFileSync} from '${LIB}files.js'
    import {MaildirStore} from '${LIB}stores/maildir/maildir-store.js'
    writePrivateFileSync('${join(dir, 'token')}', 'x')
    const store = new MaildirStore({label: 'destination', root: '${root}', readOnly: false})
    await store.open()
    await store.createFolder('Work')
    const {uid} = await store.appendMessage('Work', Buffer.from('Subject: a\\r\\n\\r\\nb\\r\\n'), [], new Date())
    await store.setFlags('Work', [uid], ['\\\\Seen'], [])
    await store.close()`)
  const all = renames(lines)
  assert.ok(all.length >= 5, lines.join('\n'))
  for (const {i, to} of all) assert.ok(syncOf(lines, dirname(to), i) > i, `no fsync of ${dirname(to)} after ${lines[i]}\n${lines.join('\n')}`)
  // The message reaches cur/ durably before its uidlist line is written and synced.
  const delivered = all.find(({from, to}) => from.includes('/tmp/') && to.includes('/cur/'))!
  const uidlistSync = lines.findIndex((line, i) => i > delivered.i && /^fdatasync\(\d+<.*\/dovecot-uidlist>\)/.test(line))
  assert.ok(uidlistSync > syncOf(lines, dirname(delivered.to), delivered.i), lines.join('\n'))
  // A new folder: its directory and the root that holds it.
  const made = lines.findIndex((line) => line.startsWith(`mkdir("${root}/.Work/tmp"`))
  assert.ok(syncOf(lines, `${root}/.Work`, made) > made && syncOf(lines, root, made) > made, lines.join('\n'))
})

test('directories made for a state database or a batch state are durable: each new entry fsynced in its parent', {skip: !STRACE && 'strace is not available'}, () => {
  const base = join(dir, 'made')
  const lines = traced(`
    import {openStateDb} from '${LIB}state/db.js'
    import {writeBatchState} from '${LIB}batch/state.js'
    openStateDb('${join(base, 'a', 'b', 'state.sqlite')}').close()
    writeBatchState('${join(base, 'c', 'batch.json')}', {version: 1, accounts: {}})`)
  for (const made of [join(base, 'a'), join(base, 'a', 'b'), join(base, 'c')]) {
    const at = lines.findIndex((line) => line.startsWith(`mkdir("${made}"`))
    assert.ok(at >= 0, `no mkdir of ${made}\n${lines.join('\n')}`)
    assert.ok(syncOf(lines, dirname(made), at) > at, `no fsync of ${dirname(made)} after ${made} was made\n${lines.join('\n')}`)
  }
  assert.equal(statSync(join(base, 'a', 'b')).mode & 0o777, 0o700)
})
