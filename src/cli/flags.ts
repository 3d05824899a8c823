/**
 * Flags shared by the commands that connect to both accounts: the accounts and logins (declared here,
 * per side) and the run settings (derived from config/settings.ts), and their hand-over to
 * config/load.ts resolveRunConfig.
 *
 * Lives outside src/commands: oclif treats every module there as a command.
 */
import {Flags, type Interfaces} from '@oclif/core'

import {ENDPOINT_KEYS, ENDPOINT_KEY_NAMES, SIDES, endpointFlagName, endpointFlagValueKey, type EndpointKey} from '../config/endpoint.js'
import type {SyncFlagValues} from '../config/load.js'
import {SETTING_KEYS, SETTINGS, flagName, type SettingCommand} from '../config/settings.js'

type AnyFlag = Interfaces.OptionFlag<string | undefined> | Interfaces.BooleanFlag<boolean>

/**
 * --config and both accounts: each endpoint key's flag per side (--source-tls, --dest-password-env,
 * the URL as --source / --dest), or once for both (--allow-plaintext); config/endpoint.ts declares them.
 */
function endpointFlags(): Record<string, AnyFlag> {
  const flags: Record<string, AnyFlag> = {config: Flags.string({char: 'c', summary: 'YAML configuration file.'})}
  for (const side of SIDES) {
    const who = side === 'source' ? 'source' : 'destination'
    for (const name of ENDPOINT_KEY_NAMES) {
      const entry: EndpointKey<unknown> = ENDPOINT_KEYS[name]
      if (entry.flag === false || (entry.sides && !entry.sides.includes(side))) continue
      const common = {summary: entry.help(who), ...(entry.options ? {options: [...entry.options]} : {})}
      flags[endpointFlagName(side, name)] =
        entry.kind === 'boolean' ? Flags.boolean<boolean>(common) : Flags.string({...common, helpValue: entry.kind === 'integer' ? 'N' : entry.kind === 'path' ? 'PATH' : undefined})
    }
  }
  return flags
}

export const accountFlags = endpointFlags()

/**
 * The flags of the run settings a command takes (config/settings.ts): each setting's flag, help and
 * visibility come from its entry. Numbers arrive as text and are checked by the setting's own parser
 * when the run is resolved, so a flag takes exactly what its YAML key takes (fractions included).
 */
export function settingFlags(command: SettingCommand) {
  const flags: Record<string, Interfaces.OptionFlag<string | undefined> | Interfaces.BooleanFlag<boolean>> = {}
  for (const key of SETTING_KEYS) {
    const setting = SETTINGS[key]
    if (!setting.commands.includes(command)) continue
    const common = {summary: setting.help, hidden: setting.hidden}
    const numeric = setting.kind === 'integer' || setting.kind === 'number'
    flags[flagName(key)] =
      setting.kind === 'boolean'
        ? Flags.boolean<boolean>(common)
        : Flags.string({...common, helpValue: numeric ? 'N' : setting.kind === 'path' ? 'PATH' : undefined})
  }
  return flags
}

export const debugFlag = Flags.boolean({summary: 'Print stack traces of errors.'})

/** oclif's parsed flags -> the input of resolveSyncConfig. Flags a command lacks are undefined. */
export function toFlagValues(flags: Record<string, unknown>): SyncFlagValues {
  const values: Record<string, unknown> = {config: flags.config}
  for (const side of SIDES) for (const name of ENDPOINT_KEY_NAMES) values[endpointFlagValueKey(side, name)] = flags[endpointFlagName(side, name)]
  return {...values, settings: Object.fromEntries(SETTING_KEYS.map((key) => [key, flags[flagName(key)]]))}
}
