/**
 * A leveled, timestamped logger that never writes a secret (a leaf: imports nothing from the project).
 *
 * Two kinds of lines:
 * - events (debug/info/warn/error): run start and end, folders, failures, warnings, reconnects;
 * - the protocol trace (`trace`, only with --debug-imap): IMAP commands and responses.
 * Both go to the log file when there is one (mode 0600), the trace to stderr otherwise.
 *
 * Every line passes through redact() first. Secrets are removed twice over: by value (every
 * password and token the process resolves is registered with registerSecret(), and found also
 * inside base64 and percent-encoding), and by shape (LOGIN arguments, AUTHENTICATE payloads, base64
 * SASL blobs, bearer tokens, token-endpoint fields), so a secret that was never registered (a
 * token a server hands back, a password typed into the wrong field) does not get through either.
 */
import {closeSync, constants, fchmodSync, fstatSync, openSync, writeSync} from 'node:fs'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

const LEVELS: Record<LogLevel, number> = {debug: 10, info: 20, warn: 30, error: 40}

export const REDACTED = '***'

// ---------------------------------------------------------------------------------------------
// Redaction

const secrets = new Set<string>()

/**
 * Remember a secret value (password, access token, refresh token, client secret) so that no log
 * line, report or error message shows it. Call it as soon as the value is known.
 */
export function registerSecret(value: string | undefined | null): void {
  if (value) secrets.add(value)
}

/** For tests: forget every registered secret. */
export function clearSecrets(): void {
  secrets.clear()
}

/** Runs of base64 (standard or url-safe) long enough to hide a credential. */
const BASE64_RUN = /[A-Za-z0-9+/_-]{12,}={0,2}/g
/** `LOGIN user password` with each argument an atom, a quoted string or a literal marker. */
const LOGIN_ARGS = /(\bLOGIN\s+)("(?:[^"\\]|\\.)*"|\{\d+\+?\}|\S+)(\s+)("(?:[^"\\]|\\.)*"|\{\d+\+?\}|\S+)/gi
/** `AUTHENTICATE MECH initial-response` (SASL-IR, RFC 4959). */
const AUTHENTICATE_IR = /(\bAUTHENTICATE\s+[A-Za-z0-9_-]+\s+)(\S+)/gi
const BEARER = /(\bBearer\s+)[^\s"',;\\]+/gi
/** `access_token=...`, `"refresh_token": "..."`, `client_secret=...` in HTTP bodies and JSON. */
const TOKEN_FIELD =
  /(\b(?:access_token|refresh_token|id_token|client_secret|password|passwd|token)\b"?\s*[:=]\s*"?)([^"&\s,}]+)/gi

function containsSecret(text: string): boolean {
  for (const secret of secrets) if (text.includes(secret)) return true
  return false
}

/** A decoded base64 blob that is a SASL payload or holds a secret. */
function sensitiveDecoded(run: string): boolean {
  const normal = run.replace(/-/g, '+').replace(/_/g, '/')
  let decoded: string
  try {
    decoded = Buffer.from(normal, 'base64').toString('latin1')
  } catch {
    return false
  }
  if (containsSecret(decoded)) return true
  // SASL PLAIN separates its fields with NUL, XOAUTH2 / OAUTHBEARER with ^A (RFC 7628). Text that
  // only happens to use the base64 alphabet (hashes, paths) decodes to bytes with other controls.
  if (/[\x02-\x08\x0b-\x1f\x7f]/.test(decoded)) return false
  return /[\x00\x01]/.test(decoded) || /auth=Bearer/i.test(decoded)
}

/** The text with every secret replaced by "***". Cheap enough for every log line. */
export function redact(text: string): string {
  let out = text
  // Longest first, so a secret that contains another is removed whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join(REDACTED)
    const encoded = encodeURIComponent(secret)
    if (encoded !== secret) out = out.split(encoded).join(REDACTED)
  }
  out = out.replace(LOGIN_ARGS, (_m, login: string, user: string, space: string) => `${login}${user}${space}${REDACTED}`)
  out = out.replace(AUTHENTICATE_IR, (_m, head: string) => `${head}${REDACTED}`)
  out = out.replace(BEARER, (_m, head: string) => `${head}${REDACTED}`)
  out = out.replace(TOKEN_FIELD, (_m, head: string) => `${head}${REDACTED}`)
  out = out.replace(BASE64_RUN, (run) => (sensitiveDecoded(run) ? REDACTED : run))
  return out
}

// ---------------------------------------------------------------------------------------------
// Logger

export interface Logger {
  debug(message: string): void
  info(message: string): void
  warn(message: string): void
  error(message: string): void
  /** One protocol trace line ("C: ..." / "S: ..."); dropped unless tracing is on. */
  trace(line: string): void
  /** True when trace() lines are written somewhere (--debug-imap). */
  readonly tracing: boolean
  /** Where the lines go, for messages ("log file /var/log/mf.log"); undefined when nowhere. */
  readonly file?: string
  close(): void
}

export interface LoggerOptions {
  /** Append event lines (and the trace) to this file, created with mode 0600. */
  file?: string
  /** Write the protocol trace (to the file when there is one, else to `stderr`). */
  trace?: boolean
  /** Lowest level written to the file. Default: debug. */
  level?: LogLevel
  /** Where the trace goes without a file. Default: process.stderr. */
  stderr?: {write(text: string): unknown}
  /** For tests: the clock. */
  now?: () => Date
}

/** A logger that writes nothing (the default when neither --log-file nor --debug-imap is given). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  trace() {},
  tracing: false,
  close() {},
}

/**
 * Opens the log file (append, 0600: also tightened when it existed with a looser mode).
 * A symbolic link is not followed (O_NOFOLLOW: ELOOP): a link planted at the log's path must not
 * make mailferry append to, or chmod, another file. Throws the fs error when the file cannot be
 * opened; the caller turns it into a ConfigError.
 */
export function createLogger(options: LoggerOptions): Logger {
  if (!options.file && !options.trace) return silentLogger
  let fd: number | undefined
  if (options.file) {
    fd = openSync(options.file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0), 0o600)
    // Only a regular file: /dev/null and the like keep their modes.
    if (fstatSync(fd).isFile()) fchmodSync(fd, 0o600)
  }
  const threshold = LEVELS[options.level ?? 'debug']
  const stderr = options.stderr ?? process.stderr
  const now = options.now ?? (() => new Date())
  let closed = false
  const write = (text: string, toStderr: boolean) => {
    // A connection still logging out after the run ends must not spill the trace onto stderr.
    if (closed) return
    if (fd !== undefined) {
      try {
        writeSync(fd, text)
      } catch {
        // a full disk must not stop the migration
      }
    } else if (toStderr) {
      stderr.write(text)
    }
  }
  const line = (tag: string, message: string) => `${now().toISOString()} ${tag} ${redact(message).replace(/\r?\n/g, '\\n')}\n`
  const at = (level: LogLevel, tag: string) => (message: string) => {
    if (LEVELS[level] >= threshold) write(line(tag, message), false)
  }
  return {
    debug: at('debug', 'DEBUG'),
    info: at('info', 'INFO '),
    warn: at('warn', 'WARN '),
    error: at('error', 'ERROR'),
    trace(text: string) {
      if (options.trace) write(line('IMAP ', text), true)
    },
    tracing: options.trace === true,
    file: options.file,
    close() {
      closed = options.file !== undefined
      if (fd === undefined) return
      try {
        closeSync(fd)
      } catch {
        // already closed
      }
      fd = undefined
    },
  }
}
