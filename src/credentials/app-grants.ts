/**
 * App-only OAuth2 for migrating a whole tenant without a refresh token per user:
 *
 * - Microsoft 365: the client-credentials grant (RFC 6749 4.4) with a client secret, or with a
 *   certificate: a JWT client assertion signed with its private key (RFC 7523 2.2, Microsoft's
 *   "certificate credentials"). The token is used with XOAUTH2 as the mailbox being migrated.
 * - Google Workspace: a service account with domain-wide delegation, the JWT-bearer grant
 *   (RFC 7523 2.1): a JWT signed with the service account's key, `sub` = the user.
 *
 * Signing uses node's crypto (RS256, RFC 7518 3.3); no dependency. A refused grant is an AuthError
 * (exit 3) carrying the provider's error text and a hint for the usual causes.
 */
import {createHash, createPrivateKey, createSign, randomUUID, X509Certificate, type KeyObject} from 'node:crypto'

import {GOOGLE_TOKEN_URL, type AppGrantSource} from '../config/app-auth.js'
import {AuthError, ConfigError, ConnectError} from '../errors.js'
import {registerSecret} from '../log.js'

export interface GrantedToken {
  accessToken: string
  /** ms since the epoch, from expires_in. */
  expiresAt?: number
}


const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url')

/** A compact JWS with RS256 (RFC 7515 7.1): header.claims.signature, each base64url. */
export function signJwt(header: Record<string, unknown>, claims: Record<string, unknown>, key: KeyObject): string {
  const input = `${base64url(JSON.stringify({alg: 'RS256', typ: 'JWT', ...header}))}.${base64url(JSON.stringify(claims))}`
  const signature = createSign('RSA-SHA256').update(input).sign(key)
  return `${input}.${base64url(signature)}`
}

export interface ClientCredentials {
  tokenUrl: string
  clientId: string
  scope: string
  /** Either a client secret ... */
  clientSecret?: string
  /** ... or a certificate (PEM) and its private key (PEM). */
  certificate?: {certificatePem: string; privateKeyPem: string}
}

/**
 * RFC 6749 4.4 client_credentials. With a certificate, the client authenticates with a JWT
 * assertion (RFC 7523 2.2): iss = sub = client id, aud = the token endpoint, a unique jti, five
 * minutes of life, and the certificate's SHA-256 thumbprint in the header (`x5t#S256`) and its
 * SHA-1 one (`x5t`), which Microsoft's endpoint still looks for.
 */
export async function clientCredentialsGrant(input: ClientCredentials, now = Date.now()): Promise<GrantedToken> {
  const body = new URLSearchParams({grant_type: 'client_credentials', client_id: input.clientId, scope: input.scope})
  if (input.certificate) {
    const certificate = new X509Certificate(input.certificate.certificatePem)
    const key = createPrivateKey(input.certificate.privateKeyPem)
    const iat = Math.floor(now / 1000)
    const assertion = signJwt(
      {x5t: base64url(createHash('sha1').update(certificate.raw).digest()), 'x5t#S256': base64url(createHash('sha256').update(certificate.raw).digest())},
      {iss: input.clientId, sub: input.clientId, aud: input.tokenUrl, jti: randomUUID(), iat, nbf: iat, exp: iat + 300},
      key,
    )
    body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
    body.set('client_assertion', assertion)
  } else if (input.clientSecret !== undefined) {
    registerSecret(input.clientSecret)
    body.set('client_secret', input.clientSecret)
  } else {
    throw new AuthError('oauth2 client credentials: give a client secret or a certificate and its private key')
  }
  return requestAppToken(input.tokenUrl, body, now)
}

export interface ServiceAccount {
  /** The service account's e-mail (client_email in its JSON key). */
  clientEmail: string
  privateKeyPem: string
  /** The user whose mailbox is opened (domain-wide delegation). */
  subject: string
  scope: string
  tokenUrl: string
}

/** The fields of a Google service-account JSON key file that the grant needs. */
export function parseServiceAccountKey(json: string, where: string): {clientEmail: string; privateKeyPem: string; tokenUrl: string} {
  let key: Record<string, unknown>
  try {
    key = JSON.parse(json) as Record<string, unknown>
  } catch {
    throw new AuthError(`${where}: not a JSON service-account key`)
  }
  if (typeof key.client_email !== 'string' || typeof key.private_key !== 'string') {
    throw new AuthError(`${where}: a service-account key needs client_email and private_key`, {
      hint: 'download a JSON key for the service account (IAM > Service accounts > Keys)',
    })
  }
  registerSecret(key.private_key)
  return {clientEmail: key.client_email, privateKeyPem: key.private_key, tokenUrl: typeof key.token_uri === 'string' ? key.token_uri : GOOGLE_TOKEN_URL}
}

/** RFC 7523 2.1 JWT bearer: iss = the service account, sub = the user, one hour at most. */
export async function jwtBearerGrant(input: ServiceAccount, now = Date.now()): Promise<GrantedToken> {
  const iat = Math.floor(now / 1000)
  const assertion = signJwt(
    {},
    {iss: input.clientEmail, sub: input.subject, scope: input.scope, aud: input.tokenUrl, iat, exp: iat + 3600},
    createPrivateKey(input.privateKeyPem),
  )
  const body = new URLSearchParams({grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion})
  return requestAppToken(input.tokenUrl, body, now)
}

/** Why a provider refuses an app grant, in words an admin can act on (codes from their docs). */
export function grantHint(error: string, description: string): string {
  const text = `${error} ${description}`
  if (/AADSTS90002|AADSTS900023|tenant.*not found/i.test(text)) return 'check the tenant id or domain'
  if (/AADSTS700016|application .* was not found/i.test(text)) return 'check the client id: the app is not registered in this tenant'
  if (/AADSTS7000215|AADSTS7000222|invalid client secret|expired/i.test(text)) return 'the client secret is wrong or expired: create a new one'
  if (/AADSTS700027|AADSTS700023|certificate|assertion/i.test(text)) return 'the certificate is not the one uploaded to the app registration, or its key does not match it'
  if (/unauthorized_client/i.test(text)) return 'domain-wide delegation is not authorised for this client id and scope (Admin console > Security > API controls)'
  if (/invalid_grant/i.test(text)) return 'check the user (sub), the key, and that the machine clock is right'
  return 'check the app registration, its API permission (IMAP.AccessAsApp) and admin consent'
}

export interface TokenRequest {
  /** "source oauth2 token endpoint login.example" for messages. */
  where: string
  /** What a 4xx answer means (error code, first line of its description): the AuthError's text and hint. */
  refused: (error: string, description: string) => {text: string; hint: string}
  now?: number
}

/**
 * POSTs a token request form (RFC 6749 3.2) and returns the token with the whole JSON answer (a
 * refresh may carry a rotated refresh token). A 4xx is an AuthError (exit 3: a retry cannot help);
 * an unreachable endpoint or a 5xx a transient ConnectError.
 */
export async function requestToken(tokenUrl: string, body: URLSearchParams, request: TokenRequest): Promise<GrantedToken & {json: Record<string, unknown>}> {
  const {where} = request
  let response: Response
  try {
    response = await fetch(tokenUrl, {
      method: 'POST',
      headers: {'content-type': 'application/x-www-form-urlencoded', accept: 'application/json'},
      body,
      signal: AbortSignal.timeout(30_000),
    })
  } catch (error) {
    throw new ConnectError(`${where}: cannot reach it: ${(error as Error).message}`, {transient: true, cause: error})
  }
  let json: Record<string, unknown> = {}
  try {
    json = (await response.json()) as Record<string, unknown>
  } catch {
    // not JSON: reported below by status
  }
  if (!response.ok || typeof json.access_token !== 'string') {
    const error = typeof json.error === 'string' ? json.error : `HTTP ${response.status}`
    // The provider's own words, first line only (Microsoft appends trace and correlation ids).
    const description = typeof json.error_description === 'string' ? json.error_description.split(/\r?\n/)[0].trim() : ''
    if (response.status >= 400 && response.status < 500) {
      const {text, hint} = request.refused(error, description)
      throw new AuthError(`${where} ${text}`, {hint})
    }
    throw new ConnectError(`${where}: ${error}`, {transient: true})
  }
  registerSecret(json.access_token)
  const expiresIn = Number(json.expires_in)
  const now = request.now ?? Date.now()
  return {accessToken: json.access_token, expiresAt: Number.isFinite(expiresIn) && expiresIn > 0 ? now + expiresIn * 1000 : undefined, json}
}

/** An app grant's request: a refusal names the grant and the provider's words, with grantHint's advice. */
async function requestAppToken(tokenUrl: string, body: URLSearchParams, now: number): Promise<GrantedToken> {
  const {accessToken, expiresAt} = await requestToken(tokenUrl, body, {
    where: `oauth2 token endpoint ${new URL(tokenUrl).host}`,
    refused: (error, description) => ({text: `refused the grant: ${error}${description ? `: ${description}` : ''}`, hint: grantHint(error, description)}),
    now,
  })
  return {accessToken, expiresAt}
}

/** What appTokenFetcher needs from the config layer: reading files and secrets, running commands. */
export interface AppGrantIO {
  side: string
  /** The login user: the default subject of a service account. */
  user?: string
  readFile(path: string, what: string): string
  readSecret(source: {kind: 'env'; name: string} | {kind: 'file'; path: string}): string
  runCommand(command: string): Promise<string>
}

/**
 * The token source of an app grant. Files and stored secrets are read now, so a missing one is a
 * config error before anything connects; a command-held client secret runs at each fetch.
 */
export function appTokenFetcher(grant: AppGrantSource, io: AppGrantIO): {describe: string; renewable: boolean; fetch: () => Promise<GrantedToken>} {
  if (grant.kind === 'service_account') {
    const key = parseServiceAccountKey(io.readFile(grant.keyFile, 'service-account key'), `${io.side} service-account key ${grant.keyFile}`)
    const subject = grant.subject ?? io.user
    if (subject === undefined) throw new ConfigError(`${io.side}.oauth2.subject: missing (the user whose mailbox is opened)`)
    return {describe: `service account ${key.clientEmail}`, renewable: true, fetch: () => jwtBearerGrant({...key, subject, scope: grant.scope})}
  }
  const certificate = grant.certificate && {
    certificatePem: io.readFile(grant.certificate.certificateFile, 'oauth2 certificate'),
    privateKeyPem: io.readFile(grant.certificate.privateKeyFile, 'oauth2 private key'),
  }
  if (certificate) registerSecret(certificate.privateKeyPem)
  const secret = grant.secret
  const stored = secret && secret.kind !== 'command' ? io.readSecret(secret) : undefined
  return {
    describe: `oauth2 client credentials at ${new URL(grant.tokenUrl).host}`,
    renewable: true,
    fetch: async () => {
      const clientSecret = secret?.kind === 'command' ? await io.runCommand(secret.command) : stored
      return clientCredentialsGrant({tokenUrl: grant.tokenUrl, clientId: grant.clientId, scope: grant.scope, clientSecret, certificate})
    },
  }
}
