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

/** What imapflow attaches to its errors (all optional: they are plain Errors). */
interface ImapflowErrorShape {
  code?: string
  authenticationFailed?: boolean
  tlsFailed?: boolean
  responseStatus?: string
  responseText?: string
  serverResponseCode?: string
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
 * Translate an error from connecting / logging in. `where` names the side and account,
 * e.g. "source alice@127.0.0.1:1143".
 */
export function translateConnectError(error: unknown, where: string): MailferryError {
  if (error instanceof MailferryError) return error
  const e = shape(error)
  if (e.authenticationFailed) {
    return new AuthError(`${where}: login failed: ${serverText(error)}`, {
      cause: error,
      hint: 'check the user name and the password source (env var or file)',
    })
  }
  if (e.tlsFailed || (e.code !== undefined && TLS_CODES.has(e.code))) {
    return new ConnectError(`${where}: TLS failed: ${e.message}`, {
      cause: error,
      hint: 'for a private CA give caFile; check the tls mode (implicit on 993, starttls on 143)',
    })
  }
  if (e.code !== undefined && CONNECTION_CODES.has(e.code)) {
    return new ConnectError(`${where}: cannot connect: ${e.message}${e.code && !e.message.includes(e.code) ? ` (${e.code})` : ''}`, {
      cause: error,
      hint: 'check host, port and tls mode, and that the server is running',
    })
  }
  return new ConnectError(`${where}: ${e.message}`, {cause: error})
}

/** Translate an error from an operation on one folder. */
export function translateFolderError(error: unknown, where: string, folder: string): MailferryError {
  if (error instanceof MailferryError) return error
  if (isConnectionError(error)) {
    return new ConnectError(`${where}: connection lost while working on "${folder}": ${describeError(error)}`, {
      cause: error,
      hint: 're-run the same command to resume; nothing is copied twice',
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
  if (e.responseStatus === 'NO' || e.responseStatus === 'BAD' || e.serverResponseCode === 'APPENDLIMIT') {
    return new MessageRejectedError(serverText(error), {cause: error})
  }
  return translateFolderError(error, where, folder)
}
