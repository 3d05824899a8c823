/**
 * Shape checks for configuration values (pure: no files, no env).
 *
 * `validateFileConfig` turns the parsed YAML (unknown) into typed, still-unmerged parts, or throws a
 * ConfigKeyError whose message names the key path and what was expected vs given:
 *   source.port: expected an integer 1-65535, got "abc" (string)
 * The small `check*` helpers are shared with the flag handling in load.ts and with url.ts.
 *
 * A value is never echoed for keys that may hold a secret (password-like keys, passwordEnv).
 */

import {AUTH_KEYS, validateAuthInput, type AuthInput} from '../credentials/auth.js'
import {validateFolders, type FolderMappingInput} from './mapping.js'
import type {MinTls, TlsMode} from './schema.js'
import {FILE_SETTING_KEYS, validateFileSettings, type FileSettingKey, type RunSettings} from './settings.js'
import {
  ConfigKeyError,
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

// The single-value checks, for the callers that import them from here.
export * from './checks.js'

/** One endpoint as written in the YAML file (before merging with flags and defaults). */
export interface EndpointInput extends AuthInput {
  url?: string
  host?: string
  port?: number
  tls?: TlsMode
  user?: string
  passwordEnv?: string
  passwordFile?: string
  caFile?: string
  insecure?: boolean
  servername?: string
  minTls?: MinTls
  /** `tls: none` to a host that is not loopback is refused without it. */
  allowPlaintext?: boolean
}

/** The whole YAML file, typed. Paths are as written (load.ts resolves them against the file). */
export interface FileConfigInput extends Partial<Pick<RunSettings, FileSettingKey>> {
  source?: EndpointInput
  dest?: EndpointInput
  /** Folder mapping rules (config/mapping.ts). */
  folders?: FolderMappingInput
}

export const ENDPOINT_KEYS = [
  'url',
  'host',
  'port',
  'tls',
  'user',
  'passwordEnv',
  'passwordFile',
  'caFile',
  'insecure',
  'servername',
  'minTls',
  'allowPlaintext',
  ...AUTH_KEYS,
] as const satisfies readonly (keyof EndpointInput)[]

export const TOP_LEVEL_KEYS: readonly string[] = ['source', 'dest', 'folders', ...FILE_SETTING_KEYS]

// ---------------------------------------------------------------------------------------------
// The file

/** null and undefined both mean "not given" (an empty `port:` in YAML is null). */
function given(value: unknown): boolean {
  return value !== undefined && value !== null
}

export function validateEndpoint(value: unknown, side: string): EndpointInput | undefined {
  if (!given(value)) return undefined
  if (!isMapping(value)) return fail(side, `expected a mapping (host:, user:, ...), got ${describeValue(value)}`, [side])
  checkKnownKeys(value, ENDPOINT_KEYS, [side])
  const out: EndpointInput = {}
  const at = (key: string): [string, string[]] => [`${side}.${key}`, [side, key]]
  if (given(value.url)) out.url = checkText(value.url, `${side}.url`, 'an imaps:// or imap:// URL', [side, 'url'])
  if (given(value.host)) out.host = checkHost(value.host, ...at('host'))
  if (given(value.port)) out.port = checkPort(value.port, ...at('port'))
  if (given(value.tls)) out.tls = checkTlsMode(value.tls, ...at('tls'))
  if (given(value.user)) out.user = checkUser(value.user, ...at('user'))
  if (given(value.passwordEnv)) out.passwordEnv = checkEnvName(value.passwordEnv, ...at('passwordEnv'))
  if (given(value.passwordFile)) out.passwordFile = checkPath(value.passwordFile, ...at('passwordFile'))
  if (given(value.caFile)) out.caFile = checkPath(value.caFile, ...at('caFile'))
  if (given(value.insecure)) out.insecure = checkBoolean(value.insecure, ...at('insecure'))
  if (given(value.allowPlaintext)) out.allowPlaintext = checkBoolean(value.allowPlaintext, ...at('allowPlaintext'))
  if (given(value.servername)) out.servername = checkHost(value.servername, ...at('servername'))
  if (given(value.minTls)) out.minTls = checkMinTls(value.minTls, ...at('minTls'))
  Object.assign(out, validateAuthInput(value, side))
  checkEndpointCombinations(out, side)
  return out
}

/** Keys that exclude each other within one endpoint section. */
function checkEndpointCombinations(input: EndpointInput, side: string): void {
  if (input.url !== undefined) {
    for (const key of ['host', 'port', 'user'] as const) {
      if (input[key] !== undefined) {
        fail(`${side}.${key}`, `cannot be combined with ${side}.url (give either url, or host/port/user)`, [side, key])
      }
    }
  }
  if (input.passwordEnv !== undefined && input.passwordFile !== undefined) {
    fail(`${side}.passwordFile`, `give only one of ${side}.passwordEnv and ${side}.passwordFile`, [side, 'passwordFile'])
  }
}

/** The parsed YAML document (null for an empty file) → typed parts. */
export function validateFileConfig(value: unknown): FileConfigInput {
  if (!given(value)) return {}
  if (!isMapping(value)) {
    return fail('(top level)', `expected a mapping with source:, dest:, state:, concurrency:, got ${describeValue(value)}`, [])
  }
  checkKnownKeys(value, TOP_LEVEL_KEYS, [])
  const out: FileConfigInput = {}
  const source = validateEndpoint(value.source, 'source')
  const dest = validateEndpoint(value.dest, 'dest')
  if (source) out.source = source
  if (dest) out.dest = dest
  Object.assign(out, validateFileSettings(value))
  const folders = validateFolders(value.folders)
  if (folders) out.folders = folders
  return out
}
