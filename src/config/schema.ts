/**
 * The validated, typed configuration of one sync run. Produced by config/load.ts from YAML + flags;
 * everything below it (stores, engine) takes these types and never reads files or env itself.
 *
 * Precedence (as in mbsync): built-in defaults < YAML file < command-line flags.
 */

import type {FolderMappingConfig} from './mapping.js'
import type {AuthConfig} from '../credentials/auth.js'
import type {CarriedEndpointKey, EndpointInput} from './endpoint.js'
import type {RunSettings} from './settings.js'

/**
 * How the connection is protected.
 * - implicit: TLS from the first byte (imaps://, usually port 993);
 * - starttls: plain connect, then STARTTLS, which is required: no silent fallback (imap://, usually 143);
 * - none: plaintext, for loopback and test servers only.
 */
export type TlsMode = 'implicit' | 'starttls' | 'none'

export const TLS_MODES: readonly TlsMode[] = ['implicit', 'starttls', 'none']

/** Where a password comes from. The resolved value lives only in memory (EndpointConfig.password). */
export type SecretSource =
  | {kind: 'env'; name: string}
  | {kind: 'file'; path: string}
  /** passwordCommand: run with /bin/sh at start, its first line of output (e.g. `pass show mail/alice`). */
  | {kind: 'command'; command: string}

export interface TlsOptions {
  /** PEM file with the CA certificate(s) to trust, in addition to the system ones. */
  caFile?: string
  /** Verify the server certificate (default true). false only with an explicit `insecure: true`. */
  verify: boolean
  /** Name to verify the certificate against (SNI), when it differs from host. */
  servername?: string
  /** The lowest TLS version accepted (Node's default is 1.2). */
  minTls?: MinTls
}

export type MinTls = '1.2' | '1.3'

/** `provider`, `maxMessageSize`, `maxLineLength` ...: the keys config/endpoint.ts carries to the store as given. */
export interface EndpointConfig extends Pick<EndpointInput, CarriedEndpointKey> {
  host: string
  port: number
  tls: TlsMode
  tlsOptions: TlsOptions
  user: string
  /** Where the password came from (for messages: "the password from env OLD_PW was refused"). */
  passwordSource?: SecretSource
  /** The resolved password. Never logged, never written anywhere. */
  password?: string
  /** Login method, authzid, access token source, password prompt (credentials/auth.ts). Default: auto. */
  auth?: AuthConfig
}

/**
 * A local Maildir++ directory in Dovecot's layout (`maildir:/path` wherever an account URL is
 * accepted): backups and restores. No host, login or TLS.
 */
export interface MaildirConfig {
  kind: 'maildir'
  /** Absolute path of the Maildir root (INBOX's cur/ new/ tmp/; folders are .Name directories in it). */
  path: string
}

/** One side of a run: an IMAP account or a Maildir. */
export type StoreConfig = EndpointConfig | MaildirConfig

export function isMaildirConfig(config: StoreConfig): config is MaildirConfig {
  return (config as Partial<MaildirConfig>).kind === 'maildir'
}

/**
 * A run's configuration. `Side` is EndpointConfig (two IMAP accounts) for the commands that need
 * servers on both sides; sync, backup and restore take StoreConfig (either side may be a Maildir).
 */
export interface SyncConfig<Side extends StoreConfig = EndpointConfig> {
  source: Side
  dest: Side
  /** Path of the SQLite state database. */
  statePath: string
  /** Folder mapping rules (config/mapping.ts). Default DEFAULT_MAPPING. */
  mapping?: FolderMappingConfig
  /** Every run setting (config/settings.ts), merged and checked. */
  settings: RunSettings
  /**
   * Per side, the settings its provider preset sets for its store (connections, retries, rates),
   * where the run sets none explicitly; they take precedence over `settings` for that side.
   */
  sideSettings?: Partial<Record<'source' | 'dest', Partial<RunSettings>>>
}

export const DEFAULT_PORTS: Record<TlsMode, number> = {implicit: 993, starttls: 143, none: 143}

/**
 * A safe description of an endpoint for messages and the state DB: "alice@127.0.0.1:1143".
 * Contains no secret.
 */
export function describeEndpoint(endpoint: Pick<EndpointConfig, 'user' | 'host' | 'port'>): string {
  return `${endpoint.user}@${endpoint.host}:${endpoint.port}`
}

/**
 * describeEndpoint for either kind of side: "alice@127.0.0.1:1143" or "maildir:/abs/path". Binds
 * the state database to its accounts, so a Maildir is named by its absolute path.
 */
export function describeStore(config: StoreConfig): string {
  return isMaildirConfig(config) ? `maildir:${config.path}` : describeEndpoint(config)
}
