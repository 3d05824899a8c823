/**
 * Folder mapping flags, shared by `sync`, `watch`, `plan` and `verify`: derived from the folder keys
 * of config/mapping.ts (the same names as the YAML `folders:` keys, in kebab-case).
 */
import {Flags, type Interfaces} from '@oclif/core'

import {FOLDER_KEYS, FOLDERS_KEYS, folderFlagName, type MappingFlagValues} from '../config/mapping.js'

/** A list flag's value is string[], a text flag's a string, a switch's a boolean. */
function folderFlags(): Interfaces.FlagInput {
  const flags: Interfaces.FlagInput = {}
  for (const key of FOLDERS_KEYS) {
    const {kind, help: summary} = FOLDER_KEYS[key]
    flags[folderFlagName(key)] =
      kind === 'list'
        ? Flags.string({multiple: true, summary})
        : kind === 'text'
          ? Flags.string({summary})
          : Flags.boolean<boolean>({summary, allowNo: kind === 'negatable'})
  }
  return flags
}

export const mappingFlags = folderFlags()

/** oclif's parsed flags -> MappingFlagValues (undefined = not given). */
export function toMappingFlagValues(flags: Record<string, unknown>): MappingFlagValues {
  const out: Record<string, unknown> = {}
  for (const key of FOLDERS_KEYS) {
    const value = flags[folderFlagName(key)]
    // A switch that was not given is false in oclif: only `true` overrides the file.
    out[key] = FOLDER_KEYS[key].kind === 'switch' ? (value === true ? true : undefined) : value
  }
  return out as MappingFlagValues
}
