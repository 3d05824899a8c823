import {verify} from '../app/run.js'
import {MailferryCommand} from '../cli/command.js'
import {accountFlags, debugFlag, settingFlags} from '../cli/flags.js'
import {mappingFlags} from '../cli/mapping-flags.js'
import type {FailureReport} from '../errors.js'
import {renderVerifyReport} from '../report/verify.js'
import type {VerifyResult} from '../verify/run.js'

export default class Verify extends MailferryCommand {
  static override summary = 'Compare the source and destination accounts folder by folder; change nothing.'

  static override description = `Folders are mapped as sync maps them (give the same mapping flags or config file). Per folder: message counts, Message-ID and size of every message,
header blocks, flags (without \\Recent) and internal dates; with --deep also the SHA-256 of every whole message.
Messages are paired by content (no state database), and each difference is listed with both UIDs.
Both accounts are only read (EXAMINE, BODY.PEEK). Without --deep no message body is downloaded, so a changed
body of the same size under the same header block is not seen.

Exit codes: 0 equal; 1 different (listed); 2 configuration error; 3 login refused; 4 connection or TLS failure;
5 a folder could not be compared; 130 interrupted.`

  static override examples = [
    {
      command: '<%= config.bin %> <%= command.id %> --config examples/migrate.yaml',
      description: 'After a sync: are both accounts the same?',
    },
    {
      command: '<%= config.bin %> <%= command.id %> --config examples/migrate.yaml --deep --json',
      description: 'Hash every message on both sides too, and print the result as JSON',
    },
  ]

  static override enableJsonFlag = true

  static override flags = {
    ...accountFlags,
    ...settingFlags('verify'),
    ...mappingFlags,
    debug: debugFlag,
  }

  async run(): Promise<VerifyResult | FailureReport> {
    const {flags} = await this.parse(Verify)
    return this.report(flags.debug, async () => {
      // The same mapping flags as sync: verify compares the folders sync would pair.
      const human = !this.jsonEnabled()
      const result = await verify(this.resolveSpec(flags), {
        onFolder: human
          ? ({phase, source: folder, verdict}) => {
              if (phase === 'start') process.stderr.write(`comparing ${folder}${flags.deep ? ' (deep)' : ''}...\n`)
              else if (verdict?.error) process.stderr.write(`${folder}: ${verdict.error}\n`)
            }
          : undefined,
      })
      if (human) this.log(renderVerifyReport(result))
      return result
    })
  }
}
