/**
 * One authenticated imapflow client from an EndpointConfig. The only module that constructs ImapFlow.
 */
import {readFileSync} from 'node:fs'
import {ImapFlow, type ImapFlowOptions} from 'imapflow'

import {describeEndpoint, type EndpointConfig} from '../config/schema.js'
import {ConfigError} from '../errors.js'
import {translateConnectError} from './errors.js'

export type ImapClient = ImapFlow

export interface SessionOptions {
  /** Label for messages: "source" / "destination". */
  label: string
}

/** imapflow options for an endpoint. Pure apart from reading the CA file. */
export function imapflowOptions(endpoint: EndpointConfig): ImapFlowOptions {
  if (endpoint.password === undefined) {
    throw new ConfigError(`${describeEndpoint(endpoint)}: no password resolved`)
  }
  const tls: ImapFlowOptions['tls'] = {rejectUnauthorized: endpoint.tlsOptions.verify}
  if (endpoint.tlsOptions.caFile) tls.ca = readFileSync(endpoint.tlsOptions.caFile)
  if (endpoint.tlsOptions.servername) tls.servername = endpoint.tlsOptions.servername
  return {
    host: endpoint.host,
    port: endpoint.port,
    secure: endpoint.tls === 'implicit',
    // starttls is a requirement, never opportunistic: a server that does not offer it is an error.
    doSTARTTLS: endpoint.tls === 'starttls' ? true : endpoint.tls === 'none' ? false : undefined,
    servername: endpoint.tlsOptions.servername,
    tls,
    auth: {user: endpoint.user, pass: endpoint.password},
    // Our own code logs; imapflow's logger would print protocol details (and could leak secrets).
    logger: false,
    // We never want IDLE between our own commands: it costs two round trips per command.
    disableAutoIdle: true,
    clientInfo: {name: 'mailferry'},
    connectionTimeout: 30_000,
    greetingTimeout: 16_000,
  } as ImapFlowOptions
}

/** Connect and log in. Throws AuthError / ConnectError with a one-line message. */
export async function openSession(endpoint: EndpointConfig, options: SessionOptions): Promise<ImapClient> {
  const where = `${options.label} ${describeEndpoint(endpoint)}`
  const client = new ImapFlow(imapflowOptions(endpoint))
  // An 'error' event without a listener would crash the process; failures surface through the
  // command that hit them, so the event itself only needs to be absorbed here.
  client.on('error', () => {})
  try {
    await client.connect()
  } catch (error) {
    client.close()
    throw translateConnectError(error, where)
  }
  return client
}
