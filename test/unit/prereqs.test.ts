/**
 * scripts/prereqs.mjs on fake machines: MAILFERRY_PREREQ_ROOT is a temp dir standing for `/`, and
 * apt-get, dpkg, update-rc.d are scripts that log their arguments (and "install" into the fake root).
 * The real apt-get is never run. As root, the not-root cases run the script as `nobody`.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {after, describe, test} from 'node:test'
import {fileURLToPath} from 'node:url'

const isRoot = process.getuid!() === 0
const NOBODY = 65534

const work = mkdtempSync(join(tmpdir(), 'mailferry-prereqs-test-'))
// `nobody` must reach the fake machines (and is kept from writing to them, as on a real one).
chmodSync(work, 0o755)
after(() => rmSync(work, {recursive: true, force: true}))
// A copy `nobody` can read: the checkout may be in root's 0700 home (it has no imports of its own).
const SCRIPT = join(work, 'prereqs.mjs')
copyFileSync(fileURLToPath(new URL('../../scripts/prereqs.mjs', import.meta.url)), SCRIPT)
chmodSync(SCRIPT, 0o644)

const DOVECOT_FILES = ['usr/sbin/dovecot', 'usr/lib/dovecot/imap', 'usr/bin/doveadm']
const SASL_PLUGIN = 'usr/lib/x86_64-linux-gnu/sasl2/libplain.so.2'
const BASE_FILES = ['usr/bin/openssl', 'usr/sbin/useradd']

let machines = 0

interface Machine {
  root: string
  bin: string
  /** One line per command run: "apt-get install -y ...". */
  calls(): string[]
}

/** A fake `/` with `files` (empty files), Debian when `debian`, and logging stand-ins for the package tools. */
function machine(files: string[], {debian = true, installs = DOVECOT_FILES, aptFails = ''} = {}): Machine {
  const base = join(work, `m${++machines}`)
  const root = join(base, 'root')
  const bin = join(base, 'bin')
  mkdirSync(join(root, 'var/cache'), {recursive: true})
  mkdirSync(bin)
  for (const file of files) touch(join(root, file))
  if (debian) writeFileSync(join(root, 'etc/debian_version'), '12.0\n', {flag: 'w', ...mkdirFor(join(root, 'etc/debian_version'))})
  const log = join(base, 'calls.log')
  writeFileSync(log, '')
  chmodSync(log, 0o666)
  // `install` creates the package's files and, like the package's postinst, starts a "system Dovecot".
  const aptGet = `#!/bin/bash
echo "apt-get $*" >> ${log}
if [ "$1" = install ]; then
  ${aptFails ? `echo "E: ${aptFails}" >&2; exit 100` : ''}
  for f in ${installs.join(' ')}; do mkdir -p "$(dirname ${root}/$f)"; : > ${root}/$f; done
  mkdir -p ${root}/run/dovecot
  (exec -a /usr/sbin/dovecot sleep 60) >/dev/null 2>&1 &
  echo $! > ${root}/run/dovecot/master.pid
fi
exit 0
`
  for (const [name, body] of Object.entries({
    'apt-get': aptGet,
    dpkg: `#!/bin/sh\necho "dpkg $*" >> ${log}\n`,
    'update-rc.d': `#!/bin/sh\necho "update-rc.d $*" >> ${log}\n`,
    systemctl: `#!/bin/sh\necho "systemctl $*" >> ${log}\n`,
  })) {
    writeFileSync(join(bin, name), body, {mode: 0o755})
  }
  // What the script leaves alone must not be writable by `nobody`: a real /var/cache is root's.
  chmodSync(join(root, 'var/cache'), 0o755)
  return {root, bin, calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean)}
}

function mkdirFor(file: string) {
  mkdirSync(dirname(file), {recursive: true})
  return {}
}

function touch(file: string) {
  mkdirFor(file)
  writeFileSync(file, '')
}

/** A Cyrus cache whose binaries are real executables without missing libraries. */
function cyrusCache(m: Machine): string {
  const cache = join(m.root, 'var/cache/mailferry-test/cyrus')
  for (const name of ['master', 'imapd', 'ctl_cyrusdb']) {
    mkdirFor(join(cache, 'usr/lib/cyrus/bin', name))
    copyFileSync('/bin/true', join(cache, 'usr/lib/cyrus/bin', name))
  }
  return cache
}

interface Run {
  status: number | null
  stdout: string
  stderr: string
}

function prereqs(m: Machine, options: {asNobody?: boolean; args?: string[]; env?: Record<string, string>} = {}): Run {
  const result = spawnSync(process.execPath, [SCRIPT, ...(options.args ?? [])], {
    encoding: 'utf8',
    cwd: work,
    env: {PATH: `${m.bin}:/usr/bin:/bin`, MAILFERRY_PREREQ_ROOT: m.root, ...options.env},
    ...(options.asNobody && isRoot ? {uid: NOBODY, gid: NOBODY} : {}),
  })
  return {status: result.status, stdout: result.stdout, stderr: result.stderr}
}

const lines = (text: string) => text.split('\n').filter(Boolean)

describe('scripts/prereqs.mjs', () => {
  test('not root, Dovecot and the SASL plugin missing: one line naming the packages and the command, exit 1, nothing installed', () => {
    const m = machine([...BASE_FILES])
    const run = prereqs(m, {asNobody: true})
    assert.equal(run.status, 1)
    assert.equal(run.stdout, '')
    assert.equal(lines(run.stderr).length, 1, run.stderr)
    assert.match(run.stderr, /the test servers need dovecot-imapd, libsasl2-modules \(missing .*\/usr\/sbin\/dovecot/)
    assert.match(run.stderr, /sudo node scripts\/prereqs\.mjs .*apt-get install --no-install-recommends dovecot-imapd libsasl2-modules/)
    assert.doesNotMatch(run.stderr, /\n\s+at /)
    assert.deepEqual(m.calls(), [])
  })

  test('--dovecot-only (demo, bench) and MAILFERRY_CYRUS=0 ask for Dovecot only', () => {
    const m = machine([...BASE_FILES])
    for (const run of [prereqs(m, {asNobody: true, args: ['--dovecot-only']}), prereqs(m, {asNobody: true, env: {MAILFERRY_CYRUS: '0'}})]) {
      assert.equal(run.status, 1)
      assert.equal(lines(run.stderr).length, 1, run.stderr)
      assert.match(run.stderr, /need dovecot-imapd \(missing/)
      assert.doesNotMatch(run.stderr, /libsasl2-modules|Cyrus/)
    }
    assert.deepEqual(m.calls(), [])
  })

  test('not Debian: one line naming the packages, for the local package manager', () => {
    const m = machine([...BASE_FILES, SASL_PLUGIN], {debian: false})
    const run = prereqs(m)
    assert.equal(run.status, 1)
    assert.equal(lines(run.stderr).length, 1, run.stderr)
    assert.match(run.stderr, /need dovecot-imapd .*install them with your package manager \(Debian\/Ubuntu: apt-get install --no-install-recommends dovecot-imapd\)/)
    assert.deepEqual(m.calls(), [])
  })

  test('not root, packages there, Cyrus not unpacked: one line, how to unpack it or skip it', () => {
    const m = machine([...BASE_FILES, ...DOVECOT_FILES, SASL_PLUGIN])
    chmodSync(join(m.root, 'var/cache'), 0o555)
    const run = prereqs(m, {asNobody: true})
    chmodSync(join(m.root, 'var/cache'), 0o755)
    assert.equal(run.status, 1)
    assert.equal(lines(run.stderr).length, 1, run.stderr)
    assert.match(run.stderr, /Cyrus test server is not unpacked in .*: run {2}sudo node scripts\/prereqs\.mjs {2}once .*or set MAILFERRY_CYRUS=0/)
    assert.deepEqual(m.calls(), [])
  })

  test('everything there: silent, exit 0, nothing run', () => {
    const m = machine([...BASE_FILES, ...DOVECOT_FILES, SASL_PLUGIN])
    cyrusCache(m)
    const run = prereqs(m, {asNobody: true})
    assert.deepEqual(run, {status: 0, stdout: '', stderr: ''})
    assert.deepEqual(m.calls(), [])
  })

  const rootOnly = isRoot ? {} : {skip: 'installing is tried only as root'}

  test('root on Debian: apt-get update once, install without recommends, the system Dovecot stopped and disabled, one line', rootOnly, async () => {
    const m = machine([...BASE_FILES, SASL_PLUGIN])
    cyrusCache(m)
    const run = prereqs(m)
    assert.equal(run.status, 0, run.stderr)
    assert.equal(run.stdout, '')
    assert.deepEqual(lines(run.stderr), [
      'mailferry prerequisites: installing dovecot-imapd for the test servers (apt-get install --no-install-recommends dovecot-imapd)... ' +
        'done; stopped and disabled the system Dovecot it started (the tests run their own)',
    ])
    assert.deepEqual(m.calls(), ['apt-get update -qq', 'apt-get install -y -qq --no-install-recommends dovecot-imapd', 'update-rc.d dovecot disable'])
    const master = Number(readFileSync(join(m.root, 'run/dovecot/master.pid'), 'utf8'))
    assert.equal(alive(master), false, 'the system Dovecot is stopped')
    for (const file of DOVECOT_FILES) assert.ok(existsSync(join(m.root, file)))
  })

  test('root with systemd: systemctl disable --now', rootOnly, () => {
    const m = machine([...BASE_FILES, SASL_PLUGIN])
    mkdirSync(join(m.root, 'run/systemd/system'), {recursive: true})
    cyrusCache(m)
    const run = prereqs(m)
    assert.equal(run.status, 0, run.stderr)
    assert.ok(m.calls().includes('systemctl disable --now dovecot.service dovecot.socket'), m.calls().join('\n'))
  })

  test("root, apt-get fails: apt's error in one line, exit 1", rootOnly, () => {
    const m = machine([...BASE_FILES, SASL_PLUGIN], {aptFails: 'Unable to locate package dovecot-imapd'})
    cyrusCache(m)
    const run = prereqs(m)
    assert.equal(run.status, 1)
    assert.equal(lines(run.stderr).at(-1), 'mailferry prerequisites: apt-get install --no-install-recommends dovecot-imapd failed: E: Unable to locate package dovecot-imapd')
    assert.doesNotMatch(run.stderr, /\n\s+at /)
  })

  test('root, Cyrus not unpacked and the download brings nothing: one line with the reason, no half cache', rootOnly, () => {
    const m = machine([...BASE_FILES, ...DOVECOT_FILES, SASL_PLUGIN])
    // The fake apt-get downloads nothing (apt-cache and dpkg-query are the real, read-only ones).
    const run = prereqs(m)
    assert.equal(run.status, 1)
    assert.match(lines(run.stderr).at(-1)!, /^mailferry prerequisites: apt-get download cyrus-common cyrus-imapd libeatmydata1 .*brought no Cyrus/)
    assert.deepEqual(readdirSync(join(m.root, 'var/cache/mailferry-test')), [], 'no cache, no download or staging dir left')
  })
})

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}
