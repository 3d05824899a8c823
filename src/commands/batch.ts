import {Flags} from '@oclif/core'

import {MailferryCommand} from '../cli/command.js'

import {batch, loadBatch} from '../app/batch.js'
import {abortOnSignals} from '../cli/signals.js'
import {debugFlag, settingFlags, toFlagValues} from '../cli/flags.js'
import type {BatchJob} from '../batch/config.js'
import {renderBatchReport} from '../batch/report.js'
import type {BatchReport} from '../batch/run.js'
import {TLS_MODES, type TlsMode} from '../config/schema.js'
import {ConfigError, type FailureReport} from '../errors.js'

export default class Batch extends MailferryCommand {
  static override summary = 'Migrate many account pairs from one YAML file or CSV: shared connection limits, resumable.'

  static override description = `Each account runs exactly as \`mailferry sync\` would, with its own state database in the state directory.
batch.json there records each account's outcome: a re-run skips accounts that completed ok (unless --resync) and retries the others.

Exit codes: 0 every account completed ok; 1 some account failed or is partial (its row says why, with the sync exit code);
2 configuration error (nothing was run); 130 interrupted (re-run to resume).`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --config batch.yaml --parallel 4 --max-connections-per-host 20',
    '<%= config.bin %> <%= command.id %> --accounts accounts.csv --state-dir /var/lib/mailferry/batch',
  ]

  static override enableJsonFlag = true

  static override flags = {
    config: Flags.string({char: 'c', summary: 'Batch YAML file (defaults: and jobs:).', exactlyOne: ['config', 'accounts']}),
    accounts: Flags.string({summary: 'CSV file: host1;user1;password1;host2;user2;password2 (passwords as env:NAME or file:PATH).'}),
    'state-dir': Flags.string({summary: 'Directory for the per-account state databases and batch.json (default: next to the config file).'}),
    parallel: Flags.integer({min: 1, max: 256, default: 2, summary: 'Accounts migrated at once.'}),
    'max-connections-per-host': Flags.integer({min: 1, summary: 'Sessions per IMAP server (host:port) across all accounts.'}),
    resync: Flags.boolean({summary: 'Also run accounts that completed ok in an earlier batch run.'}),
    'source-tls': Flags.string({options: [...TLS_MODES], summary: 'CSV only: source TLS mode (default implicit).'}),
    'dest-tls': Flags.string({options: [...TLS_MODES], summary: 'CSV only: destination TLS mode (default implicit).'}),
    concurrency: Flags.integer({min: 1, max: 64, summary: 'CSV only: connections per side per account (default 2).'}),
    'debug-kill-after-accounts': Flags.integer({hidden: true, summary: 'Test switch: SIGKILL ourselves after N accounts finished.'}),
    // For every account, over its YAML keys (config/settings.ts lists which settings batch takes).
    ...settingFlags('batch'),
    debug: debugFlag,
  }

  async run(): Promise<BatchReport | FailureReport> {
    const {flags} = await this.parse(Batch)
    return this.report(flags.debug, async () => {
      const {jobs, stateDir} = this.load(flags)
      const abort = new AbortController()
      const removeSignalHandlers = abortOnSignals(abort)
      try {
        const report = await batch(jobs, {
          stateDir,
          parallel: flags.parallel,
          maxConnectionsPerHost: flags['max-connections-per-host'],
          resync: flags.resync,
          signal: abort.signal,
          progress: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
          killAfterAccounts: flags['debug-kill-after-accounts'],
          settings: toFlagValues(flags).settings,
        })
        if (!this.jsonEnabled()) this.log(renderBatchReport(report))
        return report
      } finally {
        removeSignalHandlers()
      }
    })
  }

  private load(flags: {config?: string; accounts?: string; 'state-dir'?: string; 'source-tls'?: string; 'dest-tls'?: string; concurrency?: number}): {
    jobs: BatchJob[]
    stateDir: string
  } {
    if (flags.config !== undefined) {
      for (const flag of ['source-tls', 'dest-tls', 'concurrency'] as const) {
        if (flags[flag] !== undefined) throw new ConfigError(`--${flag} applies to --accounts CSV files; in YAML use defaults.${flag === 'concurrency' ? 'concurrency' : `${flag.split('-')[0]}.tls`}`)
      }
    }
    return loadBatch({
      config: flags.config,
      accounts: flags.accounts,
      stateDir: flags['state-dir'],
      csv: {sourceTls: flags['source-tls'] as TlsMode | undefined, destTls: flags['dest-tls'] as TlsMode | undefined, concurrency: flags.concurrency},
    })
  }
}
