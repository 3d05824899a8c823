/**
 * How an account logs in, and where its credentials come from.
 *
 *   authMethod   auto (default: AUTHENTICATE PLAIN when offered, else AUTHENTICATE LOGIN, else LOGIN),
 *                login (the IMAP LOGIN command), plain (AUTHENTICATE PLAIN), sasl-login (AUTHENTICATE LOGIN),
 *                xoauth2 / oauthbearer (an OAuth2 access token; imapflow uses OAUTHBEARER (RFC 7628)
 *                when the server offers it, else XOAUTH2)
 *   authzid      SASL PLAIN authorization identity: log in as an admin, work as this user
 *                (Dovecot master users also accept `user*master` as the user name, with LOGIN)
 *   passwordEnv / passwordFile / passwordCommand / passwordPrompt
 *   tokenEnv / tokenFile / tokenCommand / oauth2: {tokenUrl, clientId, clientSecretEnv|File,
 *                refreshTokenEnv|File, scope}
 *
 * Access tokens expire (Google, Microsoft: one hour), so they are not resolved once like a
 * password: the endpoint carries a `fetch` function that the IMAP layer calls for every new
 * session when the token it has is stale, and again after the server refused it. tokenCommand is
 * re-run then; oauth2 exchanges the refresh token at tokenUrl (RFC 6749 section 6).
 *
 * Secrets are registered with the redacting logger (src/log.ts) as soon as they are read.
 */
import {execFile, execFileSync} from 'node:child_process'

import {AuthError, CancelledError, ConfigError} from '../errors.js'
import {writePrivateFileSync} from '../files.js'
import {registerSecret} from '../log.js'
import {appTokenFetcher, requestToken} from './app-grants.js'
import {OAUTH2_GRANTS, appGrantSource, validateAppGrant, type AppGrantInput, type AppGrantSource} from '../config/app-auth.js'
import type {SecretSource} from '../config/schema.js'
import {firstLine, modeWarning, readTextFile, type Side} from './secrets.js'
import {ConfigKeyError, checkEnvName, checkPath, checkText} from '../config/checks.js'

export const AUTH_METHODS = ['auto', 'login', 'plain', 'sasl-login', 'xoauth2', 'oauthbearer'] as const
export type AuthMethod = (typeof AUTH_METHODS)[number]

/** Endpoint keys about logging in (config/auth.ts). */
export const AUTH_KEYS = [
  'authMethod',
  'authzid',
  'passwordCommand',
  'passwordPrompt',
  'tokenEnv',
  'tokenFile',
  'tokenCommand',
  'oauth2',
] as const

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

export interface AccessToken {
  accessToken: string
  /** ms since the epoch, when the source says (oauth2 expires_in). */
  expiresAt?: number
}

/** The resolved login of one endpoint (EndpointConfig.auth). */
export interface AuthConfig {
  method: AuthMethod
  authzid?: string
  /** Set for xoauth2 / oauthbearer. */
  token?: {
    /** "tokenCommand", "env MS_TOKEN"... for messages; never the token. */
    describe: string
    /** Whether fetching again can give another token (command, file, oauth2) or not (env). */
    renewable: boolean
    fetch: () => Promise<AccessToken>
  }
  /** Set with passwordPrompt: asks on the terminal, once. */
  promptPassword?: () => Promise<string>
}

/** The auth keys of one endpoint section in the YAML file. */
export interface AuthInput {
  authMethod?: AuthMethod
  authzid?: string
  passwordCommand?: string
  passwordPrompt?: boolean
  tokenEnv?: string
  tokenFile?: string
  tokenCommand?: string
  /** A user's refresh token, or an app-only grant (config/app-auth.ts). */
  oauth2?: RefreshTokenInput | AppGrantInput
}

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

const isAppGrant = (input: AuthInput['oauth2']): input is AppGrantInput => input?.grant !== undefined && input.grant !== 'refresh_token'

// Every AUTH_KEYS entry is a key of AuthInput.
const _authKeysChecked: readonly (keyof AuthInput)[] = AUTH_KEYS
void _authKeysChecked

const OAUTH2_KEYS = ['grant', 'tokenUrl', 'clientId', 'clientSecretEnv', 'clientSecretFile', 'refreshTokenEnv', 'refreshTokenFile', 'scope'] as const

const isMapping = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
const given = (value: unknown) => value !== undefined && value !== null

export function checkAuthMethod(value: unknown, label: string, keyPath?: readonly string[]): AuthMethod {
  if (typeof value === 'string' && (AUTH_METHODS as readonly string[]).includes(value.toLowerCase())) {
    return value.toLowerCase() as AuthMethod
  }
  throw new ConfigKeyError(label, `expected one of ${AUTH_METHODS.join(', ')}, got ${typeof value === 'string' ? `"${value}"` : typeof value}`, keyPath)
}

function checkUrl(value: unknown, label: string, keyPath: readonly string[]): string {
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

/** The auth keys of `value` (one endpoint section), checked. Unknown keys are checked by the caller. */
export function validateAuthInput(value: Record<string, unknown>, side: string): AuthInput {
  const out: AuthInput = {}
  const at = (key: string): [string, string[]] => [`${side}.${key}`, [side, key]]
  if (given(value.authMethod)) out.authMethod = checkAuthMethod(value.authMethod, ...at('authMethod'))
  const passwordKeys = ['passwordEnv', 'passwordFile', 'passwordCommand', 'passwordPrompt'].filter((key) => given(value[key]) && value[key] !== false)
  if (passwordKeys.length > 1) {
    throw new ConfigKeyError(`${side}.${passwordKeys[1]}`, `give only one of ${side}.${passwordKeys.join(` and ${side}.`)}`, [side, passwordKeys[1]])
  }
  if (given(value.authzid)) out.authzid = checkText(value.authzid, `${side}.authzid`, 'a user name', [side, 'authzid'])
  if (given(value.passwordCommand)) out.passwordCommand = checkText(value.passwordCommand, `${side}.passwordCommand`, 'a shell command', [side, 'passwordCommand'])
  if (given(value.passwordPrompt)) {
    if (typeof value.passwordPrompt !== 'boolean') throw new ConfigKeyError(`${side}.passwordPrompt`, 'expected true or false', [side, 'passwordPrompt'])
    out.passwordPrompt = value.passwordPrompt
  }
  if (given(value.tokenEnv)) out.tokenEnv = checkEnvName(value.tokenEnv, ...at('tokenEnv'))
  if (given(value.tokenFile)) out.tokenFile = checkPath(value.tokenFile, ...at('tokenFile'))
  if (given(value.tokenCommand)) out.tokenCommand = checkText(value.tokenCommand, `${side}.tokenCommand`, 'a shell command', [side, 'tokenCommand'])
  if (given(value.oauth2)) {
    const o = value.oauth2
    const path = [side, 'oauth2']
    if (!isMapping(o)) throw new ConfigKeyError(`${side}.oauth2`, 'expected a mapping (tokenUrl:, clientId:, refreshTokenEnv: ...)', path)
    if (given(o.grant) && !(OAUTH2_GRANTS as readonly unknown[]).includes(o.grant)) {
      throw new ConfigKeyError(`${side}.oauth2.grant`, `expected one of ${OAUTH2_GRANTS.join(', ')}`, [...path, 'grant'])
    }
    if (given(o.grant) && o.grant !== 'refresh_token') {
      out.oauth2 = validateAppGrant(o, side)
      return out
    }
    for (const key of Object.keys(o)) {
      if (!(OAUTH2_KEYS as readonly string[]).includes(key)) {
        throw new ConfigKeyError(`${side}.oauth2.${key}`, `unknown key (known keys: ${OAUTH2_KEYS.join(', ')})`, [...path, key])
      }
    }
    const sub = (key: string): [string, string[]] => [`${side}.oauth2.${key}`, [...path, key]]
    if (!given(o.tokenUrl)) throw new ConfigKeyError(`${side}.oauth2.tokenUrl`, 'missing (the token endpoint)', path)
    if (!given(o.clientId)) throw new ConfigKeyError(`${side}.oauth2.clientId`, 'missing', path)
    const oauth2: RefreshTokenInput = {
      tokenUrl: checkUrl(o.tokenUrl, ...sub('tokenUrl')),
      clientId: checkText(o.clientId, `${side}.oauth2.clientId`, 'a client id', [...path, 'clientId']),
    }
    if (given(o.clientSecretEnv)) oauth2.clientSecretEnv = checkEnvName(o.clientSecretEnv, ...sub('clientSecretEnv'))
    if (given(o.clientSecretFile)) oauth2.clientSecretFile = checkPath(o.clientSecretFile, ...sub('clientSecretFile'))
    if (given(o.refreshTokenEnv)) oauth2.refreshTokenEnv = checkEnvName(o.refreshTokenEnv, ...sub('refreshTokenEnv'))
    if (given(o.refreshTokenFile)) oauth2.refreshTokenFile = checkPath(o.refreshTokenFile, ...sub('refreshTokenFile'))
    if (given(o.scope)) oauth2.scope = checkText(o.scope, `${side}.oauth2.scope`, 'scopes separated by spaces', [...path, 'scope'])
    if ((oauth2.refreshTokenEnv === undefined) === (oauth2.refreshTokenFile === undefined)) {
      throw new ConfigKeyError(`${side}.oauth2`, 'give exactly one of refreshTokenEnv and refreshTokenFile', path)
    }
    if (oauth2.clientSecretEnv !== undefined && oauth2.clientSecretFile !== undefined) {
      throw new ConfigKeyError(`${side}.oauth2`, 'give only one of clientSecretEnv and clientSecretFile', path)
    }
    out.oauth2 = oauth2
  }
  return out
}

/** The auth part of an endpoint as it is assembled from file and flags (load.ts EndpointDraft.auth). */
export interface AuthDraft {
  method?: AuthMethod
  authzid?: string
  token?: TokenSource
  prompt?: boolean
}

/** AuthInput (paths already resolved by `path`) -> draft. Password sources go to EndpointDraft.secret. */
export function authDraftFromInput(input: AuthInput, path: (p: string) => string): {auth: AuthDraft; secret?: SecretSource} {
  const auth: AuthDraft = {}
  if (input.authMethod !== undefined) auth.method = input.authMethod
  if (input.authzid !== undefined) auth.authzid = input.authzid
  if (input.passwordPrompt) auth.prompt = true
  if (input.tokenEnv !== undefined) auth.token = {kind: 'env', name: input.tokenEnv}
  if (input.tokenFile !== undefined) auth.token = {kind: 'file', path: path(input.tokenFile)}
  if (input.tokenCommand !== undefined) auth.token = {kind: 'command', command: input.tokenCommand}
  if (isAppGrant(input.oauth2)) auth.token = {kind: 'app', grant: appGrantSource(input.oauth2, path)}
  else if (input.oauth2 !== undefined) {
    const o = input.oauth2
    const stored = (env?: string, file?: string): StoredSecret | undefined =>
      env !== undefined ? {kind: 'env', name: env} : file !== undefined ? {kind: 'file', path: path(file)} : undefined
    auth.token = {
      kind: 'oauth2',
      tokenUrl: o.tokenUrl,
      clientId: o.clientId,
      clientSecret: stored(o.clientSecretEnv, o.clientSecretFile),
      refreshToken: stored(o.refreshTokenEnv, o.refreshTokenFile)!,
      ...(o.scope === undefined ? {} : {scope: o.scope}),
    }
  }
  const tokenSources = [input.tokenEnv, input.tokenFile, input.tokenCommand, input.oauth2].filter((v) => v !== undefined).length
  if (tokenSources > 1) throw new ConfigError('give only one of tokenEnv, tokenFile, tokenCommand and oauth2')
  return {auth, secret: input.passwordCommand === undefined ? undefined : {kind: 'command', command: input.passwordCommand}}
}

export const usesToken = (method: AuthMethod | undefined) => method === 'xoauth2' || method === 'oauthbearer'

/**
 * Checks the combination and builds the runtime AuthConfig (no secret is read here, except that
 * nothing is: tokens are fetched by the IMAP layer through `fetch`).
 */
export function finalizeAuth(
  side: Side,
  who: string,
  draft: AuthDraft,
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform = process.platform,
  commandEnv: NodeJS.ProcessEnv = secretCommandEnv(env, []),
  /** The login user: an app grant's default subject. */
  user?: string,
): {auth: AuthConfig; warnings: string[]} {
  const method = draft.method ?? (draft.token ? 'xoauth2' : 'auto')
  const warnings: string[] = []
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
  const auth: AuthConfig = {method: draft.authzid !== undefined ? 'plain' : method}
  if (draft.authzid !== undefined) auth.authzid = draft.authzid
  if (draft.token) auth.token = tokenFetcher(side, draft.token, env, platform, warnings, commandEnv, user)
  if (draft.prompt) auth.promptPassword = () => promptSecret(`${side} password for ${who}: `)
  return {auth, warnings}
}

// ---------------------------------------------------------------------------------------------
// Reading secrets

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
export function inputSecretEnvNames(input: (AuthInput & {passwordEnv?: string}) | undefined): string[] {
  if (!input) return []
  const o = input.oauth2 as {clientSecretEnv?: string; refreshTokenEnv?: string} | undefined
  return [input.passwordEnv, input.tokenEnv, o?.clientSecretEnv, o?.refreshTokenEnv].filter((name): name is string => name !== undefined)
}

/**
 * The environment of passwordCommand and tokenCommand: the caller's, without the variables that hold
 * secrets (`secretNames`: both sides', so a command for one side never sees the other's password)
 * and without mailferry's own MAILFERRY_* variables. PATH, HOME, GNUPGHOME, PASSWORD_STORE_DIR and
 * the rest stay: `pass` and gpg need them.
 */
export function secretCommandEnv(env: NodeJS.ProcessEnv, secretNames: Iterable<string>): NodeJS.ProcessEnv {
  const drop = new Set(secretNames)
  return Object.fromEntries(Object.entries(env).filter(([name]) => !drop.has(name) && !name.toUpperCase().startsWith('MAILFERRY_')))
}

function readStored(side: Side, what: string, source: StoredSecret, env: NodeJS.ProcessEnv, platform: NodeJS.Platform, warnings?: string[]): string {
  if (source.kind === 'env') {
    const value = env[source.name]
    if (value === undefined || value === '') throw new ConfigError(`${side} ${what}: environment variable ${source.name} is ${value === undefined ? 'not set' : 'empty'}`)
    registerSecret(value)
    return value
  }
  const label = `${side} ${what} file`
  const {text, mode} = readTextFile(source.path, label)
  const value = firstLine(text).trim()
  if (value === '') throw new ConfigError(`${label} ${source.path} is empty`)
  registerSecret(value)
  const warning = modeWarning(source.path, mode, label, 'it should be 0600', platform)
  if (warning && warnings && !warnings.includes(warning)) warnings.push(warning)
  return value
}

/** Runs `command` with /bin/sh; its first line of output is the secret. Synchronous (config time). */
export function runSecretCommandSync(side: Side, what: string, command: string, env: NodeJS.ProcessEnv): string {
  let output: string
  try {
    // stdin and stderr stay the terminal's: `pass` and gpg may ask for a passphrase.
    output = execFileSync('/bin/sh', ['-c', command], {encoding: 'utf8', env, stdio: ['inherit', 'pipe', 'inherit'], timeout: 120_000})
  } catch (error) {
    const status = (error as {status?: number | null}).status
    throw new ConfigError(`${side} ${what}: the command failed${status ? ` (exit ${status})` : ''}`, {cause: undefined})
  }
  const value = firstLine(output).trim()
  if (value === '') throw new ConfigError(`${side} ${what}: the command printed nothing`)
  registerSecret(value)
  return value
}

function runSecretCommand(side: Side, what: string, command: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', command], {encoding: 'utf8', env, timeout: 120_000}, (error, stdout) => {
      if (error) {
        // Never the output: it may hold half a token.
        const code = (error as {code?: unknown}).code
        return reject(new AuthError(`${side} ${what}: the command failed${typeof code === 'number' ? ` (exit ${code})` : ''}`))
      }
      const value = firstLine(stdout).trim()
      if (value === '') return reject(new AuthError(`${side} ${what}: the command printed nothing`))
      registerSecret(value)
      resolve(value)
    })
  })
}

function tokenFetcher(
  side: Side,
  source: TokenSource,
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform,
  warnings: string[],
  commandEnv: NodeJS.ProcessEnv,
  user?: string,
): NonNullable<AuthConfig['token']> {
  switch (source.kind) {
    case 'env': {
      // Read now, so a missing variable is a config error before anything connects.
      const token = readStored(side, 'access token', source, env, platform)
      return {describe: `env ${source.name}`, renewable: false, fetch: async () => ({accessToken: token})}
    }
    case 'file': {
      readStored(side, 'access token', source, env, platform, warnings)
      // Re-read on every fetch: another program may keep the file fresh.
      return {
        describe: `file ${source.path}`,
        renewable: true,
        fetch: async () => ({accessToken: readStored(side, 'access token', source, env, platform)}),
      }
    }
    case 'command':
      return {describe: 'tokenCommand', renewable: true, fetch: async () => ({accessToken: await runSecretCommand(side, 'tokenCommand', source.command, commandEnv)})}
    case 'oauth2': {
      const refresh = {token: readStored(side, 'oauth2 refresh token', source.refreshToken, env, platform, warnings)}
      const secret = source.clientSecret && readStored(side, 'oauth2 client secret', source.clientSecret, env, platform, warnings)
      return {
        describe: `oauth2 ${new URL(source.tokenUrl).host}`,
        renewable: true,
        fetch: () => refreshAccessToken(side, source, refresh, secret),
      }
    }
    case 'app':
      return appTokenFetcher(source.grant, {
        side,
        user,
        readFile: (path, what) => {
          const {text, mode} = readTextFile(path, `${side} ${what}`)
          const warning = modeWarning(path, mode, `${side} ${what}`, 'it should be 0600', platform)
          if (warning && !warnings.includes(warning)) warnings.push(warning)
          return text
        },
        readSecret: (stored) => readStored(side, 'oauth2 client secret', stored, env, platform, warnings),
        runCommand: (command) => runSecretCommand(side, 'clientSecretCommand', command, commandEnv),
      })
  }
}


/** RFC 6749 section 6: refresh_token grant. A rotated refresh token replaces the old one (see below). */
async function refreshAccessToken(side: Side, source: OAuth2Refresh, refresh: {token: string}, clientSecret: string | undefined): Promise<AccessToken> {
  const body = new URLSearchParams({grant_type: 'refresh_token', refresh_token: refresh.token, client_id: source.clientId})
  if (clientSecret !== undefined) body.set('client_secret', clientSecret)
  if (source.scope !== undefined) body.set('scope', source.scope)
  const {accessToken, expiresAt, json} = await requestToken(source.tokenUrl, body, {
    where: `${side} oauth2 token endpoint ${new URL(source.tokenUrl).host}`,
    // invalid_grant & co: the refresh token is no good, a retry cannot help (exit 3).
    refused: (error) => ({text: `refused the refresh token: ${error}`, hint: 'get a new refresh token (re-consent) and update refreshTokenEnv/refreshTokenFile'}),
  })
  if (typeof json.refresh_token === 'string' && json.refresh_token !== refresh.token) {
    registerSecret(json.refresh_token)
    refresh.token = json.refresh_token
    keepRotatedRefreshToken(side, source.refreshToken, json.refresh_token)
  }
  return {accessToken, expiresAt}
}

/**
 * The endpoint rotated the refresh token (RFC 6749 section 10.4): the old one may now be refused,
 * so a file source is replaced (0600, atomically and durably: files.ts) for the next run. An environment
 * variable cannot be updated: the run goes on with the new token and says so on stderr.
 */
function keepRotatedRefreshToken(side: Side, source: StoredSecret, token: string): void {
  if (source.kind === 'env') {
    process.stderr.write(
      `mailferry: warning: ${side} oauth2: the token endpoint rotated the refresh token; it is kept for this run only ` +
        `(refreshTokenEnv ${source.name} cannot be updated; use refreshTokenFile to have it saved)\n`,
    )
    return
  }
  try {
    writePrivateFileSync(source.path, `${token}\n`)
  } catch (error) {
    process.stderr.write(
      `mailferry: warning: ${side} oauth2: the rotated refresh token could not be saved to ${source.path}: ` +
        `${(error as NodeJS.ErrnoException).code ?? 'write failed'}; the next run may need a new refresh token\n`,
    )
  }
}

// ---------------------------------------------------------------------------------------------
// Terminal prompt

let prompting: Promise<unknown> = Promise.resolve()

/**
 * Asks for a secret on the terminal without echoing it. Prompts are taken one at a time (both
 * sides connect at once). Needs stdin to be a terminal: cron jobs use passwordEnv/File/Command.
 */
export function promptSecret(question: string): Promise<string> {
  const next = prompting.then(() => askHidden(question))
  prompting = next.catch(() => undefined)
  return next
}

function askHidden(question: string): Promise<string> {
  const stdin = process.stdin
  if (!stdin.isTTY) {
    return Promise.reject(new ConfigError(`${question.replace(/:\s*$/, '')}: passwordPrompt needs a terminal (stdin is not one); use passwordEnv, passwordFile or passwordCommand`))
  }
  return new Promise((resolve, reject) => {
    let value = ''
    const finish = (error?: Error) => {
      stdin.off('data', onData)
      stdin.setRawMode(false)
      stdin.pause()
      process.stderr.write('\n')
      if (error) return reject(error)
      if (value === '') return reject(new ConfigError(`${question.replace(/:\s*$/, '')}: no password entered`))
      registerSecret(value)
      resolve(value)
    }
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish()
        if (ch === '\u0003') return finish(new CancelledError('interrupted at the password prompt'))
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1)
        else value += ch
      }
    }
    // Echo off before the question shows: a password typed (or pasted) the moment it appears must
    // not reach the terminal in clear (the pty test caught exactly that).
    stdin.setEncoding('utf8')
    stdin.setRawMode(true)
    stdin.resume()
    stdin.on('data', onData)
    process.stderr.write(question)
  })
}

// ---------------------------------------------------------------------------------------------
// Flags

/** The per-side auth flags (--source-auth-method, --dest-token-command, ...): the YAML keys but oauth2, the method unchecked. */
export type AuthFlagValues = Omit<AuthInput, 'oauth2' | 'authMethod'> & {authMethod?: string}

/** Lays one side's auth flags over the draft (a flag's token or password source replaces the file's). */
export function applyAuthFlags(
  side: Side,
  draft: {auth?: AuthDraft; secret?: SecretSource},
  flags: AuthFlagValues | undefined,
  path: (p: string) => string,
): void {
  if (!flags || Object.values(flags).every((value) => value === undefined)) return
  const auth: AuthDraft = {...draft.auth}
  const tokens = [flags.tokenEnv, flags.tokenFile, flags.tokenCommand].filter((v) => v !== undefined).length
  if (tokens > 1) throw new ConfigKeyError(`--${side}-token-env`, `give only one of --${side}-token-env, --${side}-token-file and --${side}-token-command`)
  if (flags.authMethod !== undefined) auth.method = checkAuthMethod(flags.authMethod, `--${side}-auth-method`)
  if (flags.authzid !== undefined) auth.authzid = checkText(flags.authzid, `--${side}-authzid`, 'a user name')
  if (flags.tokenEnv !== undefined) auth.token = {kind: 'env', name: checkEnvName(flags.tokenEnv, `--${side}-token-env`)}
  if (flags.tokenFile !== undefined) auth.token = {kind: 'file', path: path(checkPath(flags.tokenFile, `--${side}-token-file`))}
  if (flags.tokenCommand !== undefined) {
    auth.token = {kind: 'command', command: checkText(flags.tokenCommand, `--${side}-token-command`, 'a shell command')}
  }
  if (flags.passwordCommand !== undefined) {
    draft.secret = {kind: 'command', command: checkText(flags.passwordCommand, `--${side}-password-command`, 'a shell command')}
    auth.prompt = false
  }
  if (flags.passwordPrompt) {
    auth.prompt = true
    delete draft.secret
  }
  draft.auth = auth
}
