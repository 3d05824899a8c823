import {Command, Flags, type Interfaces} from '@oclif/core'

import {accountFlags, concurrencyFlag, debugFlag, toFlagValues} from '../cli/flags.js'
import {resolveSyncConfig} from '../config/load.js'
import {describeEndpoint} from '../config/schema.js'
import {ConfigError, ExitCode, MailferryError, describeError} from '../errors.js'
import {createProgressReporter, type ProgressMode} from '../report/progress.js'
import {exitMeaning, renderSummary} from '../report/summary.js'
import {openStateDb} from '../state/db.js'
import {StateRepository} from '../state/repository.js'
import {ImapStore} from '../stores/imap-store.js'
import type {EngineHooks} from '../sync/engine.js'
import type {RunResult} from '../sync/events.js'
import {runSync} from '../sync/run.js'

/** What --json prints when the run could not start or was stopped by an error. */
export interface FailureReport {
  ok: false
  exitCode: number
  exitMeaning: string
  error: string
}

type SyncFlags = Interfaces.InferredFlags<typeof Sync.flags>

export default class Sync extends Command {
  static override summary = 'Copy every folder and message from the source account to the destination, exactly once.'

  static override description = `Incremental and resumable: a re-run copies only what is new and brings flag changes across.
Messages keep their bytes, flags, keywords and internal date. Passwords come from an env var or a file, never from the command line.

Exit codes: 0 everything copied; 1 some messages failed (listed); 2 configuration error; 3 login refused;
4 connection or TLS failure (re-run to resume); 5 a folder could not be used; 6 state database error; 130 interrupted.`

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
    state: Flags.string({summary: 'State database path (default: one per account pair in the data directory).'}),
    concurrency: concurrencyFlag,
    debug: debugFlag,
    mirror: Flags.boolean({summary: 'Make destination flags equal to the source\'s, overriding changes made only on the destination.'}),
    'delete-extraneous': Flags.boolean({
      summary: 'Delete destination copies whose source message is gone (only copies the state database pairs with a source message).',
    }),
    'delete-extraneous-folders': Flags.boolean({
      summary: 'Delete destination folders mailferry created whose source folder is gone (kept if they hold other mail).',
    }),
    move: Flags.boolean({summary: 'Delete each source message once its copy is confirmed on the destination (imapsync --delete1).'}),
    // Test switches (mbsync's -T): stop at an exact point, or act as if the destination had no UIDPLUS.
    'debug-kill-at': Flags.string({hidden: true, summary: 'before-append:N or after-append:N: SIGKILL ourselves there.'}),
    'debug-ignore-appenduid': Flags.boolean({hidden: true}),
  }

  async run(): Promise<RunResult | FailureReport> {
    const {flags} = await this.parse(Sync)
    try {
      return await this.sync(flags)
    } catch (error) {
      return this.fail(error, flags.debug)
    }
  }

  private async sync(flags: SyncFlags) {
    const {config, warnings} = resolveSyncConfig(toFlagValues(flags), process.env, {defaultStateDir: this.config.dataDir})
    for (const warning of warnings) this.warn(warning)

    // --move needs a read-write source; otherwise the source is only ever EXAMINEd.
    const source = new ImapStore({label: 'source', endpoint: config.source, connections: config.concurrency, readOnly: !flags.move})
    const dest = new ImapStore({
      label: 'destination',
      endpoint: config.dest,
      connections: config.concurrency,
      readOnly: false,
      ignoreAppendUid: flags['debug-ignore-appenduid'],
    })
    const abort = new AbortController()
    const onSignal = () => {
      if (abort.signal.aborted) process.exit(ExitCode.interrupted)
      abort.abort()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    let state: ReturnType<typeof openStateDb> | undefined
    try {
      // Log in on both sides before the state file is created: a wrong password leaves nothing behind.
      await Promise.all([source.open(), dest.open()])
      state = openStateDb(config.statePath)
      const repository = new StateRepository(state.db)
      repository.bindAccounts(describeEndpoint(config.source), describeEndpoint(config.dest))

      const progress = createProgressReporter({stream: process.stderr, mode: this.progressMode()})
      let result: RunResult
      try {
        result = await runSync(
          {
            source,
            dest,
            state: repository,
            emit: progress.listener,
            sourceName: describeEndpoint(config.source),
            destName: describeEndpoint(config.dest),
            statePath: config.statePath,
          },
          {
            concurrency: config.concurrency,
            signal: abort.signal,
            hooks: killHooks(flags['debug-kill-at']),
            policy: {mirror: flags.mirror, deleteExtraneous: flags['delete-extraneous'], move: flags.move},
            deleteExtraneousFolders: flags['delete-extraneous-folders'],
          },
        )
      } finally {
        progress.stop()
      }
      result.exitMeaning = exitMeaning(result.exitCode)
      result.peakRssBytes = process.resourceUsage().maxRSS * 1024
      result.warnings.unshift(...warnings)
      if (!this.jsonEnabled()) this.log(renderSummary(result))
      process.exitCode = result.exitCode
      return result
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      await Promise.allSettled([source.close(), dest.close()])
      state?.close()
    }
  }

  private progressMode(): ProgressMode {
    if (this.jsonEnabled()) return 'silent'
    return process.stderr.isTTY ? 'bars' : 'lines'
  }

  /**
   * One line that says what and where (not wrapped, unlike oclif's error box), a hint line,
   * the exit code for the kind of failure; the stack only with --debug.
   */
  private fail(error: unknown, debug: boolean): FailureReport {
    const known = error instanceof MailferryError ? error : undefined
    const message = known?.message ?? describeError(error)
    const exitCode = known?.exitCode ?? ExitCode.partial
    if (debug && error instanceof Error) process.stderr.write(`${error.stack}\n`)
    process.stderr.write(`Error: ${message}\n${known?.hint ? `Hint: ${known.hint}\n` : ''}`)
    if (!this.jsonEnabled()) this.exit(exitCode)
    // With --json the report is the return value (oclif prints it); the exit code still tells.
    process.exitCode = exitCode
    return {ok: false, exitCode, exitMeaning: exitMeaning(exitCode), error: message}
  }
}

/** --debug-kill-at before-append:N | after-append:N: die by SIGKILL at that APPEND, as a crash would. */
function killHooks(spec: string | undefined): EngineHooks {
  if (!spec) return {}
  const match = /^(before|after)-append:(\d+)$/.exec(spec)
  if (!match) throw new ConfigError(`--debug-kill-at: expected before-append:N or after-append:N, got "${spec}"`)
  const at = Number(match[2])
  const kill = (ordinal: number) => {
    if (ordinal === at) process.kill(process.pid, 'SIGKILL')
  }
  return match[1] === 'before' ? {beforeAppend: kill} : {afterAppend: kill}
}
