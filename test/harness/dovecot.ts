/**
 * Starts throw-away Dovecot IMAP servers on 127.0.0.1 for integration tests.
 *
 * Each instance has its own temp dir (config, base_dir, state_dir, log, mail homes), its own
 * ports and its own master process, which runs in the foreground (`dovecot -F`) as our child,
 * leading its own process group, so that stop() and the exit hooks can signal it and all its
 * children by pid. See test/harness/README.md.
 */
import {execFile, spawn, type ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, unlinkSync, writeFileSync} from 'node:fs'
import {connect} from 'node:net'
import {tmpdir, userInfo} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {
  MAIL_USER,
  ensureMailUser,
  freePorts,
  groupName,
  isAlive,
  logTail,
  lookupUser,
  processGroup,
  reapStaleInstances,
  removeAtExit,
  sleep,
  stopTracked,
  track,
  type Tracked,
} from './processes.js'

export {MAIL_USER, isAlive, processGroup}

const run = promisify(execFile)

export const DOVECOT_BIN = process.env.MAILFERRY_DOVECOT ?? '/usr/sbin/dovecot'
const DOVEADM_BIN = '/usr/bin/doveadm'
/** Temp dir prefix; also how stale instances of crashed test processes are recognised. */
const DIR_PREFIX = 'mfdc-'
const READY_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 10_000
const START_ATTEMPTS = 4

export interface DovecotOptions {
  /** Hierarchy separator: '.' = Maildir++ layout, '/' = maildir LAYOUT=fs (names may contain dots). */
  separator?: '.' | '/'
  /** Personal namespace prefix `INBOX.` (Courier/Cyrus style). Only with separator '.'. */
  inboxPrefix?: boolean
  /** Refuse APPENDs of messages bigger than this many bytes (quota plugin, quota_max_mail_size). */
  maxMailSize?: number
  /** Shows up in the instance_name and the temp dir name, to tell instances apart in `ps`. */
  name?: string
  /** Where the instance's directory (mail included) is made: os.tmpdir() unless given (the bench uses tmpfs). */
  baseDir?: string
  /** Raw dovecot.conf text appended at the end (e.g. to try a server setting in one test). */
  extraConfig?: string
  /**
   * Special-use folders every user has (created and subscribed at login, `auto = subscribe`), with
   * the RFC 6154 attribute the server reports in LIST: {'\\Sent': 'Sent Items', '\\Trash': 'Deleted Items'}.
   * Names are '/'-separated test paths, as in mailbox.ts. Attributes as Dovecot accepts them
   * (\\All \\Archive \\Drafts \\Flagged \\Junk \\Sent \\Trash \\Important).
   */
  specialUse?: Record<string, string>
  /**
   * OAuth2 login (XOAUTH2, OAUTHBEARER) checked by Dovecot's oauth2 passdb against this RFC 7662
   * introspection endpoint (POST token=...; answer {"active": true, "username": "..."}). Password
   * logins keep working as before.
   */
  oauth2IntrospectionUrl?: string
  /**
   * What of the introspected username must equal the login's (Dovecot's username_format, default %u).
   * '%d': the domain only, so one app-only token (client credentials) opens every mailbox of its tenant.
   */
  oauth2UsernameFormat?: string
  /**
   * A Dovecot master user: `someone*NAME` with this password (LOGIN), or SASL PLAIN with
   * authcid NAME and authzid someone, logs in to someone's mailbox.
   */
  masterUser?: {name: string; password: string}
}

export interface DovecotInstance {
  host: '127.0.0.1'
  /** Plain IMAP; STARTTLS is offered. */
  port: number
  /** Implicit TLS (imaps). */
  tlsPort: number
  /** Every username logs in with this password (static passdb); a fresh user has an empty mailbox. */
  password: string
  /** PEM file of the CA that signed the server certificate (SAN: IP 127.0.0.1, DNS localhost). */
  caFile: string
  separator: '.' | '/'
  /** True when the personal namespace has the prefix `INBOX.`. */
  inboxPrefix: boolean
  maxMailSize?: number
  /** The instance's temp dir (removed by stop()). */
  dir: string
  configFile: string
  logFile: string
  /** Pid of the Dovecot master process. */
  pid: number
  /** Number of logged-in IMAP sessions, from `doveadm who` (the instance's anvil). */
  connectionCount(): Promise<number>
  /**
   * Delivers a message into a user's folder with `doveadm save`, as a delivery agent would: no IMAP
   * connection, so not counted against mail_max_userip_connections.
   */
  deliver(user: string, folder: string, raw: Buffer): Promise<void>
  /** A folder's message count from `doveadm mailbox status` (no IMAP connection either). */
  messageCount(user: string, folder: string): Promise<number>
  /** Stops the master (which stops its children), waits for it to exit, removes `dir`. Idempotent. */
  stop(): Promise<void>
}

export async function startDovecot(options: DovecotOptions = {}): Promise<DovecotInstance> {
  const separator = options.separator ?? '.'
  if (options.inboxPrefix && separator !== '.') throw new Error('inboxPrefix needs separator "."')
  // `npm test` checks this first (scripts/prereqs.mjs); a single file run directly gets the same hint.
  if (!existsSync(DOVECOT_BIN)) throw new Error(`Dovecot is not installed (no ${DOVECOT_BIN}): run  node scripts/prereqs.mjs`)
  reapStaleInstances(DIR_PREFIX, options.baseDir)
  const [certs, owner] = await Promise.all([testCertificates(), mailOwner()])
  let lastError: unknown
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      return await startOnce(options, separator, certs, owner)
    } catch (error) {
      // Another process may grab one of our free ports between probe and bind: try new ports.
      if (!(error instanceof PortInUseError)) throw error
      lastError = error
    }
  }
  throw new Error(`Dovecot found its ports taken ${START_ATTEMPTS} times: ${(lastError as Error).message}`)
}

class PortInUseError extends Error {}

async function startOnce(options: DovecotOptions, separator: '.' | '/', certs: Certificates, owner: Owner): Promise<DovecotInstance> {
  const dir = makeInstanceDir(options.name, owner, options.baseDir)
  const [port, tlsPort] = await freePorts(2)
  const password = randomBytes(9).toString('base64url')
  const configFile = join(dir, 'dovecot.conf')
  const logFile = join(dir, 'dovecot.log')
  writeFileSync(configFile, dovecotConfig({dir, logFile, port, tlsPort, password, separator, certs, owner, options}))

  const child = spawn(DOVECOT_BIN, ['-F', '-c', configFile], {stdio: ['ignore', 'ignore', 'pipe'], detached: true})
  // Unref so a forgotten instance does not keep the test process alive (the exit hook kills it).
  child.unref()
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  ;(child.stderr as unknown as {unref?: () => void}).unref?.()
  const entry: Tracked = {child, dir}
  track(entry)

  try {
    const until = (what: string, ready: () => boolean | Promise<boolean>) => pollChild(child, what, ready, () => stderr)
    await until('the anvil-auth-penalty socket', () => existsSync(penaltySocket(dir)))
    disableAuthPenalty(dir)
    await until('a "* OK" greeting', () => greets(port))
  } catch (error) {
    // Read the log before stopEntry() removes it.
    const detail = `${(error as Error).message}\n${logTail(logFile)}`
    await stopEntry(entry)
    if (/address already in use/i.test(detail)) throw new PortInUseError(detail)
    throw new Error(`Dovecot did not start on 127.0.0.1:${port}: ${detail}`)
  }

  return {
    host: '127.0.0.1',
    port,
    tlsPort,
    password,
    caFile: certs.caFile,
    separator,
    inboxPrefix: !!options.inboxPrefix,
    maxMailSize: options.maxMailSize,
    dir,
    configFile,
    logFile,
    pid: child.pid!,
    connectionCount: () => connectionCount(configFile),
    deliver: (user, folder, raw) => deliver(configFile, user, folder, raw),
    messageCount: async (user, folder) => {
      const {stdout} = await run(DOVEADM_BIN, ['-c', configFile, 'mailbox', 'status', '-u', user, 'messages', folder])
      return Number(/messages=(\d+)/.exec(stdout)?.[1] ?? NaN)
    },
    stop: () => stopEntry(entry),
  }
}

interface ConfigInput {
  dir: string
  logFile: string
  port: number
  tlsPort: number
  password: string
  separator: '.' | '/'
  certs: Certificates
  owner: Owner
  options: DovecotOptions
}

function dovecotConfig(c: ConfigInput): string {
  const mailLocation = c.separator === '/' ? 'maildir:~/Maildir:LAYOUT=fs' : 'maildir:~/Maildir'
  const prefix = c.options.inboxPrefix ? 'INBOX.' : ''
  const quota = c.options.maxMailSize === undefined ? '' : quotaConfig(c.options.maxMailSize)
  const instance = `mailferry-${c.options.name ?? 'test'}-${process.pid}-${c.port}`
  return `# Generated by test/harness/dovecot.ts
instance_name = ${instance}
base_dir = ${join(c.dir, 'run')}
state_dir = ${join(c.dir, 'state')}
log_path = ${c.logFile}
protocols = imap
listen = 127.0.0.1
shutdown_clients = yes

# Rootless-compatible: no chroot, every internal service runs as the given users.
default_internal_user = ${c.owner.internalUser}
default_internal_group = ${c.owner.internalGroup}
default_login_user = ${c.owner.loginUser}
first_valid_uid = ${c.owner.uid}
last_valid_uid = 0
first_valid_gid = ${c.owner.gid}

# Any username, one password: each test can use a fresh user (= an empty mailbox).
auth_mechanisms = plain login${c.options.oauth2IntrospectionUrl ? ' xoauth2 oauthbearer' : ''}
${authExtras(c.dir, c.options)}disable_plaintext_auth = no
# Failed logins are answered at once (default 2 s), so tests that expect a refusal stay fast.
auth_failure_delay = 0
passdb {
  driver = static
  args = password=${c.password}
}
userdb {
  driver = static
  args = uid=${c.owner.uid} gid=${c.owner.gid} home=${join(c.dir, 'home')}/%u
}

ssl = yes
ssl_cert = <${c.certs.certFile}
ssl_key = <${c.certs.keyFile}

mail_location = ${mailLocation}
mail_fsync = never
# Lock files are written whole, then linked into place: a process killed while taking a lock leaves one
# with its pid in it, which the next process sees is dead. With O_EXCL (the default) the kill can land
# between creating the file and writing the pid, and everyone then waits out the 2-minute stale timeout.
dotlock_use_excl = no
# Not maildir_very_dirty_syncs: a test kills imap processes mid-APPEND, and a message file written by a
# killed process must become visible to the next session (a very dirty sync would hide it until later,
# and the message would be appended twice).
namespace inbox {
  inbox = yes
  separator = ${c.separator}
  prefix = ${prefix}
${specialUseMailboxes(c.options.specialUse ?? {}, c.separator)}}
${quota}
imap_max_line_length = 1M
protocol imap {
  mail_max_userip_connections = 200
}

# Reuse login and imap processes instead of forking one per connection: a login takes
# ~15 ms instead of ~70 ms. Safe here because every user has the same uid. (No preforking
# with process_min_avail: it slows the start of many instances on few CPUs.)
service imap-login {
  chroot =
  service_count = 0
  inet_listener imap {
    address = 127.0.0.1
    port = ${c.port}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${c.tlsPort}
    ssl = yes
  }
}
service imap {
  service_count = 0
  # Enough for mail_max_userip_connections; lower than the default 1024 so that Dovecot does
  # not warn that auth's client_limit is too small for reused processes.
  process_limit = 512
}
service anvil {
  chroot =
}
${c.options.extraConfig ?? ''}
`
}

/** passdbs for DovecotOptions.oauth2IntrospectionUrl and .masterUser (before the static one). */
function authExtras(dir: string, options: DovecotOptions): string {
  let out = ''
  if (options.masterUser) {
    const file = join(dir, 'master-users')
    writeFileSync(file, `${options.masterUser.name}:{PLAIN}${options.masterUser.password}\n`, {mode: 0o644})
    out += `auth_master_user_separator = *
passdb {
  driver = passwd-file
  args = ${file}
  master = yes
}
`
  }
  if (options.oauth2IntrospectionUrl) {
    const file = join(dir, 'dovecot-oauth2.conf.ext')
    writeFileSync(
      file,
      `introspection_mode = post\nintrospection_url = ${options.oauth2IntrospectionUrl}\nforce_introspection = yes\n` +
        `username_attribute = username\nactive_attribute = active\nactive_value = true\n` +
        (options.oauth2UsernameFormat ? `username_format = ${options.oauth2UsernameFormat}\n` : ''),
      {mode: 0o644},
    )
    out += `passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = ${file}
}
`
  }
  return out
}

/** `mailbox` blocks of the inbox namespace, for DovecotOptions.specialUse (names relative to the namespace). */
function specialUseMailboxes(specialUse: Record<string, string>, separator: string): string {
  return Object.entries(specialUse)
    .map(([attribute, path]) => {
      if (!/^\\[A-Za-z]+$/.test(attribute)) throw new Error(`specialUse: not an attribute: ${attribute}`)
      if (/["\\\r\n]/.test(path)) throw new Error(`specialUse: unsupported folder name ${JSON.stringify(path)}`)
      return `  mailbox "${path.split('/').join(separator)}" {\n    special_use = ${attribute}\n    auto = subscribe\n  }\n`
    })
    .join('')
}

/** The quota plugin's per-message limit: APPENDs of bigger messages get a tagged NO. */
function quotaConfig(maxMailSize: number): string {
  return `mail_plugins = $mail_plugins quota
plugin {
  quota = count:User quota
  quota_vsizes = yes
  quota_max_mail_size = ${maxMailSize}B
}
`
}

// ---------------------------------------------------------------------------------------------
// Users

interface Owner {
  uid: number
  gid: number
  internalUser: string
  internalGroup: string
  loginUser: string
}

let ownerPromise: Promise<Owner> | undefined

/**
 * Who owns the mail and runs Dovecot's unprivileged services.
 * As root: the system user mailferry-test (created when missing); Dovecot's own `dovecot` and
 * `dovenull` users run the internal and login services when they exist.
 * Not root: Dovecot cannot switch users, so everything runs as the current uid/gid.
 */
function mailOwner(): Promise<Owner> {
  ownerPromise ??= resolveOwner()
  return ownerPromise
}

async function resolveOwner(): Promise<Owner> {
  const me = userInfo()
  if (me.uid !== 0) {
    const group = await groupName()
    return {uid: me.uid, gid: me.gid, internalUser: me.username, internalGroup: group, loginUser: me.username}
  }
  const user = await ensureMailUser()
  const haveDovecotUsers = (await lookupUser('dovecot')) && (await lookupUser('dovenull'))
  return {
    uid: user.uid,
    gid: user.gid,
    internalUser: haveDovecotUsers ? 'dovecot' : MAIL_USER,
    internalGroup: haveDovecotUsers ? 'dovecot' : MAIL_USER,
    loginUser: haveDovecotUsers ? 'dovenull' : MAIL_USER,
  }
}

// ---------------------------------------------------------------------------------------------
// Directories, ports, readiness

function makeInstanceDir(name: string | undefined, owner: Owner, baseDir = tmpdir()): string {
  const label = (name ?? 'x').replace(/[^A-Za-z0-9_-]/g, '').slice(0, 16) || 'x'
  // The pid in the name lets reapStaleInstances() find instances of dead test processes.
  // Kept short: base_dir holds unix sockets, whose paths are limited to 108 bytes.
  const dir = mkdtempSync(join(baseDir, `${DIR_PREFIX}${process.pid}-${label}-`))
  // mkdtemp gives 0700; the mail user must be able to reach its home below it.
  chmodSync(dir, 0o711)
  const home = join(dir, 'home')
  mkdirSync(home)
  chownSync(home, owner.uid, owner.gid)
  return dir
}

/**
 * Dovecot's auth process asks anvil to delay every login from an IP that failed before
 * (2, 4, 8, 15 s), also correct ones: one wrong-password test would slow all later logins.
 * 2.3 has no setting to turn it off, but auth skips it when it cannot connect to this socket
 * (ENOENT is silent). Auth starts lazily with the first client, so removing the socket
 * before the first connection disables the penalty for the instance's lifetime. anvil keeps
 * its listening fd; nothing else uses this socket.
 */
function disableAuthPenalty(dir: string): void {
  unlinkSync(penaltySocket(dir))
}

const penaltySocket = (dir: string) => join(dir, 'run', 'anvil-auth-penalty')

/** Polls `ready` until it holds; fails early if the master exits, or after READY_TIMEOUT_MS. */
async function pollChild(child: ChildProcess, what: string, ready: () => boolean | Promise<boolean>, stderr: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`dovecot exited (${child.exitCode ?? child.signalCode}) before ${what}: ${stderr().trim()}`)
    }
    if (await ready()) return
    await sleep(5)
  }
  throw new Error(`no ${what} within ${READY_TIMEOUT_MS} ms`)
}

function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({host: '127.0.0.1', port})
    let data = ''
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(2000, () => done(false))
    socket.on('error', () => done(false))
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1')
      if (data.includes('\r\n')) done(data.startsWith('* OK'))
    })
    socket.on('end', () => done(false))
  })
}

// ---------------------------------------------------------------------------------------------
// Stopping and cleanup

async function stopEntry(entry: Tracked): Promise<void> {
  await stopTracked(entry, STOP_TIMEOUT_MS)
}

/** Live pids of a running instance: the master and everything it started. */
export function instanceProcesses(instance: Pick<DovecotInstance, 'pid'>): number[] {
  return processGroup(instance.pid)
}

/** Pids of this instance's `imap` processes (the ones holding logged-in sessions), never another's. */
export function imapProcesses(instance: Pick<DovecotInstance, 'pid'>): number[] {
  return instanceProcesses(instance).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'imap'
    } catch {
      return false
    }
  })
}

function deliver(configFile: string, user: string, folder: string, raw: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(DOVEADM_BIN, ['-c', configFile, 'save', '-u', user, '-m', folder], (error) => (error ? reject(error) : resolve()))
    child.stdin!.end(raw)
  })
}

async function connectionCount(configFile: string): Promise<number> {
  const {stdout} = await run(DOVEADM_BIN, ['-c', configFile, 'who', '-1'])
  // One line per connection after the header line.
  return stdout.split('\n').slice(1).filter((line) => line.trim() !== '').length
}

// ---------------------------------------------------------------------------------------------
// TLS certificates

interface Certificates {
  caFile: string
  certFile: string
  keyFile: string
}

let certPromise: Promise<Certificates> | undefined

/** A CA and a server certificate for 127.0.0.1 and localhost, made once per process. */
export function testCertificates(): Promise<Certificates> {
  certPromise ??= makeCertificates()
  return certPromise
}

async function makeCertificates(): Promise<Certificates> {
  const dir = mkdtempSync(join(tmpdir(), 'mailferry-certs-'))
  removeAtExit(dir)
  const f = (name: string) => join(dir, name)
  // P-256 keys: generated in milliseconds, unlike RSA.
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await run('openssl', ['req', '-x509', ...ecKey, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '3650',
    '-subj', '/CN=mailferry test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  await run('openssl', ['req', '-new', ...ecKey, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost'])
  writeFileSync(f('server.ext'), [
    'basicConstraints = CA:FALSE',
    'keyUsage = critical, digitalSignature, keyEncipherment',
    'extendedKeyUsage = serverAuth',
    'subjectAltName = IP:127.0.0.1, DNS:localhost',
    '',
  ].join('\n'))
  await run('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'),
    '-CAcreateserial', '-out', f('server.pem'), '-days', '3650', '-extfile', f('server.ext')])
  // mkdtemp's 0700 is fine: Dovecot reads ssl_cert/ssl_key in its config process, as the starting user.
  return {caFile: f('ca.pem'), certFile: f('server.pem'), keyFile: f('server.key')}
}
