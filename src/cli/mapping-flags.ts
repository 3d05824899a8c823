/**
 * Folder mapping flags, shared by `sync` and `plan` (config/mapping.ts validates and merges them with
 * the YAML `folders:` section). Folder names in them are normalised: "/" between levels whatever the
 * servers use, no namespace prefix, INBOX case-insensitive.
 */
import {Flags} from '@oclif/core'

import type {MappingFlagValues} from '../config/mapping.js'

export const mappingFlags = {
  include: Flags.string({
    multiple: true,
    summary: 'Copy only folders whose name matches this regex (repeatable; names use "/" between levels).',
  }),
  exclude: Flags.string({multiple: true, summary: 'Do not copy folders whose name matches this regex (repeatable).'}),
  map: Flags.string({multiple: true, summary: 'Exact rename, "Old/Name=New/Name" (repeatable; subfolders are not affected).'}),
  rename: Flags.string({
    multiple: true,
    summary: "Regex rename, 's/^Old/New/' with flags g, i (repeatable, applied in order; like imapsync --regextrans2).",
  }),
  'nest-under': Flags.string({summary: 'Put every folder, INBOX too, below this destination folder, e.g. Migrated/alice.'}),
  'subscribed-only': Flags.boolean({summary: 'Copy only folders subscribed on the source.'}),
  automap: Flags.boolean({
    allowNo: true,
    summary: 'Map Sent, Trash, Drafts, Junk and Archive to the destination\'s folders of the same role (default on; --no-automap).',
  }),
  'gmail-all-mail': Flags.boolean({
    summary: 'Also copy Gmail\'s "[Gmail]/All Mail" and "Important" (skipped by default: labelled messages would be copied twice).',
  }),
  subscriptions: Flags.boolean({
    allowNo: true,
    summary: 'Subscribe on the destination what is subscribed on the source (default on; --no-subscriptions).',
  }),
}

/** oclif's parsed flags -> MappingFlagValues (undefined = not given). */
export function toMappingFlagValues(flags: Record<string, unknown>): MappingFlagValues {
  return {
    include: flags.include as string[] | undefined,
    exclude: flags.exclude as string[] | undefined,
    map: flags.map as string[] | undefined,
    rename: flags.rename as string[] | undefined,
    nestUnder: flags['nest-under'] as string | undefined,
    // A boolean flag that was not given is false in oclif: only `true` overrides the file here.
    subscribedOnly: flags['subscribed-only'] === true ? true : undefined,
    automap: flags.automap as boolean | undefined,
    gmailAllMail: flags['gmail-all-mail'] === true ? true : undefined,
    subscriptions: flags.subscriptions as boolean | undefined,
  }
}
