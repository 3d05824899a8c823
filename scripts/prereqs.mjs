#!/usr/bin/env node
// What the test servers (test/harness) need from the system, checked before `npm test`, `npm run demo`,
// `npm run bench` and by .ci/run: the one place that knows how to install it.
//
//   node scripts/prereqs.mjs [--dovecot-only]
//
// Missing packages are installed with apt-get when we are root on Debian/Ubuntu; the Cyrus test server
// is unpacked from Debian's packages into a cache, never installed (cyrus-imapd conflicts with
// dovecot-imapd). Otherwise: one line naming the packages and the command, exit 1. Silent when all is there.
//
// Environment: MAILFERRY_CYRUS=0 skips the Cyrus needs; MAILFERRY_CYRUS_ROOT is the Cyrus cache (as in
// test/harness/cyrus.ts); MAILFERRY_DOVECOT the dovecot binary (as in test/harness/dovecot.ts);
// MAILFERRY_PREREQ_ROOT is prefixed to every file checked (test/unit/prereqs.test.ts uses a fake machine).
import {spawnSync} from 'node:child_process'
import {accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, chmodSync} from 'node:fs'
import {dirname, join} from 'node:path'

const ROOT = process.env.MAILFERRY_PREREQ_ROOT ?? ''
const at = (path) => (ROOT ? join(ROOT, path) : path)
const LIB_DIR = 'usr/lib/x86_64-linux-gnu'

const dovecotOnly = process.argv.includes('--dovecot-only')
const withCyrus = !dovecotOnly && process.env.MAILFERRY_CYRUS !== '0'
const isRoot = process.getuid?.() === 0
const CYRUS_ROOT = process.env.MAILFERRY_CYRUS_ROOT ?? at('/var/cache/mailferry-test/cyrus')
const CYRUS_BIN = join(CYRUS_ROOT, 'usr/lib/cyrus/bin')
/** What cyrus.ts starts: master, which runs ctl_cyrusdb at start and imapd per connection. */
const CYRUS_BINARIES = ['master', 'imapd', 'ctl_cyrusdb'].map((name) => join(CYRUS_BIN, name))
/** Unpacked with the libraries they need that are not installed; libeatmydata makes fsync() a no-op there. */
const CYRUS_PACKAGES = ['cyrus-common', 'cyrus-imapd', 'libeatmydata1']

/** Files the harness runs or loads, and the Debian package that has each. */
function requirements() {
  const list = [
    {file: process.env.MAILFERRY_DOVECOT ?? at('/usr/sbin/dovecot'), pkg: 'dovecot-imapd'},
    {file: at('/usr/lib/dovecot/imap'), pkg: 'dovecot-imapd'},
    {file: at('/usr/bin/doveadm'), pkg: 'dovecot-imapd'},
    // The harness makes a CA and server certificate per test process.
    {file: command('openssl'), pkg: 'openssl'},
  ]
  // As root the mail belongs to a system user the harness creates (the servers refuse to store mail as root).
  if (isRoot) list.push({file: command('useradd'), pkg: 'passwd'})
  // Cyrus logs users in through SASL's PLAIN plugin, from the system's libsasl2.
  if (withCyrus) list.push({file: at(`/${LIB_DIR}/sasl2/libplain.so.2`), pkg: 'libsasl2-modules'})
  return list
}

/** Where `name` would be found (prefixed with ROOT), or its expected path when it is nowhere. */
function command(name) {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']
  for (const dir of dirs.filter(Boolean)) if (existsSync(at(join(dir, name)))) return at(join(dir, name))
  return at(`/usr/bin/${name}`)
}

// What we do is said in one line: begun before the slow part, finished after it.
let lineOpen = false
function begin(message) {
  process.stderr.write(`mailferry prerequisites: ${message}... `)
  lineOpen = true
}
function done(message) {
  process.stderr.write(`${message}\n`)
  lineOpen = false
}

/** Thrown by fail(): the main code prints it as one line, after the `finally` blocks cleaned up. */
class Failure extends Error {}

function fail(message) {
  throw new Failure(message)
}

/** Runs a command; {ok, out} with stdout and stderr together, never throws. */
function sh(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, {encoding: 'utf8', ...options, env: {...process.env, LANG: 'C', ...options.env}})
  const out = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? result.error.message : ''}`
  return {ok: result.status === 0, out}
}

/** The last line that explains a failure (apt's "E: ..." if there is one). */
function reason(out) {
  const lines = out.trim().split('\n').map((line) => line.trim()).filter(Boolean)
  return lines.filter((line) => /^E: /.test(line)).pop() ?? lines.pop() ?? 'no output'
}

const onPath = (name) => (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, name)))
const isDebian = () => existsSync(at('/etc/debian_version')) && onPath('apt-get') && onPath('dpkg')

let aptUpdated = false
function aptUpdate() {
  if (aptUpdated) return
  aptUpdated = true
  const update = sh('apt-get', ['update', '-qq'])
  if (!update.ok) fail(`apt-get update failed: ${reason(update.out)}`)
}

// ---------------------------------------------------------------------------------------------
// Packages

function missingPackages() {
  const missing = requirements().filter((r) => !existsSync(r.file))
  return {packages: [...new Set(missing.map((r) => r.pkg))], files: missing.map((r) => r.file)}
}

function ensurePackages() {
  const {packages, files} = missingPackages()
  if (packages.length === 0) return
  const install = `apt-get install --no-install-recommends ${packages.join(' ')}`
  if (!isRoot || !isDebian()) {
    const how = !isDebian()
      ? `install them with your package manager (Debian/Ubuntu: ${install})`
      : `run  sudo node scripts/prereqs.mjs  (it runs ${install}${withCyrus ? ' and unpacks the Cyrus test server' : ''})`
    fail(`the test servers need ${packages.join(', ')} (missing ${files.join(', ')}): ${how}`)
  }
  begin(`installing ${packages.join(' ')} for the test servers (${install})`)
  aptUpdate()
  const result = sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], {env: {DEBIAN_FRONTEND: 'noninteractive'}})
  if (!result.ok) fail(`${install} failed: ${reason(result.out)}`)
  const still = missingPackages()
  if (still.files.length > 0) fail(`${install} succeeded but ${still.files.join(', ')} is still missing`)
  done(packages.includes('dovecot-imapd') ? stopSystemDovecot() : 'done')
}

/**
 * The package starts a system-wide Dovecot (ports 143/993, /etc/dovecot) that the tests never use
 * (they run their own instances): stop it and keep it from starting at boot.
 */
function stopSystemDovecot() {
  if (existsSync(at('/run/systemd/system'))) {
    sh('systemctl', ['disable', '--now', 'dovecot.service', 'dovecot.socket'])
  } else {
    sh('update-rc.d', ['dovecot', 'disable'])
  }
  const pidFile = at('/run/dovecot/master.pid')
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0
  if (pid && isDovecot(pid)) {
    try {
      process.kill(pid, 'SIGTERM')
    } catch {
      // gone meanwhile
    }
    const deadline = Date.now() + 5000
    while (isDovecot(pid) && Date.now() < deadline) sleep(20)
  }
  return 'done; stopped and disabled the system Dovecot it started (the tests run their own)'
}

function isDovecot(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z' && readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('dovecot')
  } catch {
    return false
  }
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

// ---------------------------------------------------------------------------------------------
// Cyrus: Debian's packages unpacked into CYRUS_ROOT (run from there by test/harness/cyrus.ts)

function ensureCyrus() {
  if (!CYRUS_BINARIES.every((file) => existsSync(file))) {
    const skip = 'or set MAILFERRY_CYRUS=0 to skip the Cyrus tests'
    if (!isDebian()) fail(`the Cyrus test server is unpacked from Debian's packages with apt-get and dpkg, which this machine lacks: ${skip}`)
    if (!writable(dirname(CYRUS_ROOT))) {
      fail(`the Cyrus test server is not unpacked in ${CYRUS_ROOT}: run  sudo node scripts/prereqs.mjs  once (it unpacks Debian's cyrus-imapd there without installing it), ${skip}`)
    }
    unpackCyrus()
  }
  const missing = new Set()
  for (const binary of CYRUS_BINARIES) {
    const ldd = sh('ldd', [binary], {env: cyrusLibraryPath()})
    if (!ldd.ok) fail(`ldd ${binary} failed: ${reason(ldd.out)}`)
    for (const line of ldd.out.split('\n')) if (line.includes('not found')) missing.add(line.trim().split(' ')[0])
  }
  if (missing.size > 0) {
    fail(`the Cyrus test server in ${CYRUS_ROOT} lacks libraries ${[...missing].join(', ')}: remove that dir and run  node scripts/prereqs.mjs  as root again`)
  }
}

function cyrusLibraryPath() {
  const dirs = [join(CYRUS_ROOT, 'lib/x86_64-linux-gnu'), join(CYRUS_ROOT, LIB_DIR), process.env.LD_LIBRARY_PATH]
  return {LD_LIBRARY_PATH: dirs.filter(Boolean).join(':')}
}

/** True when `dir` can be created or written by us. */
function writable(dir) {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(d)) {
      try {
        accessSync(d, constants.W_OK)
        return true
      } catch {
        return false
      }
    }
    if (d === dirname(d)) return false
  }
}

/**
 * Downloads the Cyrus packages and every library package they need (directly or through other
 * libraries) that is not installed, unpacks them with dpkg -x into a temp dir next to CYRUS_ROOT and
 * renames it into place, so a parallel run never sees half of it.
 */
function unpackCyrus() {
  begin(`unpacking Debian's Cyrus packages into ${CYRUS_ROOT} for the Cyrus tests (not installed: cyrus-imapd conflicts with dovecot-imapd)`)
  const wanted = [...CYRUS_PACKAGES, ...missingLibraries(CYRUS_PACKAGES)]
  const cache = dirname(CYRUS_ROOT)
  mkdirSync(cache, {recursive: true})
  const debs = mkdtempSync(join(cache, 'debs-'))
  const staging = mkdtempSync(join(cache, 'unpack-'))
  try {
    // As root apt-get downloads as the _apt user, which cannot write into a 0700 dir.
    chmodSync(debs, 0o777)
    let download = sh('apt-get', ['download', '-qq', ...wanted], {cwd: debs})
    if (!download.ok && !aptUpdated) {
      aptUpdate()
      download = sh('apt-get', ['download', '-qq', ...wanted], {cwd: debs})
    }
    if (!download.ok) fail(`apt-get download ${wanted.join(' ')} failed: ${reason(download.out)}`)
    for (const file of readdirSync(debs).filter((name) => name.endsWith('.deb'))) {
      const unpack = sh('dpkg', ['-x', join(debs, file), staging])
      if (!unpack.ok) fail(`dpkg -x ${file} failed: ${reason(unpack.out)}`)
    }
    if (!existsSync(join(staging, 'usr/lib/cyrus/bin/master'))) fail(`apt-get download ${wanted.join(' ')} brought no Cyrus master binary`)
    chmodSync(staging, 0o755)
    try {
      renameSync(staging, CYRUS_ROOT)
    } catch (error) {
      // Another run got there first: use theirs.
      if (!existsSync(join(CYRUS_BIN, 'master'))) fail(`could not move the unpacked Cyrus to ${CYRUS_ROOT}: ${error.message}`)
    }
  } finally {
    rmSync(debs, {recursive: true, force: true})
    rmSync(staging, {recursive: true, force: true})
  }
  done('done')
}

/** lib* packages `roots` depend on, through other lib* packages, that are not installed. */
function missingLibraries(roots) {
  const flags = ['--recurse', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances']
  let depends = sh('apt-cache', ['depends', ...flags, ...roots])
  if (!depends.ok && !aptUpdated) {
    aptUpdate()
    depends = sh('apt-cache', ['depends', ...flags, ...roots])
  }
  if (!depends.ok) fail(`apt-cache depends ${roots.join(' ')} failed: ${reason(depends.out)}`)
  // Output: a package name at column 0, then "  Depends: name" lines ("<name>" is virtual).
  const graph = new Map()
  let current
  for (const line of depends.out.split('\n')) {
    if (/^\S/.test(line)) graph.set((current = line.trim()), (graph.get(line.trim()) ?? []))
    const dep = /^ {2}\|?(?:Pre)?Depends: ([^<\s]\S*)$/.exec(line)
    if (dep && current) graph.get(current).push(dep[1].replace(/:any$/, ''))
  }
  const candidates = new Set()
  const queue = [...roots]
  while (queue.length > 0) {
    for (const dep of graph.get(queue.shift()) ?? []) {
      if (!dep.startsWith('lib') || candidates.has(dep)) continue
      candidates.add(dep)
      queue.push(dep)
    }
  }
  const list = [...candidates].filter((name) => !roots.includes(name))
  if (list.length === 0) return []
  // dpkg-query prints a status for the known ones; exits 1 when some are unknown, which is fine.
  const status = sh('dpkg-query', ['-W', '-f', '${Package} ${Status}\n', ...list])
  const installed = new Set(status.out.split('\n').filter((line) => line.endsWith(' installed')).map((line) => line.split(' ')[0].split(':')[0]))
  return list.filter((name) => !installed.has(name))
}

// ---------------------------------------------------------------------------------------------

try {
  ensurePackages()
  if (withCyrus) ensureCyrus()
} catch (error) {
  if (lineOpen) process.stderr.write('failed\n')
  const message = error instanceof Failure ? error.message : `unexpected error: ${error?.message ?? error}`
  process.stderr.write(`mailferry prerequisites: ${message}\n`)
  process.exitCode = 1
}
