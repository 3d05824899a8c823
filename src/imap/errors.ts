/**
 * The ONLY place that reads imapflow's ad-hoc error shapes (err.code, err.authenticationFailed,
 * err.responseText...). Everything above src/imap sees MailferryError subclasses.
 */
import {
  AuthError,
  ConnectError,
  FolderError,
  MailferryError,
  MessageRejectedError,
  describeError,
} from '../errors.js'
import {appendLimitReason} from '../check/admission.js'

/** What imapflow attaches to its errors (all optional: they are plain Errors). */
interface ImapflowErrorShape {
  code?: string
  authenticationFailed?: boolean
  tlsFailed?: boolean
  responseStatus?: string
  responseText?: string
  serverResponseCode?: string
  /** The server's BYE text, when a BYE closed the connection. */
  reason?: string
  /** ETHROTTLE: the delay the server suggested, in ms. */
  throttleReset?: number
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'NoConnection',
  'EConnectionClosed',
  'ClosedAfterConnectText',
  'ClosedAfterConnectTLS',
  'CONNECT_TIMEOUT',
  'GREETING_TIMEOUT',
  'UPGRADE_TIMEOUT',
  'ETIMEOUT',
  'StateLogout',
])

/** Node's TLS verification failures (tls.TLSSocket authorizationError codes and friends). */
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
  'STARTTLS_INJECTION',
])

function shape(error: unknown): ImapflowErrorShape & {message: string} {
  const e = (error ?? {}) as ImapflowErrorShape & {message?: string}
  return {...e, message: describeError(error)}
}

/** The server's own words when there are some ("[OVERQUOTA] Quota exceeded"), else the error text. */
export function serverText(error: unknown): string {
  const e = shape(error)
  const code = e.serverResponseCode ? `[${e.serverResponseCode}] ` : ''
  const text = e.responseText?.trim()
  if (text) return text.startsWith('[') ? text : code + text
  return e.message
}

export function isConnectionError(error: unknown): boolean {
  const e = shape(error)
  return e.code !== undefined && CONNECTION_CODES.has(e.code)
}

/**
 * Response codes by which a server says "not now" (RFC 5530), plus Gmail's THROTTLED. ALREADYEXISTS
 * to anything but CREATE (whose answer it is: the folder is there, which is all a CREATE wants;
 * folder-commands.ts and imapflow take it so) is Dovecot creating a folder it lists as `auto =
 * create` or `subscribe` when two sessions first open it at once: the one that loses the race gets
 * `NO [ALREADYEXISTS]` to its SELECT, STATUS or APPEND, and the same command a moment later works.
 */
const PUSHBACK_CODES = new Set(['LIMIT', 'UNAVAILABLE', 'INUSE', 'THROTTLED', 'ALREADYEXISTS'])

/**
 * Texts of servers that push back without a response code: Office 365 ("Request is throttled.
 * Suggested Backoff Time: 2000 milliseconds", "Server Unavailable. 15"), Gmail ("Account exceeded
 * command or bandwidth limits"), Dovecot ("Maximum number of connections from user+IP exceeded",
 * "Temporary authentication failure").
 */
const PUSHBACK_TEXT =
  /request is throttled|server unavailable|too many (?:simultaneous |concurrent |open )?(?:connections|sessions|requests|commands)|maximum number of (?:connections|sessions)|try again later|temporar(?:y|ily) (?:unavailable|authentication failure|failure)|exceeded (?:command or )?bandwidth limits/i

/**
 * The server refused for now, not for good: too busy, throttling, too many connections, a
 * mailbox in use. Worth a pause and another try, never a failure of the message or the folder.
 */
export function isPushback(error: unknown): boolean {
  if (error instanceof MailferryError) return false
  const e = shape(error)
  if (e.code === 'ETHROTTLE') return true
  if (e.serverResponseCode !== undefined && PUSHBACK_CODES.has(e.serverResponseCode.toUpperCase())) return true
  return [e.responseText, e.reason, e.message].some((text) => text !== undefined && PUSHBACK_TEXT.test(text))
}

/** Pushback that says the account has all the sessions it may have, not "busy now" (RFC 5530 LIMIT). */
const SESSION_CAP_TEXT = /too many (?:simultaneous |concurrent |open )?(?:connections|sessions)|maximum number of (?:connections|sessions)/i

/**
 * The server allows no more sessions for this account (a per-user cap), as opposed to pushback that
 * passes ("[UNAVAILABLE] Temporary authentication failure"): the run makes do with the sessions it
 * has instead of waiting for another. Reads imapflow's errors and a ConnectError's cause.
 */
export function isSessionCap(error: unknown): boolean {
  for (const e of [error, (error as {cause?: unknown})?.cause]) {
    if (!isPushback(e)) continue
    const {serverResponseCode, responseText, reason, message} = shape(e)
    if (serverResponseCode?.toUpperCase() === 'LIMIT') return true
    if ([responseText, reason, message].some((text) => text !== undefined && SESSION_CAP_TEXT.test(text))) return true
  }
  return false
}

/**
 * Worth trying again after a pause: a lost or refused connection, or server pushback. Reads both
 * imapflow's raw errors and our translated ones (ConnectError.transient).
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof ConnectError) return error.transient && !error.outcomeUnknown
  if (error instanceof MailferryError) return false
  return isConnectionError(error) || isPushback(error)
}

/** The error concerns the connection itself (not a NO to one command), so the session is done. */
export function isConnectionLoss(error: unknown): boolean {
  if (error instanceof ConnectError) return error.transient && !isPushback(error.cause)
  return isTransient(error) && !isPushback(error)
}

/** Pushback, raw or as the cause of a transient ConnectError (a refused login). */
export function pushedBack(error: unknown): boolean {
  return isPushback(error) || (error instanceof ConnectError && error.transient && isPushback(error.cause))
}

/** The delay a throttling server asked for (ms), if it named one. Searches the cause chain. */
export function suggestedDelayMs(error: unknown): number | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as {cause?: unknown}).cause, depth++) {
    const {throttleReset} = e as ImapflowErrorShape
    if (typeof throttleReset === 'number' && throttleReset > 0) return throttleReset
  }
  return undefined
}

/** "server pushback: [UNAVAILABLE] ..." / "connection lost: ..." for messages and logs. */
function transientText(error: unknown): string {
  const e = shape(error)
  const words = e.reason ?? serverText(error)
  const code = e.code && !words.includes(e.code) ? ` (${e.code})` : ''
  return `${words}${code}`
}

/**
 * Translate an error from connecting / logging in. `where` names the side and account,
 * e.g. "source alice@127.0.0.1:1143".
 */
export function translateConnectError(error: unknown, where: string): MailferryError {
  if (error instanceof MailferryError) return error
  const e = shape(error)
  if (isPushback(error)) {
    // "NO [UNAVAILABLE] Temporary authentication failure", "BYE Too many connections": not a
    // verdict on the credentials.
    return new ConnectError(`${where}: server busy: ${transientText(error)}`, {
      cause: error,
      transient: true,
      hint: 'the server pushed back; try fewer --connections or a later time',
    })
  }
  if (e.authenticationFailed) {
    return new AuthError(`${where}: login failed: ${serverText(error)}`, {
      cause: error,
      hint: 'check the user name and the password source (env var or file)',
    })
  }
  if (e.tlsFailed || (e.code !== undefined && (TLS_CODES.has(e.code) || /^ERR_(SSL|TLS)_/.test(e.code)))) {
    const {text, hint} = describeTlsFailure(e.code, e.message)
    return new ConnectError(`${where}: TLS failed: ${text}`, {cause: error, hint})
  }
  if (e.code !== undefined && CONNECTION_CODES.has(e.code)) {
    return new ConnectError(`${where}: cannot connect: ${transientText(error)}`, {
      cause: error,
      transient: true,
      hint: 'check host, port and tls mode, and that the server is running',
    })
  }
  if (/unsupported authentication mechanism|no matching authentication method|login is disabled/i.test(e.message)) {
    return new AuthError(`${where}: cannot log in: ${e.message}`, {
      cause: error,
      hint: 'the server does not offer the configured authMethod; see its CAPABILITY (AUTH=...)',
    })
  }
  return new ConnectError(`${where}: ${e.message}`, {cause: error})
}

/**
 * A TLS failure in words, with advice that fits it. OpenSSL's own text ("80EC...:error:0A00042E:SSL
 * routines:ssl3_read_bytes:tlsv1 alert protocol version:...") is cut down to its reason.
 */
export function describeTlsFailure(code: string | undefined, message: string): {text: string; hint: string} {
  const reason = /:SSL routines:[^:]*:([^:]+):/.exec(message)?.[1] ?? message
  if (/does not support STARTTLS/i.test(message)) {
    return {
      text: 'the server does not offer STARTTLS',
      hint: 'use tls: implicit (port 993) if the server has it; tls: none would send the password in plain text',
    }
  }
  // OpenSSL's "wrong version number": what came back was not TLS at all, typically the greeting of a
  // plain IMAP port (143) reached with implicit TLS.
  if (/wrong version number/i.test(reason) || code === 'ERR_SSL_WRONG_VERSION_NUMBER') {
    return {
      text: 'the server did not answer in TLS (is this a plain IMAP port?)',
      hint: 'implicit TLS (imaps://) is usually on port 993; on port 143 use imap://, which requires STARTTLS',
    }
  }
  if (/protocol version|unsupported protocol/i.test(reason) || /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/.test(code ?? '')) {
    return {
      text: `no TLS version both sides accept (${reason})`,
      hint: 'check minTls against what the server supports, and the tls mode (implicit on 993, starttls on 143)',
    }
  }
  return {text: reason, hint: 'for a private CA give caFile; check the tls mode (implicit on 993, starttls on 143)'}
}

/**
 * For imapflow commands that answer `false` instead of throwing (STATUS, NOOP, STORE, MOVE...):
 * they do so for a NO and for a lost connection alike. A session that is gone is a lost
 * connection (retried on a fresh session by the pool), never a failure of the folder.
 */
export function falseAnswer(client: {usable: boolean}, command: string): Error {
  if (client.usable) return new Error(`${command} failed`)
  return Object.assign(new Error(`connection lost during ${command}`), {code: 'NoConnection'})
}

/** Translate an error from an operation on one folder. */
export function translateFolderError(error: unknown, where: string, folder: string): MailferryError {
  if (error instanceof MailferryError) return error
  if (isConnectionError(error)) {
    return new ConnectError(`${where}: connection lost while working on "${folder}": ${transientText(error)}`, {
      cause: error,
      transient: true,
      hint: 're-run the same command to resume; nothing is copied twice',
    })
  }
  if (isPushback(error)) {
    return new ConnectError(`${where}: server busy while working on "${folder}": ${transientText(error)}`, {
      cause: error,
      transient: true,
      hint: 're-run the same command later to resume; try fewer --connections or --max-messages-per-second',
    })
  }
  return new FolderError(`${where}: folder "${folder}": ${serverText(error)}`, {cause: error})
}

/**
 * Translate an APPEND failure. A NO/BAD answer (or the client-side APPENDLIMIT check) concerns this
 * message only; a lost connection concerns the store, and the APPEND's outcome is then unknown.
 */
export function translateAppendError(error: unknown, where: string, folder: string): MailferryError {
  if (error instanceof MailferryError) return error
  const e = shape(error)
  const tagged = e.responseStatus === 'NO' || e.responseStatus === 'BAD'
  if (e.serverResponseCode === 'APPENDLIMIT' && !tagged) {
    // imapflow's own check before sending (RFC 7889): "Message content too big for APPENDLIMIT=N".
    const limit = /APPENDLIMIT=(\d+)/.exec(e.message)?.[1]
    return new MessageRejectedError(appendLimitReason(limit === undefined ? undefined : Number(limit)), {cause: error})
  }
  // A tagged NO/BAD answers the APPEND: the message was not stored. Pushback ("[UNAVAILABLE]",
  // "Request is throttled") is worth another try; anything else concerns this message only. To an
  // APPEND, [LIMIT] is about the message (RFC 5530 "implementation limit": Dovecot answers a
  // message above quota_max_mail_size with "NO [LIMIT] Mail size is larger than ..."), not pushback.
  const limit = e.serverResponseCode?.toUpperCase() === 'LIMIT'
  if (tagged && !limit && isPushback(error)) return translateFolderError(error, where, folder)
  if (tagged) return new MessageRejectedError(serverText(error), {cause: error})
  if (isConnectionError(error)) {
    // The literal may have reached the server and been stored before the connection went: a
    // retrying caller would duplicate it (imapflow append.js says the same of its own throws).
    return new ConnectError(`${where}: connection lost during an APPEND to "${folder}": ${transientText(error)}`, {
      cause: error,
      transient: true,
      outcomeUnknown: true,
      hint: 're-run the same command to resume; the message is looked for on the destination before it is sent again',
    })
  }
  const translated = translateFolderError(error, where, folder)
  if (translated instanceof ConnectError && !tagged) {
    // No tagged answer came: whatever broke, the server may have stored the message. Never retried.
    return new ConnectError(translated.message, {
      cause: error,
      transient: translated.transient,
      outcomeUnknown: true,
      hint: 're-run the same command to resume; the message is looked for on the destination before it is sent again',
    })
  }
  return translated
}
