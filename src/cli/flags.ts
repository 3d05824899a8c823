/**
 * Flags shared by the commands that connect to both accounts: the accounts and logins (declared here,
 * per side) and the run settings (derived from config/settings.ts), and their hand-over to
 * config/load.ts resolveRunConfig.
 *
 * Lives outside src/commands: oclif treats every module there as a command.
 */
import {Flags, type Interfaces} from '@oclif/core'

import {AUTH_METHODS, type AuthFlagValues} from '../credentials/auth.js'
import type {SyncFlagValues} from '../config/load.js'
import {TLS_MODES} from '../config/schema.js'
import {SETTING_KEYS, SETTINGS, flagName, type SettingCommand} from '../config/settings.js'

/** --config, both accounts, TLS modes and password sources. */
export const accountFlags = {
  config: Flags.string({char: 'c', summary: 'YAML configuration file.'}),
  source: Flags.string({summary: 'Source account URL: imaps://user@host:port (TLS) or imap://user@host:port (STARTTLS); or maildir:/path.'}),
  dest: Flags.string({summary: 'Destination account URL, same form as --source (maildir:/path: a local Maildir backup).'}),
  'source-tls': Flags.string({options: [...TLS_MODES], summary: 'Override the source TLS mode (none = plaintext, loopback only).'}),
  'dest-tls': Flags.string({options: [...TLS_MODES], summary: 'Override the destination TLS mode.'}),
  'allow-plaintext': Flags.boolean({summary: 'Allow tls none (plaintext: password and mail unencrypted) to a host that is not loopback.'}),
  'source-password-env': Flags.string({summary: 'Environment variable holding the source password.'}),
  'source-password-file': Flags.string({summary: 'File holding the source password (first line).'}),
  'dest-password-env': Flags.string({summary: 'Environment variable holding the destination password.'}),
  'dest-password-file': Flags.string({summary: 'File holding the destination password (first line).'}),
  ...sideAuthFlags('source'),
  ...sideAuthFlags('dest'),
}

/** Login method, admin login, password command/prompt, OAuth2 access tokens; per side. */
function sideAuthFlags<S extends 'source' | 'dest'>(side: S) {
  const who = side === 'source' ? 'source' : 'destination'
  return {
    [`${side}-auth-method`]: Flags.string({
      options: [...AUTH_METHODS],
      summary: `How to log in to the ${who}: auto (default), login, plain, sasl-login, xoauth2, oauthbearer.`,
    }),
    [`${side}-authzid`]: Flags.string({summary: `Log in to the ${who} as the admin user of the URL, on behalf of this user (SASL PLAIN).`}),
    [`${side}-password-command`]: Flags.string({summary: `Command printing the ${who} password (e.g. "pass show mail/alice").`}),
    [`${side}-password-prompt`]: Flags.boolean({summary: `Ask for the ${who} password on the terminal.`}),
    [`${side}-token-env`]: Flags.string({summary: `Environment variable holding the ${who} OAuth2 access token.`}),
    [`${side}-token-file`]: Flags.string({summary: `File holding the ${who} OAuth2 access token (re-read when it is refused).`}),
    [`${side}-token-command`]: Flags.string({summary: `Command printing a ${who} OAuth2 access token (re-run for new sessions).`}),
  } as Record<`${S}-${'auth-method' | 'authzid' | 'password-command' | 'token-env' | 'token-file' | 'token-command'}`, ReturnType<typeof Flags.string>> &
    Record<`${S}-password-prompt`, ReturnType<typeof Flags.boolean>>
}

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
  return {
    config: flags.config as string | undefined,
    source: flags.source as string | undefined,
    dest: flags.dest as string | undefined,
    sourceTls: flags['source-tls'] as string | undefined,
    destTls: flags['dest-tls'] as string | undefined,
    allowPlaintext: flags['allow-plaintext'] as boolean | undefined,
    sourcePasswordEnv: flags['source-password-env'] as string | undefined,
    sourcePasswordFile: flags['source-password-file'] as string | undefined,
    destPasswordEnv: flags['dest-password-env'] as string | undefined,
    destPasswordFile: flags['dest-password-file'] as string | undefined,
    auth: {source: authFlagValues(flags, 'source'), dest: authFlagValues(flags, 'dest')},
    settings: Object.fromEntries(SETTING_KEYS.map((key) => [key, flags[flagName(key)]])),
  }
}

function authFlagValues(flags: Record<string, unknown>, side: 'source' | 'dest'): AuthFlagValues {
  return {
    authMethod: flags[`${side}-auth-method`] as string | undefined,
    authzid: flags[`${side}-authzid`] as string | undefined,
    passwordCommand: flags[`${side}-password-command`] as string | undefined,
    passwordPrompt: flags[`${side}-password-prompt`] ? true : undefined,
    tokenEnv: flags[`${side}-token-env`] as string | undefined,
    tokenFile: flags[`${side}-token-file`] as string | undefined,
    tokenCommand: flags[`${side}-token-command`] as string | undefined,
  }
}
