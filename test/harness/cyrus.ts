/**
 * Starts throw-away Cyrus IMAP 3.x servers on 127.0.0.1 for integration tests.
 *
 * Debian's cyrus-imapd package conflicts with dovecot-imapd (installing it removes Dovecot's imap
 * binary), so Cyrus is never installed: scripts/prereqs.mjs fetches its packages (and the
 * libraries they need that are not installed) with `apt-get download` and unpacks them with
 * `dpkg -x` into a cache dir (CYRUS_ROOT), and they run from there with LD_LIBRARY_PATH. See
 * cyrusAvailable() for what is needed.
 *
 * Each instance has its own temp dir (imapd.conf, cyrus.conf, configdirectory, partition, sockets,
 * log), its own ports and its own `master` process, run in the foreground as our child, leading its
 * own process group (like test/harness/dovecot.ts). Users: any username logs in with the instance's
 * password (checked by a tiny saslauthd stand-in in this process) and gets its INBOX created at
 * the first login (autocreate_quota: no quota unless quotaKb says).
 */
import {execFile, spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {createServer, connect, type Server} from 'node:net'
import {tmpdir, userInfo} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {testCertificates} from './dovecot.js'
import {MAIL_USER, ensureMailUser, freePorts, groupName, logTail, reapStaleInstances, sleep, stopTracked, track, type Tracked} from './processes.js'

const run = promisify(execFile)

/** Where the unpacked packages live (usr/lib/cyrus/bin/master, usr/lib/x86_64-linux-gnu/libcyrus*.so...). */
export const CYRUS_ROOT = process.env.MAILFERRY_CYRUS_ROOT ?? '/var/cache/mailferry-test/cyrus'
const BIN_DIR = join(CYRUS_ROOT, 'usr/lib/cyrus/bin')
const MASTER_BIN = join(BIN_DIR, 'master')
const IMAPD_BIN = join(BIN_DIR, 'imapd')
/** The SASL plugin that does AUTHENTICATE PLAIN / LOGIN (package libsasl2-modules, a Dovecot dependency's neighbour). */
const SASL_PLAIN_PLUGIN = '/usr/lib/x86_64-linux-gnu/sasl2/libplain.so.2'
/** Temp dir prefix; also how stale instances of crashed test processes are recognised. */
const DIR_PREFIX = 'mfcy-'
const READY_TIMEOUT_MS = 10_000
/** Cyrus greets within ~0.1 s; a master that cannot bind its port keeps running without the service. */
const GREETING_TIMEOUT_MS = 4_000
const STOP_TIMEOUT_MS = 10_000
const START_ATTEMPTS = 4

export interface CyrusOptions {
  /**
   * Hierarchy separator: '.' (unixhierarchysep: no, the classic Cyrus style) or '/'
   * (unixhierarchysep: yes, where folder names may contain dots). Default '.'.
   */
  separator?: '.' | '/'
  /**
   * Personal folders under `INBOX.` (altnamespace: no, the classic style, the default) or at the
   * top level next to INBOX (altnamespace: yes). The prefix needs separator '.'.
   */
  inboxPrefix?: boolean
  /** Shows up in the temp dir name and syslog_prefix, to tell instances apart in `ps`. */
  name?: string
  /** Raw imapd.conf lines appended at the end. */
  extraConfig?: string
  /** Each user's storage quota in KiB, set when its INBOX is created at the first login (default: none). */
  quotaKb?: number
}

export interface CyrusInstance {
  host: '127.0.0.1'
  /** Plain IMAP; STARTTLS is offered (same certificate as tlsPort). */
  port: number
  /** Implicit TLS (imaps), certificate from testCertificates() (SAN IP:127.0.0.1, DNS:localhost). */
  tlsPort: number
  /** Every username logs in with this password; a fresh user gets an empty INBOX at its first login. */
  password: string
  caFile: string
  separator: '.' | '/'
  /** True when personal folders have the prefix `INBOX.` (altnamespace: no). */
  inboxPrefix: boolean
  /** The instance's temp dir (removed by stop()). */
  dir: string
  imapdConf: string
  cyrusConf: string
  /** master's stdout/stderr (-L). Cyrus logs to syslog, which test machines often lack. */
  logFile: string
  /** Pid of the master process (leader of the instance's process group). */
  pid: number
  /** Logins the saslauthd stand-in answered (accepted or refused). */
  authChecks(): number
  /** Stops master and every child, waits for them to exit, removes `dir`. Idempotent. */
  stop(): Promise<void>
}

interface Running extends Tracked {
  /** The saslauthd stand-in, in this process. */
  auth: Server
}

// ---------------------------------------------------------------------------------------------
// Availability: the unpacked packages

let availablePromise: Promise<string | undefined> | undefined

/**
 * undefined when Cyrus can be started, else a one-line reason to skip. The packages are unpacked
 * into CYRUS_ROOT by scripts/prereqs.mjs (run by `npm test`), the one place that installs what the
 * tests need. Set MAILFERRY_CYRUS=0 to skip on purpose.
 */
export function cyrusAvailable(): Promise<string | undefined> {
  availablePromise ??= checkAvailable()
  return availablePromise
}

async function checkAvailable(): Promise<string | undefined> {
  if (process.env.MAILFERRY_CYRUS === '0') return 'MAILFERRY_CYRUS=0'
  if (process.platform !== 'linux') return 'the Cyrus harness needs Linux (Debian packages unpacked with dpkg -x)'
  if (!existsSync(MASTER_BIN) || !existsSync(IMAPD_BIN)) {
    return `Cyrus is not unpacked in ${CYRUS_ROOT} (run  node scripts/prereqs.mjs  as root, or set MAILFERRY_CYRUS_ROOT)`
  }
  if (!existsSync(SASL_PLAIN_PLUGIN)) return `no SASL PLAIN plugin (${SASL_PLAIN_PLUGIN}): run  node scripts/prereqs.mjs  as root (installs libsasl2-modules)`
  for (const binary of [MASTER_BIN, IMAPD_BIN]) {
    let stdout: string
    try {
      ;({stdout} = await run('ldd', [binary], {env: cyrusEnv()}))
    } catch (error) {
      return `ldd ${binary} failed: ${firstLine(error)}`
    }
    const missing = stdout.split('\n').filter((line) => line.includes('not found')).map((line) => line.trim().split(' ')[0])
    if (missing.length > 0) return `Cyrus in ${CYRUS_ROOT} lacks libraries: ${missing.join(', ')} (remove it and run  node scripts/prereqs.mjs  as root)`
  }
  return undefined
}

/** The environment master and its services run with: the unpacked libraries first. */
function cyrusEnv(): NodeJS.ProcessEnv {
  const libs = [join(CYRUS_ROOT, 'lib/x86_64-linux-gnu'), join(CYRUS_ROOT, 'usr/lib/x86_64-linux-gnu')]
  const path = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'
  const env: NodeJS.ProcessEnv = {PATH: path, LD_LIBRARY_PATH: [...libs, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'), LANG: 'C'}
  // Throw-away data: no fsync (optional; a cache unpacked without it still works, only slower).
  const eatmydata = join(CYRUS_ROOT, 'usr/lib/x86_64-linux-gnu/libeatmydata.so.1')
  if (existsSync(eatmydata)) env.LD_PRELOAD = eatmydata
  return env
}

const firstLine = (error: unknown) => String((error as Error)?.message ?? error).split('\n')[0]

// ---------------------------------------------------------------------------------------------
// Starting

export async function startCyrus(options: CyrusOptions = {}): Promise<CyrusInstance> {
  const separator = options.separator ?? '.'
  const inboxPrefix = options.inboxPrefix ?? separator === '.'
  if (inboxPrefix && separator !== '.') throw new Error('inboxPrefix needs separator "."')
  const reason = await cyrusAvailable()
  if (reason) throw new Error(`Cyrus is not available: ${reason}`)
  reapStaleInstances(DIR_PREFIX)
  const [certs, owner] = await Promise.all([testCertificates(), mailOwner()])
  let lastError: unknown
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      return await startOnce(options, separator, inboxPrefix, certs, owner)
    } catch (error) {
      if (!(error instanceof PortInUseError)) throw error
      lastError = error
    }
  }
  throw new Error(`Cyrus found its ports taken ${START_ATTEMPTS} times: ${(lastError as Error).message}`)
}

class PortInUseError extends Error {}

interface Owner {
  uid: number
  gid: number
  user: string
  group: string
}

async function startOnce(options: CyrusOptions, separator: '.' | '/', inboxPrefix: boolean, certs: {caFile: string; certFile: string; keyFile: string}, owner: Owner): Promise<CyrusInstance> {
  const label = (options.name ?? 'x').replace(/[^A-Za-z0-9_-]/g, '').slice(0, 16) || 'x'
  const dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid}-${label}-`))
  chmodSync(dir, 0o711)
  const sub = (name: string) => join(dir, name)
  // Everything Cyrus writes belongs to the cyrus user; run/ holds our saslauthd socket and master.pid.
  for (const name of ['conf', 'conf/proc', 'conf/lock', 'conf/socket', 'conf/sieve', 'spool', 'tls']) mkdirSync(sub(name), {recursive: true})
  mkdirSync(sub('run'), {mode: 0o755})
  chmodSync(sub('run'), 0o755)
  // Cyrus reads the key as the cyrus user: private copies (the shared cert dir is root-only).
  copyFileSync(certs.certFile, sub('tls/server.pem'))
  copyFileSync(certs.keyFile, sub('tls/server.key'))
  for (const name of ['run', 'conf', 'conf/proc', 'conf/lock', 'conf/socket', 'conf/sieve', 'spool', 'tls', 'tls/server.pem', 'tls/server.key']) {
    chownSync(sub(name), owner.uid, owner.gid)
  }

  const password = randomBytes(9).toString('base64url')
  let checks = 0
  const auth = await saslauthdStandIn(sub('run/mux'), (user, pass) => {
    checks++
    return user.length > 0 && pass === password
  })

  const [port, tlsPort] = await freePorts(2)
  const imapdConf = sub('imapd.conf')
  const cyrusConf = sub('cyrus.conf')
  const logFile = sub('master.log')
  writeFileSync(imapdConf, imapdConfig({dir, separator, inboxPrefix, owner, label, options}))
  writeFileSync(cyrusConf, cyrusConfig({imapdConf, port, tlsPort}))

  const child = spawn(MASTER_BIN, ['-C', imapdConf, '-M', cyrusConf, '-p', sub('run/master.pid'), '-L', logFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
    env: cyrusEnv(),
    cwd: dir,
  })
  child.unref()
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  ;(child.stderr as unknown as {unref?: () => void}).unref?.()
  const entry: Running = {child, dir, auth}
  track(entry)

  try {
    const started = Date.now()
    const deadline = started + READY_TIMEOUT_MS
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`master exited (${child.exitCode ?? child.signalCode}) before greeting: ${stderr.trim()}`)
      }
      const greeting = await greeting_(port)
      if (greeting !== undefined) {
        // Something else answers on our port (taken between probe and bind).
        if (!greeting.includes('Cyrus')) throw new PortInUseError(`127.0.0.1:${port} answers "${greeting}"`)
        break
      }
      if (Date.now() - started > GREETING_TIMEOUT_MS && !(await listening(port))) {
        throw new PortInUseError(`nothing listens on 127.0.0.1:${port} after ${GREETING_TIMEOUT_MS} ms`)
      }
      if (Date.now() > deadline) throw new Error(`no "* OK" greeting within ${READY_TIMEOUT_MS} ms`)
      await sleep(10)
    }
  } catch (error) {
    const detail = `${(error as Error).message}\n${logTail(logFile)}`
    await stopEntry(entry)
    if (error instanceof PortInUseError) throw new PortInUseError(detail)
    throw new Error(`Cyrus did not start on 127.0.0.1:${port}: ${detail}`)
  }

  return {
    host: '127.0.0.1',
    port,
    tlsPort,
    password,
    caFile: certs.caFile,
    separator,
    inboxPrefix,
    dir,
    imapdConf,
    cyrusConf,
    logFile,
    pid: child.pid!,
    authChecks: () => checks,
    stop: () => stopEntry(entry),
  }
}

interface ImapdConfigInput {
  dir: string
  separator: '.' | '/'
  inboxPrefix: boolean
  owner: Owner
  label: string
  options: CyrusOptions
}

function imapdConfig(c: ImapdConfigInput): string {
  const sub = (name: string) => join(c.dir, name)
  return `# Generated by test/harness/cyrus.ts
configdirectory: ${sub('conf')}
partition-default: ${sub('spool')}
sievedir: ${sub('conf/sieve')}
proc_path: ${sub('conf/proc')}
mboxname_lockpath: ${sub('conf/lock')}
idlesocket: ${sub('conf/socket/idle')}
lmtpsocket: ${sub('conf/socket/lmtp')}
notifysocket: ${sub('conf/socket/notify')}
cyrus_user: ${c.owner.user}
cyrus_group: ${c.owner.group}
servername: localhost
syslog_prefix: mfcy-${c.label}
# Any username, one password (checked by the harness's saslauthd stand-in).
sasl_pwcheck_method: saslauthd
sasl_saslauthd_path: ${sub('run/mux')}
sasl_mech_list: PLAIN LOGIN
allowplaintext: yes
# A user's INBOX is created at its first login, with this storage quota in KiB (0: none).
autocreate_quota: ${c.options.quotaKb ?? 0}
unixhierarchysep: ${c.separator === '/' ? 'yes' : 'no'}
altnamespace: ${c.inboxPrefix ? 'no' : 'yes'}
tls_server_cert: ${sub('tls/server.pem')}
tls_server_key: ${sub('tls/server.key')}
${c.options.extraConfig ?? ''}
`
}

function cyrusConfig(c: {imapdConf: string; port: number; tlsPort: number}): string {
  const bin = (name: string, args = '') => `"${join(BIN_DIR, name)} -C ${c.imapdConf}${args}"`
  // prefork=0: nothing runs before the first connection (fast start); imapd processes are reused.
  return `# Generated by test/harness/cyrus.ts
START {
  recover cmd=${bin('ctl_cyrusdb', ' -r')}
}
SERVICES {
  imap cmd=${bin('imapd')} listen="127.0.0.1:${c.port}" prefork=0
  imaps cmd=${bin('imapd', ' -s')} listen="127.0.0.1:${c.tlsPort}" prefork=0
}
EVENTS {
}
DAEMON {
}
`
}

/**
 * Answers Cyrus SASL's saslauthd protocol on a unix socket: the request is four counted strings
 * (2-byte big-endian length, then bytes: user, password, service, realm), the answer one counted
 * string starting "OK" or "NO". One request per connection.
 */
async function saslauthdStandIn(path: string, check: (user: string, password: string) => boolean): Promise<Server> {
  const server = createServer((socket) => {
    let data = Buffer.alloc(0)
    socket.on('error', () => socket.destroy())
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk])
      const fields: string[] = []
      let offset = 0
      while (fields.length < 4 && offset + 2 <= data.length) {
        const length = data.readUInt16BE(offset)
        if (offset + 2 + length > data.length) break
        fields.push(data.subarray(offset + 2, offset + 2 + length).toString('utf8'))
        offset += 2 + length
      }
      if (fields.length < 4) return
      const answer = Buffer.from(check(fields[0], fields[1]) ? 'OK' : 'NO wrong password')
      const length = Buffer.alloc(2)
      length.writeUInt16BE(answer.length)
      socket.end(Buffer.concat([length, answer]))
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => resolve())
  })
  // imapd runs as the cyrus user.
  chmodSync(path, 0o777)
  server.unref()
  return server
}

// ---------------------------------------------------------------------------------------------
// Users

let ownerPromise: Promise<Owner> | undefined

/** As root: the system user mailferry-test (created when missing). Else the current user. */
function mailOwner(): Promise<Owner> {
  ownerPromise ??= resolveOwner()
  return ownerPromise
}

async function resolveOwner(): Promise<Owner> {
  const me = userInfo()
  if (me.uid !== 0) return {uid: me.uid, gid: me.gid, user: me.username, group: await groupName()}
  const user = await ensureMailUser()
  return {uid: user.uid, gid: user.gid, user: MAIL_USER, group: await groupName(MAIL_USER)}
}

// ---------------------------------------------------------------------------------------------
// Ports, readiness

/** The first line the port sends, or undefined if it refuses or says nothing. */
function greeting_(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({host: '127.0.0.1', port})
    let data = ''
    const done = (line: string | undefined) => {
      socket.destroy()
      resolve(line)
    }
    socket.setTimeout(2000, () => done(undefined))
    socket.on('error', () => done(undefined))
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1')
      const end = data.indexOf('\r\n')
      if (end >= 0) done(data.slice(0, end))
    })
    socket.on('end', () => done(undefined))
  })
}

/** True if something accepts TCP connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({host: '127.0.0.1', port})
    socket.on('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.on('error', () => resolve(false))
  })
}

// ---------------------------------------------------------------------------------------------
// Stopping and cleanup

async function stopEntry(entry: Running): Promise<void> {
  await stopTracked(entry, STOP_TIMEOUT_MS, () => new Promise((resolve) => entry.auth.close(() => resolve())))
}

