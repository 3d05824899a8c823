import {Flags} from '@oclif/core'

import {MailferryCommand} from '../cli/command.js'
import {maildirArgument, omitFlags, renameFlag, usageError} from '../cli/forward.js'
import Sync from './sync.js'

/** The source side's flags: restore reads --from instead. */
const sourceOnly = (name: string) => name === 'source' || name.startsWith('source-')

export default class Restore extends MailferryCommand {
  static override summary = 'Copy a Maildir backup (or any Dovecot-style Maildir) back to an IMAP account.'

  static override description = `Every message arrives once, byte for byte, with its flags, keywords and internal date; a re-run copies
only what is missing and brings flag changes across, and a killed run resumes. The backup is only read (files that
have no UID yet get one in dovecot-uidlist, as Dovecot does). This is \`mailferry sync --source maildir:PATH\`: every
sync flag for the destination and the run applies. Exit codes as for sync.`

  static override examples = [
    {
      command: '<%= config.bin %> <%= command.id %> --from ~/backups/alice --dest imaps://alice@new.example.com --dest-password-env NEW_PW',
      description: 'Restore a backup into an account',
    },
  ]

  static override flags = {
    ...omitFlags(Sync.flags, sourceOnly),
    from: Flags.string({required: true, summary: 'Backup directory: maildir:/path, maildir:relative/path or a plain path.'}),
    json: Flags.boolean({summary: 'Print the report as JSON on stdout (no progress output).'}),
  }

  async run(): Promise<unknown> {
    await this.parse(Restore)
    let argv: string[]
    try {
      argv = renameFlag(this.argv, 'from', 'source', (value) => maildirArgument('from', value))
    } catch (error) {
      return usageError(this, error)
    }
    return this.config.runCommand('sync', argv)
  }
}
