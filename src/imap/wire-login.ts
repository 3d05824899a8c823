/**
 * Opens a WireConnection and logs it in exactly as imapflow logs in today's sessions: the same
 * options (imapflowOptions: host, TLS settings, STARTTLS policy, login method, authzid), the same
 * choice of mechanism (OAUTHBEARER > XOAUTH2 with a token; AUTH=PLAIN > AUTH=LOGIN > LOGIN with a
 * password), the same shared Credentials (a refused token is renewed once), the same error shapes.
 */
import type {ImapFlowOptions} from 'imapflow'

import {describeEndpoint, type EndpointConfig} from '../config/schema.js'
import {AuthError} from '../errors.js'
import {silentLogger, type Logger} from '../log.js'
import {translateConnectError} from './errors.js'
import {credentialsFor, imapflowOptions} from './session.js'
import {wireError, WireConnection, type WireResponse} from './wire.js'
import {capabilityMap, statusCode} from './wire-responses.js'

export interface WireSessionOptions {
  label: string
  logger?: Logger
}

/** Connect, STARTTLS when the policy says, log in, read the capabilities that hold after login. */
export async function openWireConnection(endpoint: EndpointConfig, options: WireSessionOptions): Promise<WireConnection> {
  const where = `${options.label} ${describeEndpoint(endpoint)}`
  const logger = options.logger ?? silentLogger
  const creds = credentialsFor(endpoint)
  for (let attempt = 1; ; attempt++) {
    const secret = await creds.get()
    const flowOptions = imapflowOptions(endpoint, secret, silentLogger, options.label)
    let connection: WireConnection | undefined
    try {
      const opened = await WireConnection.connect(flowOptions, `${options.label}#pipe`, logger)
      connection = opened.connection
      await login(connection, opened.greeting, flowOptions)
      return connection
    } catch (error) {
      connection?.close()
      const translated = translateConnectError(error, where)
      if (!(translated instanceof AuthError)) throw translated
      if (secret.accessToken !== undefined && creds.renewable && attempt === 1) {
        logger.warn(`${where}: the server refused the access token; fetching a new one`)
        creds.invalidate()
        continue
      }
      const hint = translated.hint?.includes('authMethod') ? translated.hint : `check the user name and ${creds.describe()}`
      throw new AuthError(translated.message, {cause: error, hint})
    }
  }
}

async function login(connection: WireConnection, greeting: WireResponse, options: ImapFlowOptions): Promise<void> {
  const preauth = greeting.command.toUpperCase() === 'PREAUTH'
  await refreshCapabilities(connection, greeting)
  // starttls is a requirement (doSTARTTLS true), never opportunistic; 'none' never upgrades.
  if (options.doSTARTTLS === true && !options.secure) {
    if (!connection.capabilities.has('STARTTLS')) throw wireError('Server does not support STARTTLS', {tlsFailed: true})
    await connection.startTls(options)
    // RFC 9051 6.2.1: capabilities learnt before the upgrade are void.
    connection.capabilities = new Map()
    await refreshCapabilities(connection)
  }
  if (!preauth) {
    const response = await authenticate(connection, options)
    await refreshCapabilities(connection, response)
  }
  connection.literalPlus = connection.capabilities.has('LITERAL+')
  connection.literalMinus = connection.capabilities.has('LITERAL-')
}

/** Capabilities from a response code when the server sent them there, else a CAPABILITY command. */
async function refreshCapabilities(connection: WireConnection, response?: WireResponse): Promise<void> {
  const section = response?.attributes?.[0]?.section
  if (response && statusCode(response) === 'CAPABILITY') {
    connection.capabilities = capabilityMap(section.slice(1))
    return
  }
  connection.capabilities = new Map()
  await connection.command('CAPABILITY', [])
}

interface Auth {
  user: string
  pass?: string
  accessToken?: string
  loginMethod?: string
  authzid?: string
}

/** imapflow's choice of mechanism (imap-flow.js authenticate, commands/authenticate.js), failures marked authenticationFailed. */
async function authenticate(connection: WireConnection, options: ImapFlowOptions): Promise<WireResponse> {
  const auth = options.auth as Auth
  const caps = connection.capabilities
  let method = (auth.loginMethod ?? '').trim().toUpperCase()
  // imapflow's override for Exchange-style "domain\user" and "user/mailbox" logins.
  if (!method && /\\|\//.test(auth.user)) method = 'LOGIN'
  const refused = (error: unknown) => {
    const e = error as {responseStatus?: string}
    if (e.responseStatus === 'NO' || e.responseStatus === 'BAD') Object.assign(e, {authenticationFailed: true})
    return error
  }
  const sasl = (mechanism: string, payload: string, breaker = '') => {
    // SASL-IR (RFC 4959): the initial response goes with the command.
    const inline = caps.has('SASL-IR')
    const attributes: unknown[] = [{type: 'ATOM', value: mechanism}]
    if (inline) attributes.push({type: 'ATOM', value: payload, sensitive: true})
    let sent = inline
    return connection
      .command('AUTHENTICATE', attributes, {
        traceAs: `AUTHENTICATE ${mechanism}`,
        onContinue: () => {
          if (sent) return breaker // an error challenge (RFC 7628 3.2.2): answer it to get the tagged NO
          sent = true
          return payload
        },
      })
      .catch((error) => Promise.reject(refused(error)))
  }
  if (auth.accessToken !== undefined) {
    if (caps.has('AUTH=OAUTHBEARER')) {
      // RFC 7628 3.1: GS2 header, host, port, bearer token, each field ended by ^A.
      const payload = [
        `n,a=${auth.user.replace(/=/g, '=3D').replace(/,/g, '=2C')},`,
        `host=${options.servername || options.host}`,
        `port=${options.port}`,
        `auth=Bearer ${auth.accessToken}`,
        '',
        '',
      ].join('\x01')
      return sasl('OAUTHBEARER', Buffer.from(payload).toString('base64'), 'AQ==')
    }
    if (caps.has('AUTH=XOAUTH2') || caps.has('AUTH=XOAUTH')) {
      const payload = [`user=${auth.user}`, `auth=Bearer ${auth.accessToken}`, '', ''].join('\x01')
      return sasl('XOAUTH2', Buffer.from(payload).toString('base64'))
    }
    throw new Error('Unsupported authentication mechanism')
  }
  if (auth.pass === undefined) throw wireError('No password configured', {authenticationFailed: true})
  if ((caps.has('AUTH=PLAIN') || caps.has('AUTH=LOGIN')) && method !== 'LOGIN') {
    if ((!method && caps.has('AUTH=PLAIN')) || method === 'AUTH=PLAIN') {
      // RFC 4616: authzid NUL authcid NUL password; the authzid is the master-user login's target.
      const payload = Buffer.from([auth.authzid ?? '', auth.user, auth.pass].join('\x00')).toString('base64')
      return sasl('PLAIN', payload)
    }
    if ((!method && caps.has('AUTH=LOGIN')) || method === 'AUTH=LOGIN') {
      // draft-murchison-sasl-login: username, then password, each base64, each after a "+".
      let step = 0
      return connection
        .command('AUTHENTICATE', [{type: 'ATOM', value: 'LOGIN'}], {
          traceAs: 'AUTHENTICATE LOGIN',
          onContinue: () => Buffer.from(step++ === 0 ? auth.user : auth.pass!).toString('base64'),
        })
        .catch((error) => Promise.reject(refused(error)))
    }
    throw new Error('Unsupported authentication mechanism')
  }
  if (caps.has('LOGINDISABLED')) throw wireError('Login is disabled', {authenticationFailed: true})
  return connection
    .command('LOGIN', [{type: 'STRING', value: auth.user}, {type: 'STRING', value: auth.pass, sensitive: true}], {traceAs: 'LOGIN'})
    .catch((error) => Promise.reject(refused(error)))
}
