import {existsSync} from 'node:fs'
import {resolve} from 'node:path'

import {Flags} from '@oclif/core'

import {loadBatch} from '../app/batch.js'
import {MailferryCommand} from '../cli/command.js'

import {jobStatePath} from '../batch/run.js'
import {batchStatePath, readBatchState} from '../batch/state.js'
import {readAccountStatus, renderStatus, type AccountStatus} from '../batch/status.js'
import {ConfigError, type FailureReport} from '../errors.js'

type Row = AccountStatus & {id?: string; batchOutcome?: string; label?: string}

export default class Status extends MailferryCommand {
  static override summary = 'Show per account and folder what is copied, pending and failed, from the state databases alone (no connection).'

  static override examples = [
    '<%= config.bin %> <%= command.id %> --config batch.yaml',
    '<%= config.bin %> <%= command.id %> --state ~/.local/share/mailferry/alice@old-993--alice@new-993.sqlite',
  ]

  static override enableJsonFlag = true

  static override flags = {
    config: Flags.string({char: 'c', summary: 'Batch YAML file (as for mailferry batch).', exactlyOne: ['config', 'accounts', 'state']}),
    accounts: Flags.string({summary: 'Batch CSV file (as for mailferry batch).'}),
    state: Flags.string({summary: 'One account\'s state database.'}),
    'state-dir': Flags.string({summary: 'The batch state directory, if not the default.'}),
  }

  async run(): Promise<{accounts: Row[]} | FailureReport> {
    const {flags} = await this.parse(Status)
    return this.report(false, async () => {
      let rows: Row[]
      if (flags.state !== undefined) {
        const path = resolve(flags.state)
        if (!existsSync(path)) throw new ConfigError(`--state ${path}: no such state database`)
        rows = [readAccountStatus(path)]
      } else {
        const {jobs, stateDir} = loadBatch({config: flags.config, accounts: flags.accounts, stateDir: flags['state-dir']})
        const batch = readBatchState(batchStatePath(stateDir))
        rows = jobs.map((job) => {
          const record = batch.accounts[job.id]
          return {
            ...readAccountStatus(jobStatePath(stateDir, job)),
            id: job.id,
            label: job.id,
            ...(record ? {batchOutcome: `${record.outcome} (exit ${record.exitCode}) at ${record.finishedAt}`} : {}),
          }
        })
      }
      if (!this.jsonEnabled()) this.log(renderStatus(rows))
      return {accounts: rows}
    })
  }
}
