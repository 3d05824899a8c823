/**
 * The keys of one side (`source:` / `dest:` in YAML), each declared once: its parser, its flag
 * (`--source-<key>` and `--dest-<key>` in kebab-case; the URL is `--source` / `--dest` itself),
 * its group and its help. The YAML validation, the flags (cli/flags.ts), the flag values' type and
 * the draft a side is assembled from are all derived from ENDPOINT_KEYS.
 *
 * Precedence per side: provider preset < file < flags. Within a layer, `url` is the address as a
 * whole (host, port, user, TLS mode); a flag's URL replaces the file's address, a flag's password
 * source replaces the file's (or its prompt), a flag's token source replaces the file's.
 */
import {AUTH_METHODS, checkAuthMethod, checkOAuth2, oauth2TokenSource, type AuthDraft} from './auth.js'
import {
  checkBoolean,
  checkEnvName,
  checkHost,
  checkKnownKeys,
  checkMinTls,
  checkPath,
  checkPort,
  checkText,
  checkTlsMode,
  checkUser,
  describeValue,
  fail,
  isMapping,
} from './checks.js'
import {PROVIDER_NAMES, PROVIDERS, checkProvider} from './providers.js'
import {TLS_MODES, type SecretSource} from './schema.js'
import {isMaildirUrl, parseImapUrl, parseMaildirUrl} from './url.js'

export type Side = 'source' | 'dest'
export const SIDES: readonly Side[] = ['source', 'dest']

/** How a key's value merges across layers: a later layer's address, password or token replaces the earlier one whole. */
export type EndpointGroup = 'preset' | 'address' | 'password' | 'token' | 'login' | 'tls' | 'limits'

export interface EndpointKey<T> {
  kind: 'text' | 'path' | 'integer' | 'boolean' | 'mapping'
  group: EndpointGroup
  /** 'side': --source-<key> / --dest-<key> (the default); 'shared': one flag for both sides; false: YAML only. */
  flag?: 'side' | 'shared' | false
  /** The sides it means something for (default both): what an account accepts is about the destination. */
  sides?: readonly Side[]
  /** The flag's choices (oclif lists them in --help). */
  options?: readonly string[]
  /** `who` is "source" or "destination". */
  help: (who: string) => string
  parse(value: unknown, label: string, keyPath?: readonly string[]): T
}

/** An entry, its group and flag kept as literal types (the derived types below read them). */
function key<T, const G extends EndpointGroup, const F extends EndpointKey<T>['flag'] = 'side'>(
  spec: Omit<EndpointKey<T>, 'group' | 'flag'> & {group: G; flag?: F},
): EndpointKey<T> & {group: G; flag: F} {
  return spec as EndpointKey<T> & {group: G; flag: F}
}

const text = (what: string) => (value: unknown, label: string, keyPath?: readonly string[]) => checkText(value, label, what, keyPath)

function positiveInteger(value: unknown, label: string, keyPath?: readonly string[]): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) return value
  return fail(label, `expected an integer of at least 1, got ${describeValue(value)}`, keyPath)
}

export const ENDPOINT_KEYS = {
  url: key({
    kind: 'text',
    group: 'address',
    help: (who) => `${who === 'source' ? 'Source' : 'Destination'} account URL: imaps://user@host:port (TLS) or imap://user@host:port (STARTTLS); or maildir:/path.`,
    parse: text('an imaps://, imap:// or maildir: URL'),
  }),
  host: key({kind: 'text', group: 'address', help: (who) => `The ${who} host (instead of the URL's, or with --${who === 'source' ? 'source' : 'dest'}-provider).`, parse: checkHost}),
  port: key({kind: 'integer', group: 'address', help: (who) => `The ${who} port (default: 993 with implicit TLS, else 143).`, parse: checkPort}),
  tls: key({kind: 'text', group: 'address', options: TLS_MODES, help: (who) => `Override the ${who} TLS mode (none = plaintext, loopback only).`, parse: checkTlsMode}),
  user: key({kind: 'text', group: 'address', help: (who) => `The ${who} login user.`, parse: checkUser}),
  passwordEnv: key({kind: 'text', group: 'password', help: (who) => `Environment variable holding the ${who} password.`, parse: checkEnvName}),
  passwordFile: key({kind: 'path', group: 'password', help: (who) => `File holding the ${who} password (first line).`, parse: checkPath}),
  passwordCommand: key({
    kind: 'text',
    group: 'password',
    help: (who) => `Command printing the ${who} password (e.g. "pass show mail/alice").`,
    parse: text('a shell command'),
  }),
  passwordPrompt: key({kind: 'boolean', group: 'password', help: (who) => `Ask for the ${who} password on the terminal.`, parse: checkBoolean}),
  authMethod: key({
    kind: 'text',
    group: 'login',
    options: AUTH_METHODS,
    help: (who) => `How to log in to the ${who}: auto (default), login, plain, sasl-login, xoauth2, oauthbearer.`,
    parse: checkAuthMethod,
  }),
  authzid: key({
    kind: 'text',
    group: 'login',
    help: (who) => `Log in to the ${who} as the admin user of the URL, on behalf of this user (SASL PLAIN).`,
    parse: text('a user name'),
  }),
  tokenEnv: key({kind: 'text', group: 'token', help: (who) => `Environment variable holding the ${who} OAuth2 access token.`, parse: checkEnvName}),
  tokenFile: key({kind: 'path', group: 'token', help: (who) => `File holding the ${who} OAuth2 access token (re-read when it is refused).`, parse: checkPath}),
  tokenCommand: key({
    kind: 'text',
    group: 'token',
    help: (who) => `Command printing a ${who} OAuth2 access token (re-run for new sessions).`,
    parse: text('a shell command'),
  }),
  oauth2: key({kind: 'mapping', group: 'token', flag: false, help: () => 'OAuth2 refresh token or app-only grant (YAML only).', parse: checkOAuth2}),
  caFile: key({kind: 'path', group: 'tls', help: (who) => `PEM file of CA certificates to trust for the ${who}, besides the system ones.`, parse: checkPath}),
  insecure: key({kind: 'boolean', group: 'tls', help: (who) => `Do not verify the ${who} TLS certificate (a warning says so).`, parse: checkBoolean}),
  servername: key({kind: 'text', group: 'tls', help: (who) => `Name to verify the ${who} certificate against, when it differs from the host.`, parse: checkHost}),
  minTls: key({kind: 'text', group: 'tls', options: ['1.2', '1.3'], help: (who) => `Lowest TLS version accepted from the ${who}: 1.2 or 1.3.`, parse: checkMinTls}),
  allowPlaintext: key({
    kind: 'boolean',
    group: 'tls',
    flag: 'shared',
    help: () => 'Allow tls none (plaintext: password and mail unencrypted) to a host that is not loopback.',
    parse: checkBoolean,
  }),
  provider: key({
    kind: 'text',
    group: 'preset',
    options: PROVIDER_NAMES,
    help: (who) => `Preset for the ${who}'s provider: ${PROVIDER_NAMES.join(' or ')} (host, port, TLS, limits, back-off; each overridable).`,
    parse: (value, label, keyPath) => checkProvider(value) ?? fail(label, `expected one of ${PROVIDER_NAMES.join(', ')}, got ${describeValue(value)}`, keyPath),
  }),
  maxMessageSize: key({
    kind: 'integer',
    group: 'limits',
    sides: ['dest'],
    help: (who) => `Largest message in bytes the ${who} accepts: a bigger one is listed as failed, not sent (default: the server's APPENDLIMIT).`,
    parse: positiveInteger,
  }),
  maxLineLength: key({
    kind: 'integer',
    group: 'limits',
    sides: ['dest'],
    help: (who) => `Longest line in bytes the ${who} accepts: a message with a longer one is listed as failed, not sent (messages are never rewritten).`,
    parse: positiveInteger,
  }),
}

export type EndpointKeyName = keyof typeof ENDPOINT_KEYS
export const ENDPOINT_KEY_NAMES = Object.keys(ENDPOINT_KEYS) as EndpointKeyName[]

/** One side as written in the YAML file, or as given by flags (before merging with defaults). */
export type EndpointInput = {[K in EndpointKeyName]?: (typeof ENDPOINT_KEYS)[K] extends EndpointKey<infer T> ? T : never}

/** Keys with a flag per side. */
export type EndpointFlagKey = {[K in EndpointKeyName]: (typeof ENDPOINT_KEYS)[K]['flag'] extends false | 'shared' ? never : K}[EndpointKeyName]

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

/** `--source-password-env`; the URL's flag is `--source` itself; a shared flag has no side. */
export function endpointFlagName(side: Side, name: EndpointKeyName): string {
  if (ENDPOINT_KEYS[name].flag === 'shared') return kebab(name)
  return name === 'url' ? side : `${side}-${kebab(name)}`
}

/** The flag's key in SyncFlagValues: its name in camelCase (`sourcePasswordEnv`, `source`, `allowPlaintext`). */
export function endpointFlagValueKey(side: Side, name: EndpointKeyName): string {
  return endpointFlagName(side, name).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
}

/** The endpoint flags as the commands hand them over: `sourceTls`, `destPasswordEnv`, `source`, `allowPlaintext` ... */
export type EndpointFlagValues = {[P in Side | `${Side}${Capitalize<Exclude<EndpointFlagKey, 'url'>>}` | 'allowPlaintext']?: string | boolean}

const given = (value: unknown): boolean => value !== undefined && value !== null

/** Keys of one group that a layer gives (a boolean only when true). */
function givenOf(input: EndpointInput, group: EndpointGroup): EndpointKeyName[] {
  return ENDPOINT_KEY_NAMES.filter((name) => ENDPOINT_KEYS[name].group === group && given(input[name]) && input[name] !== false)
}

/** Keys that exclude each other within one layer (a section of the file, or the flags of one side). */
function checkCombinations(input: EndpointInput, label: (name: EndpointKeyName) => string, keyPath: (name: EndpointKeyName) => string[] | undefined): void {
  if (input.url !== undefined) {
    for (const name of ['host', 'port', 'user'] as const) {
      if (input[name] !== undefined) {
        fail(label(name), `cannot be combined with ${label('url')} (give either the URL, or host/port/user)`, keyPath(name))
      }
    }
  }
  for (const group of ['password', 'token'] as const) {
    const names = givenOf(input, group)
    if (names.length > 1) fail(label(names[1]), `give only one of ${names.map(label).join(' and ')}`, keyPath(names[1]))
  }
}

/** `source:` / `dest:` of the YAML file, checked. */
export function validateEndpoint(value: unknown, side: string): EndpointInput | undefined {
  if (!given(value)) return undefined
  if (!isMapping(value)) return fail(side, `expected a mapping (host:, user:, ...), got ${describeValue(value)}`, [side])
  checkKnownKeys(value, ENDPOINT_KEY_NAMES, [side])
  const out: Record<string, unknown> = {}
  for (const name of ENDPOINT_KEY_NAMES) {
    if (!given(value[name])) continue
    const entry: EndpointKey<unknown> = ENDPOINT_KEYS[name]
    if (entry.sides && !entry.sides.includes(side as Side)) fail(`${side}.${name}`, `only under ${entry.sides.join(', ')}: (it is about writing to an account)`, [side, name])
    out[name] = entry.parse(value[name], `${side}.${name}`, [side, name])
  }
  const input = out as EndpointInput
  checkCombinations(input, (name) => `${side}.${name}`, (name) => [side, name])
  return input
}

const NUMBER = /^[0-9]+$/

/** One side's flags, checked by the same parsers as its YAML keys (labels name the flags). */
export function endpointFlagInput(side: Side, flags: EndpointFlagValues): EndpointInput {
  const out: Record<string, unknown> = {}
  const values = flags as Record<string, unknown>
  for (const name of ENDPOINT_KEY_NAMES) {
    const entry: EndpointKey<unknown> = ENDPOINT_KEYS[name]
    if (entry.flag === false || (entry.sides && !entry.sides.includes(side))) continue
    let value = values[endpointFlagValueKey(side, name)]
    // oclif hands a switch that was not given over as false: only `true` says something.
    if (value === undefined || (entry.kind === 'boolean' && value !== true)) continue
    if (entry.kind === 'integer' && typeof value === 'string' && NUMBER.test(value.trim())) value = Number(value)
    out[name] = entry.parse(value, `--${endpointFlagName(side, name)}`)
  }
  const input = out as EndpointInput
  checkCombinations(input, (name) => `--${endpointFlagName(side, name)}`, () => undefined)
  return input
}

// ---------------------------------------------------------------------------------------------
// Drafts: a side assembled layer by layer

/** Groups whose keys become something else in a draft (a secret source, the login); the rest are copied. */
const TRANSFORMED: readonly EndpointGroup[] = ['password', 'token', 'login']

/** Keys a draft holds as written (paths resolved): the address but the URL, TLS options, limits, the preset. */
export type PlainEndpointKey = {
  [K in EndpointKeyName]: (typeof ENDPOINT_KEYS)[K]['group'] extends 'password' | 'token' | 'login' ? never : K extends 'url' ? never : K
}[EndpointKeyName]

const PLAIN_KEYS = ENDPOINT_KEY_NAMES.filter((name) => name !== 'url' && !TRANSFORMED.includes(ENDPOINT_KEYS[name].group)) as PlainEndpointKey[]

/** Keys a finished endpoint carries as they are, for the store (what the account accepts, its preset). */
export type CarriedEndpointKey = {[K in EndpointKeyName]: (typeof ENDPOINT_KEYS)[K]['group'] extends 'limits' | 'preset' ? K : never}[EndpointKeyName]

export const CARRIED_KEYS = ENDPOINT_KEY_NAMES.filter((name) => ['limits', 'preset'].includes(ENDPOINT_KEYS[name].group)) as CarriedEndpointKey[]

/** Keys of the given groups (a batch job's login or address replaces its defaults' whole). */
export function endpointKeysOf(...groups: EndpointGroup[]): EndpointKeyName[] {
  return ENDPOINT_KEY_NAMES.filter((name) => groups.includes(ENDPOINT_KEYS[name].group))
}

/** Keys holding a file path (resolved against the file that names them). */
export const ENDPOINT_PATH_KEYS = ENDPOINT_KEY_NAMES.filter((name) => ENDPOINT_KEYS[name].kind === 'path')

/** An endpoint being assembled from the layers; everything optional until it is finished (load.ts). */
export type EndpointDraft = Pick<EndpointInput, PlainEndpointKey> & {
  secret?: SecretSource
  /** authMethod, authzid, token source, passwordPrompt (config/auth.ts). */
  auth?: AuthDraft
  /** The side is a Maildir (`maildir:` URL): its path, `~` expanded (made absolute when finished). */
  maildir?: string
}

export interface DraftContext {
  side: Side
  /** The file (labels `source.url`) or the flags (labels `--source`). */
  from: 'file' | 'flags'
  /** Resolves a path as written (against the file's directory, or `~` for a flag). */
  path: (p: string) => string
  /** What to write instead of a password inside a URL. */
  secretAdvice: string
}

/** One layer's checked input -> its draft (URL parsed, paths resolved, secrets named, not read). */
export function draftFromInput(input: EndpointInput, context: DraftContext): EndpointDraft {
  const {side, path} = context
  const draft: EndpointDraft = {}
  const label = context.from === 'file' ? `${side}.url` : `--${side}`
  const keyPath = context.from === 'file' ? [side, 'url'] : undefined
  if (input.url !== undefined && isMaildirUrl(input.url)) {
    draft.maildir = path(parseMaildirUrl(input.url, {label, keyPath}))
  } else if (input.url !== undefined) {
    Object.assign(draft, parseImapUrl(input.url, {label, secretAdvice: context.secretAdvice, keyPath}))
  }
  // `tls:` next to `url:` overrides the scheme's mode, as --source-tls does.
  for (const name of PLAIN_KEYS) {
    const value = input[name]
    if (value !== undefined) (draft as Record<string, unknown>)[name] = ENDPOINT_KEYS[name].kind === 'path' ? path(value as string) : value
  }
  if (input.passwordEnv !== undefined) draft.secret = {kind: 'env', name: input.passwordEnv}
  if (input.passwordFile !== undefined) draft.secret = {kind: 'file', path: path(input.passwordFile)}
  if (input.passwordCommand !== undefined) draft.secret = {kind: 'command', command: input.passwordCommand}
  const auth: AuthDraft = {}
  if (input.authMethod !== undefined) auth.method = input.authMethod
  if (input.authzid !== undefined) auth.authzid = input.authzid
  if (input.passwordPrompt) auth.prompt = true
  if (input.tokenEnv !== undefined) auth.token = {kind: 'env', name: input.tokenEnv}
  if (input.tokenFile !== undefined) auth.token = {kind: 'file', path: path(input.tokenFile)}
  if (input.tokenCommand !== undefined) auth.token = {kind: 'command', command: input.tokenCommand}
  if (input.oauth2 !== undefined) auth.token = oauth2TokenSource(input.oauth2, path)
  if (Object.keys(auth).length > 0) draft.auth = auth
  return draft
}

/** `over` (drafted from `overInput`) laid on `base`: what `over` gives wins, by the groups' rules. */
export function overlayDraft(base: EndpointDraft, over: EndpointDraft, overInput: EndpointInput): EndpointDraft {
  const out: EndpointDraft = {...base, auth: base.auth && {...base.auth}}
  // A URL is the address as a whole: a port (or a Maildir) from below does not survive a new one.
  if (overInput.url !== undefined) for (const name of ['host', 'port', 'user', 'tls', 'maildir'] as const) delete out[name]
  if (givenOf(overInput, 'password').length > 0) {
    delete out.secret
    if (out.auth) delete out.auth.prompt
  }
  const {auth, ...rest} = over
  assignDefined(out, rest)
  if (auth) out.auth = {...out.auth, ...auth}
  if (out.auth && Object.keys(out.auth).length === 0) delete out.auth
  return out
}

/** The side's layers, lowest first: the preset (named in the file or the flags), the file, the flags. */
export function assembleDraft(side: Side, file: {input: EndpointInput; draft: EndpointDraft} | undefined, flags: {input: EndpointInput; draft: EndpointDraft}): EndpointDraft {
  const provider = flags.input.provider ?? file?.input.provider
  let draft: EndpointDraft = {}
  if (provider) {
    draft.provider = provider
    for (const [name, value] of Object.entries(PROVIDERS[provider].endpoint)) {
      if (ENDPOINT_KEYS[name as EndpointKeyName].sides?.includes(side) !== false) (draft as Record<string, unknown>)[name] = value
    }
  }
  if (file) draft = overlayDraft(draft, file.draft, file.input)
  return overlayDraft(draft, flags.draft, flags.input)
}

function assignDefined<T extends object>(target: T, values: Partial<T>): void {
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined) (target as Record<string, unknown>)[name] = value
  }
}

