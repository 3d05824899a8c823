/**
 * How an account logs in, as data: the login methods, the token sources, the `oauth2:` section and
 * the checks of their combination. Nothing is read or run here: credentials/ turns a checked Login
 * into the fetchers and the prompt the IMAP layer calls.
 *
 *   authMethod   auto (default: AUTHENTICATE PLAIN when offered, else AUTHENTICATE LOGIN, else LOGIN),
 *                login (the IMAP LOGIN command), plain (AUTHENTICATE PLAIN), sasl-login (AUTHENTICATE LOGIN),
 *                xoauth2 / oauthbearer (an OAuth2 access token; imapflow uses OAUTHBEARER (RFC 7628)
 *                when the server offers it, else XOAUTH2)
 *   authzid      SASL PLAIN authorization identity: log in as an admin, work as this user
 *                (Dovecot master users also accept `user*master` as the user name, with LOGIN)
 *   tokenEnv / tokenFile / tokenCommand / oauth2: {tokenUrl, clientId, clientSecretEnv|File,
 *                refreshTokenEnv|File, scope}, or an app-only grant (app-auth.ts)
 */
import {ConfigError} from '../errors.js'
import {OAUTH2_GRANTS, appGrantSource, validateAppGrant, type AppGrantInput, type AppGrantSource} from './app-auth.js'
import {ConfigKeyError, checkEnvName, checkPath, checkText, describeValue, isMapping} from './checks.js'
import type {SecretSource} from './schema.js'

export const AUTH_METHODS = ['auto', 'login', 'plain', 'sasl-login', 'xoauth2', 'oauthbearer'] as const
export type AuthMethod = (typeof AUTH_METHODS)[number]

/** A secret that is only ever read from the environment or a file. */
export type StoredSecret = {kind: 'env'; name: string} | {kind: 'file'; path: string}

export interface OAuth2Refresh {
  kind: 'oauth2'
  tokenUrl: string
  clientId: string
  clientSecret?: StoredSecret
  refreshToken: StoredSecret
  scope?: string
}

/** Where an access token comes from. */
export type TokenSource = StoredSecret | {kind: 'command'; command: string} | OAuth2Refresh | {kind: 'app'; grant: AppGrantSource}

export interface RefreshTokenInput {
  grant?: 'refresh_token'
  tokenUrl: string
  clientId: string
  clientSecretEnv?: string
  clientSecretFile?: string
  refreshTokenEnv?: string
  refreshTokenFile?: string
  scope?: string
}

/** `oauth2:` as written: a user's refresh token, or an app-only grant (app-auth.ts). */
export type OAuth2Input = RefreshTokenInput | AppGrantInput

export const isAppGrant = (input: OAuth2Input | undefined): input is AppGrantInput => input?.grant !== undefined && input.grant !== 'refresh_token'

const OAUTH2_KEYS = ['grant', 'tokenUrl', 'clientId', 'clientSecretEnv', 'clientSecretFile', 'refreshTokenEnv', 'refreshTokenFile', 'scope'] as const

const given = (value: unknown) => value !== undefined && value !== null

export function checkAuthMethod(value: unknown, label: string, keyPath?: readonly string[]): AuthMethod {
  if (typeof value === 'string' && (AUTH_METHODS as readonly string[]).includes(value.toLowerCase())) {
    return value.toLowerCase() as AuthMethod
  }
  throw new ConfigKeyError(label, `expected one of ${AUTH_METHODS.join(', ')}, got ${typeof value === 'string' ? `"${value}"` : typeof value}`, keyPath)
}

function checkTokenUrl(value: unknown, label: string, keyPath: readonly string[]): string {
  const text = checkText(value, label, 'an https:// URL', keyPath)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new ConfigKeyError(label, 'expected an https:// URL', keyPath)
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new ConfigKeyError(label, 'expected an https:// URL (http:// only on loopback): the refresh token travels in it', keyPath)
  }
  return text
}

/** `side.oauth2`, checked; `label` is "source.oauth2". */
export function checkOAuth2(o: unknown, label: string, keyPath: readonly string[] = []): OAuth2Input {
  // YAML only: the key path is [side, 'oauth2'].
  const side = keyPath[0] ?? label.split('.')[0]
  const path = keyPath.length > 0 ? keyPath : [side, 'oauth2']
  if (!isMapping(o)) throw new ConfigKeyError(label, `expected a mapping (tokenUrl:, clientId:, refreshTokenEnv: ...), got ${describeValue(o)}`, path)
  if (given(o.grant) && !(OAUTH2_GRANTS as readonly unknown[]).includes(o.grant)) {
    throw new ConfigKeyError(`${label}.grant`, `expected one of ${OAUTH2_GRANTS.join(', ')}`, [...path, 'grant'])
  }
  if (given(o.grant) && o.grant !== 'refresh_token') return validateAppGrant(o, side)
  for (const key of Object.keys(o)) {
    if (!(OAUTH2_KEYS as readonly string[]).includes(key)) {
      throw new ConfigKeyError(`${label}.${key}`, `unknown key (known keys: ${OAUTH2_KEYS.join(', ')})`, [...path, key])
    }
  }
  const sub = (key: string): [string, string[]] => [`${label}.${key}`, [...path, key]]
  if (!given(o.tokenUrl)) throw new ConfigKeyError(`${label}.tokenUrl`, 'missing (the token endpoint)', path)
  if (!given(o.clientId)) throw new ConfigKeyError(`${label}.clientId`, 'missing', path)
  const oauth2: RefreshTokenInput = {
    tokenUrl: checkTokenUrl(o.tokenUrl, ...sub('tokenUrl')),
    clientId: checkText(o.clientId, `${label}.clientId`, 'a client id', [...path, 'clientId']),
  }
  if (given(o.clientSecretEnv)) oauth2.clientSecretEnv = checkEnvName(o.clientSecretEnv, ...sub('clientSecretEnv'))
  if (given(o.clientSecretFile)) oauth2.clientSecretFile = checkPath(o.clientSecretFile, ...sub('clientSecretFile'))
  if (given(o.refreshTokenEnv)) oauth2.refreshTokenEnv = checkEnvName(o.refreshTokenEnv, ...sub('refreshTokenEnv'))
  if (given(o.refreshTokenFile)) oauth2.refreshTokenFile = checkPath(o.refreshTokenFile, ...sub('refreshTokenFile'))
  if (given(o.scope)) oauth2.scope = checkText(o.scope, `${label}.scope`, 'scopes separated by spaces', [...path, 'scope'])
  if ((oauth2.refreshTokenEnv === undefined) === (oauth2.refreshTokenFile === undefined)) {
    throw new ConfigKeyError(label, 'give exactly one of refreshTokenEnv and refreshTokenFile', path)
  }
  if (oauth2.clientSecretEnv !== undefined && oauth2.clientSecretFile !== undefined) {
    throw new ConfigKeyError(label, 'give only one of clientSecretEnv and clientSecretFile', path)
  }
  return oauth2
}

/** `oauth2:` (paths resolved by `path`) -> where the token comes from. */
export function oauth2TokenSource(o: OAuth2Input, path: (p: string) => string): TokenSource {
  if (isAppGrant(o)) return {kind: 'app', grant: appGrantSource(o, path)}
  const stored = (env?: string, file?: string): StoredSecret | undefined =>
    env !== undefined ? {kind: 'env', name: env} : file !== undefined ? {kind: 'file', path: path(file)} : undefined
  return {
    kind: 'oauth2',
    tokenUrl: o.tokenUrl,
    clientId: o.clientId,
    clientSecret: stored(o.clientSecretEnv, o.clientSecretFile),
    refreshToken: stored(o.refreshTokenEnv, o.refreshTokenFile)!,
    ...(o.scope === undefined ? {} : {scope: o.scope}),
  }
}

/** The login part of an endpoint as it is assembled from file and flags (EndpointDraft.auth). */
export interface AuthDraft {
  method?: AuthMethod
  authzid?: string
  token?: TokenSource
  prompt?: boolean
}

/** A checked login: the method to use and what it needs. */
export interface Login {
  method: AuthMethod
  authzid?: string
  token?: TokenSource
  prompt?: boolean
}

export const usesToken = (method: AuthMethod | undefined) => method === 'xoauth2' || method === 'oauthbearer'

/** The method and its needs must agree (a token for xoauth2, SASL PLAIN for authzid ...). */
export function checkLogin(side: string, draft: AuthDraft): Login {
  const method = draft.method ?? (draft.token ? 'xoauth2' : 'auto')
  if (usesToken(method) && !draft.token) {
    throw new ConfigError(
      `${side}: authMethod ${method} needs an access token: give ${side}.tokenEnv, tokenFile, tokenCommand or oauth2 (or --${side}-token-env/-file/-command)`,
    )
  }
  if (!usesToken(method) && draft.token) {
    throw new ConfigError(`${side}: a token source is given but authMethod is ${method}; use authMethod: xoauth2 or oauthbearer`)
  }
  if (draft.prompt && usesToken(method)) throw new ConfigError(`${side}: passwordPrompt cannot be combined with authMethod ${method}`)
  if (draft.authzid !== undefined && !['auto', 'plain'].includes(method)) {
    throw new ConfigError(`${side}: authzid works only with SASL PLAIN (authMethod: plain), not ${method}`)
  }
  const login: Login = {method: draft.authzid !== undefined ? 'plain' : method}
  if (draft.authzid !== undefined) login.authzid = draft.authzid
  if (draft.token) login.token = draft.token
  if (draft.prompt) login.prompt = true
  return login
}

/** The environment variables that hold this side's secrets (password, token, client secret, refresh token). */
export function secretEnvNames(passwordSource: SecretSource | undefined, auth: AuthDraft): string[] {
  const names: string[] = []
  if (passwordSource?.kind === 'env') names.push(passwordSource.name)
  const token = auth.token
  if (token?.kind === 'env') names.push(token.name)
  if (token?.kind === 'oauth2') {
    for (const stored of [token.clientSecret, token.refreshToken]) if (stored?.kind === 'env') names.push(stored.name)
  }
  if (token?.kind === 'app' && token.grant.kind === 'client_credentials' && token.grant.secret?.kind === 'env') names.push(token.grant.secret.name)
  return names
}

/** The same names from an endpoint as written in a config file (a batch names every account's). */
export function inputSecretEnvNames(input: {passwordEnv?: string; tokenEnv?: string; oauth2?: OAuth2Input} | undefined): string[] {
  if (!input) return []
  const o = input.oauth2 as {clientSecretEnv?: string; refreshTokenEnv?: string} | undefined
  return [input.passwordEnv, input.tokenEnv, o?.clientSecretEnv, o?.refreshTokenEnv].filter((name): name is string => name !== undefined)
}
