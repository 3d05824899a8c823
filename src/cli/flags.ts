/**
 * Flags shared by the commands that connect to both accounts (sync, verify), so that they accept the
 * same connection options and resolve them the same way (config/load.ts resolveSyncConfig).
 *
 * Lives outside src/commands: oclif treats every module there as a command.
 */
import {Flags} from '@oclif/core'

import type {SyncFlagValues} from '../config/load.js'
import {TLS_MODES} from '../config/schema.js'

/** --config, both accounts, TLS modes and password sources. */
export const accountFlags = {
  config: Flags.string({char: 'c', summary: 'YAML configuration file.'}),
  source: Flags.string({summary: 'Source account URL: imaps://user@host:port (TLS) or imap://user@host:port (STARTTLS).'}),
  dest: Flags.string({summary: 'Destination account URL, same form as --source.'}),
  'source-tls': Flags.string({options: [...TLS_MODES], summary: 'Override the source TLS mode (none = plaintext, loopback only).'}),
  'dest-tls': Flags.string({options: [...TLS_MODES], summary: 'Override the destination TLS mode.'}),
  'source-password-env': Flags.string({summary: 'Environment variable holding the source password.'}),
  'source-password-file': Flags.string({summary: 'File holding the source password (first line).'}),
  'dest-password-env': Flags.string({summary: 'Environment variable holding the destination password.'}),
  'dest-password-file': Flags.string({summary: 'File holding the destination password (first line).'}),
}

export const concurrencyFlag = Flags.integer({min: 1, max: 64, summary: 'Connections per side and messages in flight (default 4).'})

export const debugFlag = Flags.boolean({summary: 'Print stack traces of errors.'})

/** oclif's parsed flags -> the input of resolveSyncConfig. Flags a command lacks are undefined. */
export function toFlagValues(flags: Record<string, unknown>): SyncFlagValues {
  return {
    config: flags.config as string | undefined,
    source: flags.source as string | undefined,
    dest: flags.dest as string | undefined,
    sourceTls: flags['source-tls'] as string | undefined,
    destTls: flags['dest-tls'] as string | undefined,
    sourcePasswordEnv: flags['source-password-env'] as string | undefined,
    sourcePasswordFile: flags['source-password-file'] as string | undefined,
    destPasswordEnv: flags['dest-password-env'] as string | undefined,
    destPasswordFile: flags['dest-password-file'] as string | undefined,
    state: flags.state as string | undefined,
    concurrency: flags.concurrency as number | undefined,
  }
}
