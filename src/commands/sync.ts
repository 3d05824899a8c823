import {Flags, type Interfaces} from '@oclif/core'

import {MailferryCommand} from '../cli/command.js'

import {accountFlags, concurrencyFlag, connectivityFlags, debugFlag, toFlagValues} from '../cli/flags.js'
import {fanOut, logEvents, logRunEnd, openRunLog} from '../cli/logging.js'
import {mappingFlags, toMappingFlagValues} from '../cli/mapping-flags.js'
import {peakRssBytes} from '../cli/memory.js'
import {openAndPreview} from '../cli/preview.js'
import {abortOnSignals, openSyncSession, type SyncSession} from '../cli/session.js'
import {resolveRunConfig} from '../config/load.js'
import {describeStore} from '../config/schema.js'
import {selectionOf} from '../config/tuning.js'
import {ConfigError, type FailureReport} from '../errors.js'
import {silentLogger} from '../log.js'
import {createProgressReporter, type ProgressMode} from '../report/progress.js'
import {renderPlan} from '../report/plan.js'
import {renderSummary} from '../report/summary.js'
import type {EngineHooks} from '../sync/engine.js'
import type {RunResult} from '../sync/events.js'
import type {PlanPreview} from '../sync/preview.js'
import {runSync} from '../sync/run.js'

type SyncFlags = Interfaces.InferredFlags<typeof Sync.flags>

export default class Sync extends MailferryCommand {
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
    ...connectivityFlags,
    'max-errors': Flags.integer({min: 1, summary: 'Stop the run (exit 1) once this many messages failed (imapsync --errorsmax).'}),
    'max-age': Flags.integer({min: 1, summary: 'Copy only messages younger than N days, by INTERNALDATE (imapsync --maxage).'}),
    'min-age': Flags.integer({min: 1, summary: 'Copy only messages older than N days (imapsync --minage).'}),
    'max-size': Flags.integer({min: 1, summary: 'Copy only messages of at most N bytes (imapsync --maxsize).'}),
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
    'debug-kill-at': Flags.string({hidden: true, summary: '(before|after)-(append|expunge):N: SIGKILL ourselves there.'}),
    'debug-ignore-appenduid': Flags.boolean({hidden: true}),
    'debug-no-condstore': Flags.boolean({hidden: true, summary: 'Ignore the source\'s CONDSTORE (benchmark the fallback).'}),
    ...mappingFlags,
    'dry-run': Flags.boolean({
      summary: 'Print the folder plan with message counts (as `mailferry plan`) and stop: nothing is written anywhere.',
    }),
    'folders-only': Flags.boolean({summary: 'Create the destination folders and subscriptions, copy no message.'}),
  }

  async run(): Promise<RunResult | PlanPreview | FailureReport> {
    const {flags} = await this.parse(Sync)
    return this.report(flags.debug, () => this.sync(flags), (failure) => {
      const hint = failure.hint ? ` (hint: ${failure.hint})` : ''
      this.runLog.error(`run stopped: exit ${failure.exitCode} (${failure.exitMeaning}): ${failure.error}${hint}`)
      this.runLog.close()
    })
  }

  private async sync(flags: SyncFlags): Promise<RunResult | PlanPreview> {
    const values = {...toFlagValues(flags), mapping: toMappingFlagValues(flags)}
    const {config, warnings} = resolveRunConfig(values, process.env, {defaultStateDir: this.config.dataDir})
    for (const warning of warnings) this.warn(warning)
    if (flags['dry-run']) {
      // Read-only stores, no state database: only listings, STATUS and sizes.
      const preview = await openAndPreview(config, {dryRun: true})
      preview.warnings.unshift(...warnings)
      if (!this.jsonEnabled()) this.log(renderPlan(preview))
      return preview
    }

    const log = openRunLog(config.tuning?.logFile, flags['debug-imap'])
    this.runLog = log
    log.info(`run started: mailferry sync ${describeStore(config.source)} -> ${describeStore(config.dest)}, state ${config.statePath}`)
    for (const warning of warnings) log.warn(warning)

    const abort = new AbortController()
    const removeSignalHandlers = abortOnSignals(abort)
    let session: SyncSession | undefined
    try {
      session = await openSyncSession(config, {
        writableSource: flags.move,
        ignoreAppendUid: flags['debug-ignore-appenduid'],
        ignoreCondstore: flags['debug-no-condstore'],
        logger: log,
        signal: abort.signal,
      })
      const progress = createProgressReporter({stream: process.stderr, mode: this.progressMode()})
      let result: RunResult
      try {
        result = await runSync(
          {...session.context, emit: fanOut(progress.listener, logEvents(log))},
          {
            concurrency: config.concurrency,
            signal: abort.signal,
            hooks: killHooks(flags['debug-kill-at']),
            policy: {
              mirror: flags.mirror,
              deleteExtraneous: flags['delete-extraneous'],
              move: flags.move,
              maxErrors: config.tuning?.maxErrors,
              selection: selectionOf(config.tuning),
            },
            deleteExtraneousFolders: flags['delete-extraneous-folders'],
            mapping: config.mapping,
            foldersOnly: flags['folders-only'],
          },
        )
      } finally {
        progress.stop()
      }
      result.peakRssBytes = peakRssBytes()
      result.warnings.unshift(...warnings)
      logRunEnd(log, result)
      if (!this.jsonEnabled()) this.log(renderSummary(result))
      return result
    } finally {
      removeSignalHandlers()
      await session?.close()
    }
  }

  /** The run's log (silent until the config is read); fail() writes the final error to it. */
  private runLog = silentLogger

  private progressMode(): ProgressMode {
    if (this.jsonEnabled()) return 'silent'
    return process.stderr.isTTY ? 'bars' : 'lines'
  }
}

/**
 * --debug-kill-at before-append:N | after-append:N | before-expunge:N | after-expunge:N: die by
 * SIGKILL at that APPEND (or --move expunge, counted per folder), as a crash would.
 */
function killHooks(spec: string | undefined): EngineHooks {
  if (!spec) return {}
  const match = /^(before|after)-(append|expunge):(\d+)$/.exec(spec)
  if (!match) throw new ConfigError(`--debug-kill-at: expected before-append:N, after-append:N, before-expunge:N or after-expunge:N, got "${spec}"`)
  const at = Number(match[3])
  const kill = (ordinal: number) => {
    if (ordinal === at) process.kill(process.pid, 'SIGKILL')
  }
  const hook = `${match[1]}${match[2] === 'append' ? 'Append' : 'Expunge'}` as keyof EngineHooks
  return {[hook]: kill}
}
