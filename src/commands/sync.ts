import {plan, sync} from '../app/run.js'
import {MailferryCommand} from '../cli/command.js'
import {accountFlags, debugFlag, settingFlags} from '../cli/flags.js'
import {mappingFlags} from '../cli/mapping-flags.js'
import {abortOnSignals} from '../cli/signals.js'
import type {FailureReport} from '../errors.js'
import {createProgressReporter} from '../report/progress.js'
import {renderPlan} from '../report/plan.js'
import {renderSummary} from '../report/summary.js'
import type {RunResult} from '../sync/events.js'
import type {PlanPreview} from '../sync/preview.js'

export default class Sync extends MailferryCommand {
  static override summary = 'Copy every folder and message from the source account to the destination, exactly once.'

  static override description = `Incremental and resumable: a re-run copies only what is new and brings flag changes across.
Messages keep their bytes, flags, keywords and internal date. Passwords come from an env var or a file, never from the command line.

Exit codes: 0 everything copied; 1 some messages failed (listed); 2 configuration error; 3 login refused;
4 connection or TLS failure (re-run to resume); 5 a folder could not be used; 6 state database error;
75 a budget (--max-bytes-per-day, --max-messages-per-hour) is spent (re-run after the time given); 130 interrupted.`

  static override examples = [
    {
      command: '<%= config.bin %> <%= command.id %> --config examples/migrate.yaml',
      description: 'Both accounts from a YAML file',
    },
    {
      command:
        '<%= config.bin %> <%= command.id %> --source imaps://alice@old.example:993 --source-password-env OLD_PW --dest imap://alice@new.example --dest-password-env NEW_PW',
      description: 'Both accounts from flags (imaps = implicit TLS, imap = STARTTLS required)',
    },
  ]

  static override enableJsonFlag = true

  static override flags = {
    ...accountFlags,
    ...settingFlags('sync'),
    ...mappingFlags,
    debug: debugFlag,
  }

  async run(): Promise<RunResult | PlanPreview | FailureReport> {
    const {flags} = await this.parse(Sync)
    return this.report(flags.debug, async () => {
      const spec = this.resolveSpec(flags)
      if (spec.config.settings.dryRun) {
        // Read-only stores, no state database: only listings, STATUS and sizes.
        const preview = await plan(spec, {}, true)
        if (!this.jsonEnabled()) this.log(renderPlan(preview))
        return preview
      }
      const abort = new AbortController()
      const removeSignalHandlers = abortOnSignals(abort)
      const mode = this.jsonEnabled() ? 'silent' : process.stderr.isTTY ? 'bars' : 'lines'
      const progress = createProgressReporter({stream: process.stderr, mode})
      try {
        const result = await sync(spec, {signal: abort.signal, emit: progress.listener})
        progress.stop()
        if (!this.jsonEnabled()) this.log(renderSummary(result))
        return result
      } finally {
        progress.stop()
        removeSignalHandlers()
      }
    })
  }
}
