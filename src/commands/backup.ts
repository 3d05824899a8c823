import {Flags} from '@oclif/core'

import {MailferryCommand} from '../cli/command.js'
import {maildirArgument, omitFlags, renameFlag, usageError} from '../cli/forward.js'
import Sync from './sync.js'

/** The destination side's flags: backup writes to --to instead. */
const destOnly = (name: string) => name === 'dest' || name.startsWith('dest-')

export default class Backup extends MailferryCommand {
  static override summary = 'Back up an IMAP account into a local Maildir; re-runs copy only new messages and flag changes.'

  static override description = `The Maildir is in Dovecot's layout (folders as .Name directories, flags in file names, keywords in
dovecot-keywords, UIDs in dovecot-uidlist, INTERNALDATE as the file time), so Dovecot can serve it as it is and
\`mailferry restore\` can copy it back. The backup keeps its own state database (mailferry-state.sqlite, mode 0600)
unless --state says otherwise. This is \`mailferry sync --dest maildir:PATH\`: every sync flag for the source and the
run applies (--include/--exclude, --dry-run, --json, ...), except that folders keep their names unless --automap
is given. Exit codes as for sync.`

  static override examples = [
    {
      command: '<%= config.bin %> <%= command.id %> --source imaps://alice@mail.example.com --source-password-env MAIL_PW --to ~/backups/alice',
      description: 'Back up (or bring an earlier backup up to date)',
    },
    {
      command: '<%= config.bin %> <%= command.id %> --config account.yaml --to maildir:/srv/backup/alice --json',
      description: 'The account from a YAML file (its dest: section is replaced by --to); the report as JSON',
    },
  ]

  static override flags = {
    ...omitFlags(Sync.flags, destOnly),
    to: Flags.string({
      required: true,
      summary: 'Backup directory: maildir:/path, maildir:relative/path or a plain path (created when missing).',
    }),
    json: Flags.boolean({summary: 'Print the report as JSON on stdout (no progress output).'}),
  }

  async run(): Promise<unknown> {
    await this.parse(Backup)
    let argv: string[]
    try {
      argv = renameFlag(this.argv, 'to', 'dest', (value) => maildirArgument('to', value))
    } catch (error) {
      return usageError(this, error)
    }
    // A backup keeps every folder under its own name. Special-use matching (--automap) would look
    // for "Sent", "Trash"... by name in the backup, which has no attributes to go by.
    if (!argv.some((arg) => arg === '--automap' || arg === '--no-automap')) argv.push('--no-automap')
    return this.config.runCommand('sync', argv)
  }
}

