import {Flags} from '@oclif/core'

import {MailferryCommand} from '../cli/command.js'

import {batch, batchCheck, loadBatch} from '../app/batch.js'
import {abortOnSignals} from '../cli/signals.js'
import {debugFlag, settingFlags, toFlagValues} from '../cli/flags.js'
import type {BatchJob} from '../batch/config.js'
import type {BatchCheckReport} from '../batch/check.js'
import {renderBatchCheck, renderBatchReport} from '../batch/report.js'
import type {BatchReport} from '../batch/run.js'
import {TLS_MODES, type TlsMode} from '../config/schema.js'
import {ConfigError, type FailureReport} from '../errors.js'

export default class Batch extends MailferryCommand {
  static override summary = 'Migrate many account pairs from one YAML file or CSV: shared connection limits, resumable; --check first.'

  static override description = `Each account runs exactly as \`mailferry sync\` would, with its own state database in the state directory.
batch.json there records each account's outcome: a re-run skips accounts that completed ok (unless --resync) and retries the others.

With --check, each account is checked as \`mailferry check\` would check it (logins, quota, size limits, folder names,
keywords, messages likely refused), every account whatever batch.json says; nothing is written on either server, no
state database is created and batch.json is left as it is. An account's existing state database is read, so what is
copied already is not counted again. --deep (only with --check) inspects whole messages, as check --deep does.

Exit codes: 0 every account completed ok (--check: nothing in any account's way); 1 some account failed or is partial
(--check: has something in its way, or could not be checked); its row says why, with the sync's (or check's) exit code;
2 configuration error (nothing was run); 130 interrupted (re-run to resume).`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --config batch.yaml --parallel 4 --max-connections-per-host 20',
    '<%= config.bin %> <%= command.id %> --accounts accounts.csv --state-dir /var/lib/mailferry/batch',
    '<%= config.bin %> <%= command.id %> --config batch.yaml --check --parallel 8',
  ]

  static override enableJsonFlag = true

  static override flags = {
    config: Flags.string({char: 'c', summary: 'Batch YAML file (defaults: and jobs:).', exactlyOne: ['config', 'accounts']}),
    accounts: Flags.string({summary: 'CSV file: host1;user1;password1;host2;user2;password2 (passwords as env:NAME or file:PATH).'}),
    'state-dir': Flags.string({summary: 'Directory for the per-account state databases and batch.json (default: next to the config file).'}),
    parallel: Flags.integer({min: 1, max: 256, default: 2, summary: 'Accounts migrated at once.'}),
    'max-connections-per-host': Flags.integer({min: 1, summary: 'Sessions per IMAP server (host:port) across all accounts.'}),
    resync: Flags.boolean({summary: 'Also run accounts that completed ok in an earlier batch run.'}),
    check: Flags.boolean({summary: 'Check every account as `mailferry check` would, instead of syncing; writes nothing.', exclusive: ['resync']}),
    'source-tls': Flags.string({options: [...TLS_MODES], summary: 'CSV only: source TLS mode (default implicit).'}),
    'dest-tls': Flags.string({options: [...TLS_MODES], summary: 'CSV only: destination TLS mode (default implicit).'}),
    concurrency: Flags.integer({min: 1, max: 64, summary: 'CSV only: connections per side per account (default 2).'}),
    'debug-kill-after-accounts': Flags.integer({hidden: true, summary: 'Test switch: SIGKILL ourselves after N accounts finished.'}),
    // For every account, over its YAML keys (config/settings.ts lists which settings batch takes).
    ...settingFlags('batch'),
    debug: debugFlag,
  }

  async run(): Promise<BatchReport | BatchCheckReport | FailureReport> {
    const {flags} = await this.parse(Batch)
    return this.report(flags.debug, async () => {
      const {jobs, stateDir} = this.load(flags)
      const abort = new AbortController()
      const removeSignalHandlers = abortOnSignals(abort)
      try {
        const common = {
          stateDir,
          parallel: flags.parallel,
          maxConnectionsPerHost: flags['max-connections-per-host'],
          signal: abort.signal,
          progress: (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
          settings: toFlagValues(flags).settings,
        }
        if (flags.check) {
          const report = await batchCheck(jobs, common)
          if (!this.jsonEnabled()) this.log(renderBatchCheck(report))
          return report
        }
        const report = await batch(jobs, {...common, resync: flags.resync, killAfterAccounts: flags['debug-kill-after-accounts']})
        if (!this.jsonEnabled()) this.log(renderBatchReport(report))
        return report
      } finally {
        removeSignalHandlers()
      }
    })
  }

  private load(flags: {config?: string; accounts?: string; 'state-dir'?: string; 'source-tls'?: string; 'dest-tls'?: string; concurrency?: number; deep?: boolean; check?: boolean}): {
    jobs: BatchJob[]
    stateDir: string
  } {
    if (flags.deep && !flags.check) throw new ConfigError('--deep applies to batch --check (a batch run copies whole messages anyway)')
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
