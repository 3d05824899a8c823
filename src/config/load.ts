/**
 * Builds the SyncConfig of a run from flags, an optional YAML file and the environment.
 *
 * Precedence: built-in defaults < provider preset < YAML file < command-line flags, key by key and
 * side by side (`--dest-tls none` changes only dest's TLS mode; `--source URL` replaces source's host,
 * port, user and TLS mode but keeps its password and TLS options from the file). How a side's layers
 * merge is config/endpoint.ts's; the run settings' is config/settings.ts's.
 *
 * The YAML file is read and parsed by config-file.ts, paths and the state file's name come from
 * paths.ts. Only `resolveRunConfig` and the secret/CA checks here touch files or the environment;
 * the rest is pure.
 */

import {isIPv4, isIPv6} from 'node:net'
import {homedir} from 'node:os'
import {dirname, join, resolve} from 'node:path'

import {ConfigError} from '../errors.js'
import {
  describeEndpoint,
  isMaildirConfig,
  type EndpointConfig,
  type MaildirConfig,
  type StoreConfig,
  type SyncConfig,
  type TlsOptions,
} from './schema.js'
import {checkLogin, secretEnvNames, type Login} from './auth.js'
import {
  CARRIED_KEYS,
  SIDES,
  assembleDraft,
  draftFromInput,
  endpointFlagInput,
  endpointKeysOf,
  type EndpointDraft,
  type PlainEndpointKey,
  type EndpointFlagValues,
  type Side,
} from './endpoint.js'
import {resolveMapping, type MappingFlagValues} from './mapping.js'
import {PROVIDERS, presetSideSettings} from './providers.js'
import {explicitSettingKeys, resolveSettings, type RunSettings, type SettingFlagValues} from './settings.js'
import {loginAuth} from '../credentials/auth.js'
import {registerSecret} from '../log.js'
import {readPassword, readTextFile, secretCommandEnv, urlPasswordAdvice} from '../credentials/secrets.js'
import {portOrDefault} from './url.js'
import {checkPath, type FileConfigInput} from './validate.js'
import {draftFile, loadConfigFile, type LoadedConfigFile} from './config-file.js'
import {defaultStatePath, expandHome, resolveFilePath} from './paths.js'

/**
 * The flags of the sync commands, as oclif parses them, in camelCase: each side's endpoint flags
 * (`source`, `sourceTls`, `destPasswordEnv` ... derived from config/endpoint.ts), the folder rules
 * and the run settings.
 */
export interface SyncFlagValues extends EndpointFlagValues {
  /** Path of a YAML file. */
  config?: string
  /** --include, --exclude, --map, --rename, --nest-under, ... (config/mapping.ts). */
  mapping?: MappingFlagValues
  /** --state, --concurrency, --retries, --max-age, --log-file, --mirror ... (config/settings.ts). */
  settings?: SettingFlagValues
}

export interface ResolveOptions {
  /** Directory of the state DB when none is given (the command passes oclif's dataDir). Default "./". */
  defaultStateDir?: string
  /** For tests: the platform whose file-mode rules apply (modes are not checked on win32). */
  platform?: NodeJS.Platform
  /** For tests: what `~` expands to. */
  homeDir?: string
  /** A config given as data instead of --config (a batch job): what the file would hold, and its directory. */
  file?: {input: FileConfigInput; baseDir: string}
  /** More variables that hold secrets (a batch's other accounts'), kept from passwordCommand/tokenCommand too. */
  secretEnvNames?: string[]
}

export interface ResolvedSyncConfig {
  config: SyncConfig
  /** One line each, for stderr. Never contains a password. */
  warnings: string[]
}

/** resolveRunConfig for commands that need an IMAP account on both sides: a `maildir:` side is a ConfigError. */
export function resolveSyncConfig(
  flags: SyncFlagValues,
  env: NodeJS.ProcessEnv = process.env,
  options: ResolveOptions = {},
): ResolvedSyncConfig {
  const {config, warnings} = resolveRunConfig(flags, env, options)
  for (const side of SIDES) {
    if (isMaildirConfig(config[side])) {
      throw new ConfigError(`--${side}: this command needs an IMAP account, not a maildir: directory`, {
        hint: 'Maildir backups are read and written by mailferry sync, backup and restore',
      })
    }
  }
  return {config: config as SyncConfig, warnings}
}

/** The config of a run whose sides may be IMAP accounts or Maildirs (`maildir:/path`): sync, backup, restore. */
export function resolveRunConfig(
  flags: SyncFlagValues,
  env: NodeJS.ProcessEnv = process.env,
  options: ResolveOptions = {},
): {config: SyncConfig<StoreConfig>; warnings: string[]} {
  const platform = options.platform ?? process.platform
  const home = options.homeDir ?? homedir()
  const warnings: string[] = []

  const configPath = flags.config === undefined ? undefined : checkPath(flags.config, '--config')
  const file = configPath === undefined ? given(options.file, home) : loadConfigFile(expandHome(configPath, home), {platform, homeDir: home})
  if (file) warnings.push(...file.warnings)
  const fileInput = file?.input ?? {}
  const baseDir = file ? dirname(file.path) : undefined

  const endpoints = {} as Record<Side, StoreConfig>
  const logins = {} as Record<Side, Login>
  for (const side of SIDES) {
    const flagInput = endpointFlagInput(side, flags)
    const flagDraft = draftFromInput(flagInput, {side, from: 'flags', path: (p) => expandHome(p, home), secretAdvice: urlPasswordAdvice(side, false)})
    const fileSide = file?.input[side]
    const draft = assembleDraft(side, fileSide && {input: fileSide, draft: file!.drafts[side] ?? {}}, {input: flagInput, draft: flagDraft})
    if (draft.maildir !== undefined) {
      const maildir = finalizeMaildir(side, draft)
      warnings.push(...maildir.warnings)
      endpoints[side] = maildir.config
      continue
    }
    const finished = finalizeEndpoint(side, draft)
    warnings.push(...finished.warnings)
    endpoints[side] = finished.endpoint
    logins[side] = checkLogin(side, draft.auth ?? {})
  }

  const settingFlags = flags.settings ?? {}
  const settings = resolveSettings(fileInput, settingFlags, {
    fromFile: (p) => resolveFilePath(p, baseDir, home),
    fromFlag: (p) => expandHome(p, home),
  })
  const statePath = settings.state ?? defaultStatePath(endpoints, options.defaultStateDir ?? './')
  const sourcePreset = providerOf(endpoints.source)
  const mapping = resolveMapping(fileInput.folders, flags.mapping ?? {}, sourcePreset && PROVIDERS[sourcePreset].asSource?.folders)
  const sideSettings = presetSettings(endpoints, settings, explicitSettingKeys(fileInput, settingFlags))

  // Files and secrets last: a config mistake is reported without needing the passwords at hand.
  for (const side of SIDES) {
    const endpoint = endpoints[side]
    if (isMaildirConfig(endpoint)) continue
    if (endpoint.tls !== 'none' && endpoint.tlsOptions.caFile !== undefined) checkCaFile(side, endpoint.tlsOptions.caFile)
  }
  // Commands get no secret of either side through their environment.
  const commandEnv = secretCommandEnv(
    env,
    [
      ...SIDES.flatMap((side) => (isMaildirConfig(endpoints[side]) ? [] : secretEnvNames(endpoints[side].passwordSource, logins[side]))),
      ...(options.secretEnvNames ?? []),
    ],
  )
  for (const side of SIDES) {
    const endpoint = endpoints[side]
    // A Maildir needs no login.
    if (isMaildirConfig(endpoint)) continue
    const {auth, warnings: authWarnings} = loginAuth(side, describeEndpoint(endpoint), logins[side], env, platform, commandEnv, endpoint.user)
    warnings.push(...authWarnings)
    // A password source given as a flag wins over the file's passwordPrompt.
    if (endpoint.passwordSource !== undefined) delete auth.promptPassword
    if (auth.method !== 'auto' || Object.keys(auth).length > 1) endpoint.auth = auth
    // Tokens are fetched when connecting; a prompted password is asked for then too.
    if (auth.token || auth.promptPassword) continue
    const {password, warnings: secretWarnings} = readPassword(side, endpoint.passwordSource, env, platform, commandEnv)
    registerSecret(password)
    endpoint.password = password
    warnings.push(...secretWarnings)
  }
  const config: SyncConfig<StoreConfig> = {source: endpoints.source, dest: endpoints.dest, statePath, mapping, settings}
  if (sideSettings) config.sideSettings = sideSettings
  return {config, warnings}
}

const providerOf = (config: StoreConfig) => (isMaildirConfig(config) ? undefined : config.provider)

/** What each side's provider preset sets for its store, where the run does not set it explicitly. */
function presetSettings(endpoints: Record<Side, StoreConfig>, settings: RunSettings, explicit: ReadonlySet<string>): SyncConfig['sideSettings'] {
  let out: SyncConfig['sideSettings']
  for (const side of SIDES) {
    const provider = providerOf(endpoints[side])
    if (provider) (out ??= {})[side] = presetSideSettings(PROVIDERS[provider], side, settings, explicit)
  }
  return out
}

/** A config handed over as data (ResolveOptions.file), in the shape loadConfigFile returns. */
function given(file: ResolveOptions['file'], home: string): LoadedConfigFile | undefined {
  if (!file) return undefined
  // path: only its directory is used (relative paths, such as logFile, are resolved against it).
  return {path: join(file.baseDir, '(batch job)'), ...draftFile(file.input, (p) => resolveFilePath(p, file.baseDir, home)), warnings: []}
}

/** Defaults, completeness, TLS options and the warnings they call for. */
export function finalizeEndpoint(side: Side, draft: EndpointDraft): {endpoint: EndpointConfig; warnings: string[]} {
  if (draft.host === undefined && draft.user === undefined) {
    throw new ConfigError(`no ${side} given: use --${side} URL or a \`${side}:\` section in --config FILE`)
  }
  if (draft.host === undefined) {
    throw new ConfigError(`${side}: no host given: use --${side} URL, or ${side}.host or ${side}.url in the config file`)
  }
  if (draft.user === undefined) {
    throw new ConfigError(
      `${side}: no user given: use --${side} imaps://USER@${draft.host}, or ${side}.user in the config file`,
    )
  }
  const tls = draft.tls ?? 'implicit'
  const warnings: string[] = []
  const tlsOptions: TlsOptions = {verify: draft.insecure !== true}
  if (draft.caFile !== undefined) tlsOptions.caFile = draft.caFile
  if (draft.servername !== undefined) tlsOptions.servername = draft.servername
  if (draft.minTls !== undefined) tlsOptions.minTls = draft.minTls

  if (tls === 'none') {
    const ignored = (['caFile', 'insecure', 'servername', 'minTls'] as const).filter((key) => draft[key] !== undefined)
    if (ignored.length > 0) warnings.push(`${side}: ${ignored.join(', ')} ignored with tls: none (no TLS is used)`)
    if (!isLoopbackHost(draft.host)) {
      // Anyone on the path reads the password and the mail: only on explicit request.
      if (draft.allowPlaintext !== true) {
        throw new ConfigError(`${side}: tls none (plaintext) to host ${draft.host}, which is not a loopback address`, {
          hint: `use tls implicit or starttls; to send the password and mail unencrypted anyway, give --allow-plaintext (allowPlaintext: true under ${side}: in the config file)`,
        })
      }
      warnings.push(`${side}: plaintext connection to host ${draft.host}, the password travels unencrypted`)
    }
  } else if (draft.insecure === true) {
    warnings.push(`TLS certificate verification is off for ${side} (insecure: true)`)
  }

  const endpoint: EndpointConfig = {
    host: draft.host,
    port: portOrDefault(draft.port, tls),
    tls,
    tlsOptions,
    user: draft.user,
  }
  if (draft.secret !== undefined) endpoint.passwordSource = draft.secret
  for (const name of CARRIED_KEYS) if (draft[name] !== undefined) Object.assign(endpoint, {[name]: draft[name]})
  return {endpoint, warnings}
}

/** A `maildir:` side: an absolute path; login and TLS settings given for it are ignored, with a warning. */
export function finalizeMaildir(side: Side, draft: EndpointDraft): {config: MaildirConfig; warnings: string[]} {
  const ignored: string[] = []
  for (const key of ['tls', ...endpointKeysOf('tls', 'preset', 'limits')] as PlainEndpointKey[]) if (draft[key] !== undefined) ignored.push(key)
  if (draft.secret !== undefined) ignored.push('password')
  if (draft.auth !== undefined && Object.values(draft.auth).some((value) => value !== undefined)) ignored.push('login settings')
  const warnings = ignored.length > 0 ? [`${side}: ${ignored.join(', ')} ignored for a maildir: directory (no login, no TLS)`] : []
  return {config: {kind: 'maildir', path: resolve(draft.maildir!)}, warnings}
}

/** localhost, 127.0.0.0/8, ::1 (and ::ffff:127.x.y.z). */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '')
  if (name === 'localhost' || name.endsWith('.localhost')) return true
  if (isIPv4(name)) return name.startsWith('127.')
  if (isIPv6(name)) {
    if (/^(0{0,4}:){1,7}0{0,3}1$/.test(name) || name === '::1') return true
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(name)
    return mapped !== null && mapped[1].startsWith('127.')
  }
  return false
}

function checkCaFile(side: Side, path: string): void {
  const {text} = readTextFile(path, `${side} caFile`)
  if (!text.includes('-----BEGIN ')) {
    throw new ConfigError(`${side} caFile ${path} is not a PEM file (no -----BEGIN CERTIFICATE----- line)`)
  }
}
