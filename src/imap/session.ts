/**
 * One authenticated imapflow client from an EndpointConfig. The only module that constructs ImapFlow.
 */
import {readFileSync} from 'node:fs'
import type {ImapFlowOptions} from 'imapflow'

import {describeEndpoint, type EndpointConfig} from '../config/schema.js'
import {AuthError, ConfigError, ConnectError} from '../errors.js'
import {registerSecret, silentLogger, type Logger} from '../log.js'
import {VERSION} from '../version.js'
import {Credentials, loginMethod, type SessionSecret} from './auth.js'
import {translateConnectError} from './errors.js'
import {ImapFlow, normalizePath} from './imapflow.js'
import {SESSION_LIMITS, SILENCE_LIMIT_MS, noteSessionError} from './limits.js'
import {imapflowLogger} from './log.js'

export type ImapClient = ImapFlow

export interface SessionOptions {
  /** Label for messages: "source" / "destination". */
  label: string
  /** Where the protocol trace goes when it is on (--debug-imap); nothing is logged otherwise. */
  logger?: Logger
  /** Cuts the login off (the connection is closed, no LOGOUT): the session is no longer wanted. */
  cancel?: AbortSignal
}

/**
 * imapflow options for an endpoint. Pure apart from reading the CA file. `secret` defaults to the
 * endpoint's resolved password.
 */
export function imapflowOptions(
  endpoint: EndpointConfig,
  secret: SessionSecret = {pass: endpoint.password},
  logger: Logger = silentLogger,
  label = 'imap',
): ImapFlowOptions {
  if (secret.pass === undefined && secret.accessToken === undefined) {
    throw new ConfigError(`${describeEndpoint(endpoint)}: no password resolved`)
  }
  registerSecret(secret.pass)
  registerSecret(secret.accessToken)
  const tls: ImapFlowOptions['tls'] = {rejectUnauthorized: endpoint.tlsOptions.verify}
  if (endpoint.tlsOptions.caFile) tls.ca = readFileSync(endpoint.tlsOptions.caFile)
  if (endpoint.tlsOptions.servername) tls.servername = endpoint.tlsOptions.servername
  if (endpoint.tlsOptions.minTls) tls.minVersion = endpoint.tlsOptions.minTls === '1.3' ? 'TLSv1.3' : 'TLSv1.2'
  return {
    host: endpoint.host,
    port: endpoint.port,
    secure: endpoint.tls === 'implicit',
    // starttls is a requirement, never opportunistic: a server that does not offer it is an error.
    doSTARTTLS: endpoint.tls === 'starttls' ? true : endpoint.tls === 'none' ? false : undefined,
    servername: endpoint.tlsOptions.servername,
    tls,
    auth: {
      user: endpoint.user,
      ...(secret.accessToken !== undefined ? {accessToken: secret.accessToken} : {pass: secret.pass}),
      loginMethod: loginMethod(endpoint.auth?.method),
      authzid: endpoint.auth?.authzid,
    },
    // Off unless --debug-imap: then the protocol trace, every line redacted (imap/log.ts).
    logger: imapflowLogger(logger, label),
    // We never want IDLE between our own commands: it costs two round trips per command.
    disableAutoIdle: true,
    // RFC 7162 QRESYNC, when offered: a re-run learns which messages were expunged (VANISHED) from
    // the same CHANGEDSINCE fetch that lists flag changes, instead of listing the whole folder.
    qresync: true,
    // RFC 2971 ID: who we are, for the server's logs. imapflow fills in its own version, vendor and
    // support address otherwise; empty values are left out of the command.
    clientInfo: {name: 'mailferry', version: VERSION, vendor: '', 'support-url': ''},
    connectionTimeout: 30_000,
    greetingTimeout: 16_000,
    // A command without a byte of answer for this long: the session is dead (imap/limits.ts).
    socketTimeout: SILENCE_LIMIT_MS,
    // What one response may make us buffer (imap/limits.ts): a hostile server cannot exhaust memory.
    ...SESSION_LIMITS,
  } as ImapFlowOptions
}

const credentials = new WeakMap<EndpointConfig, Credentials>()

/** One Credentials per endpoint, so every session of a store shares its token and its prompt. */
export function credentialsFor(endpoint: EndpointConfig): Credentials {
  let found = credentials.get(endpoint)
  if (!found) credentials.set(endpoint, (found = new Credentials(endpoint)))
  return found
}

/**
 * Connect and log in. Throws AuthError / ConnectError with a one-line message. A refused access
 * token is fetched anew (tokenCommand re-run, refresh token exchanged) and tried once more.
 */
export async function openSession(endpoint: EndpointConfig, options: SessionOptions): Promise<ImapClient> {
  const where = `${options.label} ${describeEndpoint(endpoint)}`
  const creds = credentialsFor(endpoint)
  const cancelled = () => new ConnectError(`${where}: login cut off, the session is no longer needed`)
  for (let attempt = 1; ; attempt++) {
    const secret = await creds.get()
    // Checked after the credentials' await: an abort before the listener below is in place would be missed.
    if (options.cancel?.aborted) throw cancelled()
    const client = new ImapFlow(imapflowOptions(endpoint, secret, options.logger, options.label))
    // An 'error' event without a listener would crash the process; failures surface through the
    // command that hit them, except a size-limit breach, which only this event names (limits.ts).
    client.on('error', (error) => noteSessionError(client, error, where))
    const cancel = () => client.close()
    options.cancel?.addEventListener('abort', cancel)
    try {
      await client.connect()
      return client
    } catch (error) {
      client.close()
      if (options.cancel?.aborted) throw cancelled()
      const translated = translateConnectError(error, where)
      if (!(translated instanceof AuthError)) throw translated
      if (secret.accessToken !== undefined && creds.renewable && attempt === 1) {
        options.logger?.warn(`${where}: the server refused the access token; fetching a new one`)
        creds.invalidate()
        continue
      }
      const hint = translated.hint?.includes('authMethod') ? translated.hint : `check the user name and ${creds.describe()}`
      throw new AuthError(translated.message, {cause: error, hint})
    } finally {
      options.cancel?.removeEventListener('abort', cancel)
    }
  }
}

/**
 * imapflow LISTs a folder before a session's first SELECT of it, only to copy the folder's
 * delimiter and special-use into `client.mailbox`, which mailferry never reads: one round trip per
 * folder and session (32 ms each behind a 32 ms link). A stand-in entry in its cache skips that; the
 * SELECT itself still says whether the folder exists.
 */
export function skipListBeforeSelect(client: ImapClient, path: string): void {
  const cache = (client as unknown as {folders?: Map<string, unknown>}).folders
  if (!(cache instanceof Map)) return
  const key = normalizePath(client, path)
  if (!cache.has(key)) cache.set(key, {path: key, flags: new Set<string>(), listed: true})
}
