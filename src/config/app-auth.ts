/**
 * App-only logins for cloud tenants, as YAML under a side's `oauth2:` with a `grant:`
 * (credentials/app-grants.ts does the requests; README "Microsoft 365 and Google Workspace"):
 *
 *   oauth2:                                   oauth2:
 *     grant: client_credentials  # M365         grant: service_account  # Google Workspace
 *     tenant: contoso.onmicrosoft.com           keyFile: migrator-key.json
 *     clientId: 0f1e...                         subject: alice@example.com  # default: the login user
 *     clientSecretEnv: M365_SECRET              scope: https://mail.google.com/   # the default
 *     # or clientSecretFile / clientSecretCommand, or certificateFile + privateKeyFile
 *
 * Plain data and validation; nothing is read here.
 */
import {ConfigKeyError, checkEnvName, checkPath, checkText} from './checks.js'

/** Microsoft's endpoint for a tenant (id or domain). */
export const microsoftTokenUrl = (tenant: string) => `https://login.microsoftonline.com/${encodeURIComponent(tenant)}/oauth2/v2.0/token`
export const MICROSOFT_IMAP_SCOPE = 'https://outlook.office365.com/.default'
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token'
export const GOOGLE_MAIL_SCOPE = 'https://mail.google.com/'

export const OAUTH2_GRANTS = ['refresh_token', 'client_credentials', 'service_account'] as const

export interface ClientCredentialsInput {
  grant: 'client_credentials'
  tokenUrl?: string
  tenant?: string
  clientId: string
  clientSecretEnv?: string
  clientSecretFile?: string
  clientSecretCommand?: string
  certificateFile?: string
  privateKeyFile?: string
  scope?: string
}

export interface ServiceAccountInput {
  grant: 'service_account'
  keyFile: string
  subject?: string
  scope?: string
}

export type AppGrantInput = ClientCredentialsInput | ServiceAccountInput

/** Where a client secret comes from: like a password, never the YAML itself. */
export type ClientSecretSource = {kind: 'env'; name: string} | {kind: 'file'; path: string} | {kind: 'command'; command: string}

/** The resolved app grant of one side (paths resolved, defaults filled in). */
export type AppGrantSource =
  | {kind: 'client_credentials'; tokenUrl: string; clientId: string; scope: string; secret?: ClientSecretSource; certificate?: {certificateFile: string; privateKeyFile: string}}
  | {kind: 'service_account'; keyFile: string; subject?: string; scope: string}

const KEYS = {
  client_credentials: ['grant', 'tokenUrl', 'tenant', 'clientId', 'clientSecretEnv', 'clientSecretFile', 'clientSecretCommand', 'certificateFile', 'privateKeyFile', 'scope'],
  service_account: ['grant', 'keyFile', 'subject', 'scope'],
} as const

const given = (value: unknown) => value !== undefined && value !== null

/** `side.oauth2` with a grant other than refresh_token, checked. */
export function validateAppGrant(o: Record<string, unknown>, side: string): AppGrantInput {
  const path = [side, 'oauth2']
  const at = (key: string): [string, string[]] => [`${side}.oauth2.${key}`, [...path, key]]
  const grant = o.grant as 'client_credentials' | 'service_account'
  for (const key of Object.keys(o)) {
    if (!(KEYS[grant] as readonly string[]).includes(key)) {
      throw new ConfigKeyError(`${side}.oauth2.${key}`, `not a key of grant ${grant} (its keys: ${KEYS[grant].join(', ')})`, [...path, key])
    }
  }
  if (grant === 'service_account') {
    if (!given(o.keyFile)) throw new ConfigKeyError(`${side}.oauth2.keyFile`, "missing (the service account's JSON key)", path)
    const out: ServiceAccountInput = {grant, keyFile: checkPath(o.keyFile, ...at('keyFile'))}
    if (given(o.subject)) out.subject = checkText(o.subject, `${side}.oauth2.subject`, 'a user (e-mail address)', [...path, 'subject'])
    if (given(o.scope)) out.scope = checkText(o.scope, `${side}.oauth2.scope`, 'scopes separated by spaces', [...path, 'scope'])
    return out
  }
  if (!given(o.clientId)) throw new ConfigKeyError(`${side}.oauth2.clientId`, 'missing (the app registration\'s client id)', path)
  if (given(o.tenant) === given(o.tokenUrl)) throw new ConfigKeyError(`${side}.oauth2`, 'give exactly one of tenant and tokenUrl', path)
  const out: ClientCredentialsInput = {grant, clientId: checkText(o.clientId, `${side}.oauth2.clientId`, 'a client id', [...path, 'clientId'])}
  if (given(o.tenant)) out.tenant = checkText(o.tenant, `${side}.oauth2.tenant`, 'a tenant id or domain', [...path, 'tenant'])
  if (given(o.tokenUrl)) out.tokenUrl = checkText(o.tokenUrl, `${side}.oauth2.tokenUrl`, 'an https:// URL', [...path, 'tokenUrl'])
  if (given(o.clientSecretEnv)) out.clientSecretEnv = checkEnvName(o.clientSecretEnv, ...at('clientSecretEnv'))
  if (given(o.clientSecretFile)) out.clientSecretFile = checkPath(o.clientSecretFile, ...at('clientSecretFile'))
  if (given(o.clientSecretCommand)) out.clientSecretCommand = checkText(o.clientSecretCommand, `${side}.oauth2.clientSecretCommand`, 'a shell command', [...path, 'clientSecretCommand'])
  if (given(o.certificateFile)) out.certificateFile = checkPath(o.certificateFile, ...at('certificateFile'))
  if (given(o.privateKeyFile)) out.privateKeyFile = checkPath(o.privateKeyFile, ...at('privateKeyFile'))
  if (given(o.scope)) out.scope = checkText(o.scope, `${side}.oauth2.scope`, 'scopes separated by spaces', [...path, 'scope'])
  const secrets = [out.clientSecretEnv, out.clientSecretFile, out.clientSecretCommand].filter((v) => v !== undefined).length
  const certificate = out.certificateFile !== undefined || out.privateKeyFile !== undefined
  if (certificate && (out.certificateFile === undefined || out.privateKeyFile === undefined)) {
    throw new ConfigKeyError(`${side}.oauth2`, 'a certificate needs both certificateFile and privateKeyFile', path)
  }
  if (secrets + (certificate ? 1 : 0) !== 1) {
    throw new ConfigKeyError(`${side}.oauth2`, 'give one client credential: clientSecretEnv, clientSecretFile, clientSecretCommand, or certificateFile with privateKeyFile', path)
  }
  return out
}

/** The checked input with paths resolved and the providers' defaults filled in. */
export function appGrantSource(input: AppGrantInput, path: (p: string) => string): AppGrantSource {
  if (input.grant === 'service_account') {
    return {kind: 'service_account', keyFile: path(input.keyFile), subject: input.subject, scope: input.scope ?? GOOGLE_MAIL_SCOPE}
  }
  const secret: ClientSecretSource | undefined =
    input.clientSecretEnv !== undefined
      ? {kind: 'env', name: input.clientSecretEnv}
      : input.clientSecretFile !== undefined
        ? {kind: 'file', path: path(input.clientSecretFile)}
        : input.clientSecretCommand !== undefined
          ? {kind: 'command', command: input.clientSecretCommand}
          : undefined
  return {
    kind: 'client_credentials',
    tokenUrl: input.tokenUrl ?? microsoftTokenUrl(input.tenant!),
    clientId: input.clientId,
    scope: input.scope ?? MICROSOFT_IMAP_SCOPE,
    ...(secret ? {secret} : {}),
    ...(input.certificateFile !== undefined ? {certificate: {certificateFile: path(input.certificateFile), privateKeyFile: path(input.privateKeyFile!)}} : {}),
  }
}
