/**
 * Logging in, at run time: the fetchers and the prompt that the IMAP layer calls for a checked Login
 * (config/auth.ts holds the methods, the token sources and their checks).
 *
 * Access tokens expire (Google, Microsoft: one hour), so they are not resolved once like a
 * password: the endpoint carries a `fetch` function that the IMAP layer calls for every new
 * session when the token it has is stale, and again after the server refused it. tokenCommand is
 * re-run then; oauth2 exchanges the refresh token at tokenUrl (RFC 6749 section 6).
 *
 * Secrets are registered with the redacting logger (src/log.ts) as soon as they are read.
 */
import {CancelledError, ConfigError} from '../errors.js'
import {writePrivateFileSync} from '../files.js'
import {registerSecret} from '../log.js'
import {appTokenFetcher, requestToken} from './app-grants.js'
import type {AuthMethod, Login, OAuth2Refresh, StoredSecret, TokenSource} from '../config/auth.js'
import {modeWarning, readStored, readTextFile, runSecretCommand, secretCommandEnv, type Side} from './secrets.js'

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

/**
 * The runtime AuthConfig of a checked login: token fetchers and the prompt. A token from the
 * environment is read now (a missing variable is a config error before anything connects); the
 * rest when connecting.
 */
export function loginAuth(
  side: Side,
  who: string,
  login: Login,
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform = process.platform,
  commandEnv: NodeJS.ProcessEnv = secretCommandEnv(env, []),
  /** The login user: an app grant's default subject. */
  user?: string,
): {auth: AuthConfig; warnings: string[]} {
  const warnings: string[] = []
  const auth: AuthConfig = {method: login.method}
  if (login.authzid !== undefined) auth.authzid = login.authzid
  if (login.token) auth.token = tokenFetcher(side, login.token, env, platform, warnings, commandEnv, user)
  if (login.prompt) auth.promptPassword = () => promptSecret(`${side} password for ${who}: `)
  return {auth, warnings}
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
