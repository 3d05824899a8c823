import {Flags, type Interfaces} from '@oclif/core'

import {MailferryCommand} from '../cli/command.js'

import {accountFlags, concurrencyFlag, debugFlag, toFlagValues} from '../cli/flags.js'
import {mappingFlags, toMappingFlagValues} from '../cli/mapping-flags.js'
import {openAndPreview} from '../cli/preview.js'
import {resolveRunConfig} from '../config/load.js'
import {renderPlan} from '../report/plan.js'
import type {FailureReport} from '../errors.js'
import type {PlanPreview} from '../sync/preview.js'

type PlanFlags = Interfaces.InferredFlags<typeof Plan.flags>

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
    state: Flags.string({summary: 'State database to read the "copied" counts from (never created).'}),
    concurrency: concurrencyFlag,
    debug: debugFlag,
    ...mappingFlags,
  }

  async run(): Promise<PlanPreview | FailureReport> {
    const {flags} = await this.parse(Plan)
    return this.report(flags.debug, () => this.plan(flags))
  }

  private async plan(flags: PlanFlags): Promise<PlanPreview> {
    const values = {...toFlagValues(flags), mapping: toMappingFlagValues(flags)}
    const {config, warnings} = resolveRunConfig(values, process.env, {defaultStateDir: this.config.dataDir})
    for (const warning of warnings) this.warn(warning)
    const preview = await openAndPreview(config, {dryRun: false})
    preview.warnings.unshift(...warnings)
    if (!this.jsonEnabled()) this.log(renderPlan(preview))
    return preview
  }
}
