/**
 * The credentials a new session logs in with, per endpoint: the password, or an OAuth2 access
 * token that is fetched again when it is stale or was refused (credentials/auth.ts says where from).
 */
import type {AuthMethod} from '../config/auth.js'
import type {AccessToken} from '../credentials/auth.js'
import type {EndpointConfig} from '../config/schema.js'
import {ConfigError} from '../errors.js'

export interface SessionSecret {
  pass?: string
  accessToken?: string
}

/** A token without an expiry (tokenCommand, tokenFile) is used for sessions opened within this time. */
export const UNDATED_TOKEN_MS = 60_000
/** A dated token is renewed this long before it expires (less for very short-lived ones). */
const EXPIRY_MARGIN_MS = 60_000

/** imapflow's auth.loginMethod for our authMethod. */
export function loginMethod(method: AuthMethod | undefined): string | undefined {
  switch (method) {
    case 'login':
      return 'LOGIN'
    case 'plain':
      return 'AUTH=PLAIN'
    case 'sasl-login':
      return 'AUTH=LOGIN'
    default:
      return undefined
  }
}

export class Credentials {
  readonly #endpoint: EndpointConfig
  readonly #now: () => number
  #token?: AccessToken & {fetchedAt: number}
  #pending?: Promise<AccessToken & {fetchedAt: number}>
  #password?: Promise<string>

  constructor(endpoint: EndpointConfig, now: () => number = Date.now) {
    this.#endpoint = endpoint
    this.#now = now
  }

  /** True when asking again may give a different secret (a refreshed token). */
  get renewable(): boolean {
    return this.#endpoint.auth?.token?.renewable ?? false
  }

  /** "the access token from tokenCommand", "the password from env OLD_PW", for hints. */
  describe(): string {
    const token = this.#endpoint.auth?.token
    if (token) return `the access token from ${token.describe}`
    const source = this.#endpoint.passwordSource
    if (source?.kind === 'env') return `the password from env ${source.name}`
    if (source?.kind === 'file') return `the password from file ${source.path}`
    if (source?.kind === 'command') return 'the password from passwordCommand'
    return 'the password'
  }

  async get(): Promise<SessionSecret> {
    const auth = this.#endpoint.auth
    if (auth?.token) return {accessToken: (await this.#freshToken()).accessToken}
    if (this.#endpoint.password !== undefined) return {pass: this.#endpoint.password}
    if (auth?.promptPassword) {
      this.#password ??= auth.promptPassword()
      return {pass: await this.#password}
    }
    throw new ConfigError(`${this.#endpoint.user}@${this.#endpoint.host}: no password resolved`)
  }

  /** The server refused the token: the next get() fetches a new one. */
  invalidate(): void {
    this.#token = undefined
  }

  async #freshToken(): Promise<AccessToken & {fetchedAt: number}> {
    const token = this.#token
    if (token && !this.#stale(token)) return token
    // Sessions opened together share one fetch (one tokenCommand run, one refresh request).
    this.#pending ??= this.#endpoint.auth!.token!.fetch().then(
      (fetched) => {
        this.#pending = undefined
        this.#token = {...fetched, fetchedAt: this.#now()}
        return this.#token
      },
      (error) => {
        this.#pending = undefined
        throw error
      },
    )
    return this.#pending
  }

  #stale(token: AccessToken & {fetchedAt: number}): boolean {
    const now = this.#now()
    if (token.expiresAt !== undefined) {
      const lifetime = token.expiresAt - token.fetchedAt
      return now >= token.expiresAt - Math.min(EXPIRY_MARGIN_MS, lifetime / 4)
    }
    if (!this.renewable) return false
    return now - token.fetchedAt > UNDATED_TOKEN_MS
  }
}
