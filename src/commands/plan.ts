import {plan} from '../app/run.js'
import {MailferryCommand} from '../cli/command.js'
import {accountFlags, debugFlag, settingFlags} from '../cli/flags.js'
import {mappingFlags} from '../cli/mapping-flags.js'
import type {FailureReport} from '../errors.js'
import {renderPlan} from '../report/plan.js'
import type {PlanPreview} from '../sync/preview.js'

export default class Plan extends MailferryCommand {
  static override summary = 'Show which source folder goes to which destination folder, and how much is left to copy. Changes nothing.'

  static override description = `Lists both accounts and applies the folder mapping (namespaces, separators, special-use folders,
--include/--exclude/--map/--rename/--nest-under, Gmail) exactly as sync would, then counts each source folder:
messages (STATUS), size (FETCH RFC822.SIZE), already copied according to the state database, still to copy.
Read-only on both servers (folders are only EXAMINEd) and in the state database, which is not created.

Exit codes: 0 the plan is fine; 2 configuration error or folder mapping conflicts (listed; a sync would write nothing);
3 login refused; 4 connection or TLS failure; 6 state database error.`

  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> --config migrate.yaml', description: 'The folder mapping and counts of a configured migration'},
    {
      command: `<%= config.bin %> <%= command.id %> --config migrate.yaml --exclude '^Trash$' --rename 's/^Lists\\//Mailing lists\\//' --json`,
      description: 'Try rules before syncing, as JSON',
    },
  ]

  static override enableJsonFlag = true

  static override flags = {
    ...accountFlags,
    ...settingFlags('plan'),
    ...mappingFlags,
    debug: debugFlag,
  }

  async run(): Promise<PlanPreview | FailureReport> {
    const {flags} = await this.parse(Plan)
    return this.report(flags.debug, async () => {
      const preview = await plan(this.resolveSpec(flags), {}, false)
      if (!this.jsonEnabled()) this.log(renderPlan(preview))
      return preview
    })
  }
}
