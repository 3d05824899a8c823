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

import {validateEndpoint, type EndpointInput} from './endpoint.js'
import {validateFolders, type FolderMappingInput} from './mapping.js'
import {FILE_SETTING_KEYS, validateFileSettings, type FileSettingKey, type RunSettings} from './settings.js'
import {checkKnownKeys, describeDocument, fail, isMapping} from './checks.js'

// The single-value checks, for the callers that import them from here.
export * from './checks.js'
export {validateEndpoint, type EndpointInput} from './endpoint.js'

/** The whole YAML file, typed. Paths are as written (load.ts resolves them against the file). */
export interface FileConfigInput extends Partial<Pick<RunSettings, FileSettingKey>> {
  source?: EndpointInput
  dest?: EndpointInput
  /** Folder mapping rules (config/mapping.ts). */
  folders?: FolderMappingInput
}

export const TOP_LEVEL_KEYS: readonly string[] = ['source', 'dest', 'folders', ...FILE_SETTING_KEYS]

// ---------------------------------------------------------------------------------------------
// The file

/** null and undefined both mean "not given" (an empty `port:` in YAML is null). */
function given(value: unknown): boolean {
  return value !== undefined && value !== null
}

/** The parsed YAML document (null for an empty file) → typed parts. */
export function validateFileConfig(value: unknown): FileConfigInput {
  if (!given(value)) return {}
  if (!isMapping(value)) {
    return fail('(top level)', `expected a mapping with source:, dest:, state:, concurrency:, got ${describeDocument(value)}`, [])
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
