import {check} from '../app/run.js'
import {MailferryCommand} from '../cli/command.js'
import {accountFlags, debugFlag, settingFlags} from '../cli/flags.js'
import {mappingFlags} from '../cli/mapping-flags.js'
import {abortOnSignals} from '../cli/signals.js'
import type {FailureReport} from '../errors.js'
import {renderCheck} from '../report/check.js'
import type {CheckResult} from '../sync/check.js'

export default class Check extends MailferryCommand {
  static override summary = 'Before a sync: what the destination would refuse or lose, per folder. Writes nothing.'

  static override description = `Plans the folders as sync does (same config file and flags), then, for the messages a sync would copy:
the destination's quota (GETQUOTAROOT) against the bytes to copy, messages over its APPENDLIMIT, folder names it is known
to refuse, keywords outside its PERMANENTFLAGS, and messages whose header blocks strict servers refuse (lines that are
not header fields, raw 8-bit bytes, NUL, an mbox "From " line, header lines over 998 characters). Only header blocks and
sizes are read; --deep reads whole messages. Destination folders are SELECTed (EXAMINE hides PERMANENTFLAGS); nothing
is written on either server, and no state database is created.

Exit codes: 0 nothing stands in the way; 1 something does (listed); 2 configuration error; 3 login refused;
4 connection or TLS failure; 6 state database error; 130 interrupted.`

  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> --config migrate.yaml', description: 'What would a sync run into?'},
    {command: '<%= config.bin %> <%= command.id %> --config migrate.yaml --deep --json', description: 'Inspect whole messages too, as JSON'},
  ]

  static override enableJsonFlag = true

  static override flags = {
    ...accountFlags,
    ...settingFlags('check'),
    ...mappingFlags,
    debug: debugFlag,
  }

  async run(): Promise<CheckResult | FailureReport> {
    const {flags} = await this.parse(Check)
    return this.report(flags.debug, async () => {
      const abort = new AbortController()
      const removeSignalHandlers = abortOnSignals(abort)
      try {
        const result = await check(this.resolveSpec(flags), {signal: abort.signal})
        if (!this.jsonEnabled()) this.log(renderCheck(result))
        return result
      } finally {
        removeSignalHandlers()
      }
    })
  }
}
