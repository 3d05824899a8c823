import {Command, Flags, type Interfaces} from '@oclif/core'

import {accountFlags, concurrencyFlag, connectivityFlags, debugFlag, toFlagValues} from '../cli/flags.js'
import {fanOut, logEvents, logRunEnd, openRunLog} from '../cli/logging.js'
import {mappingFlags, toMappingFlagValues} from '../cli/mapping-flags.js'
import {peakRssBytes} from '../cli/memory.js'
import {openAndPreview} from '../cli/preview.js'
import {abortOnSignals, openSyncSession, type SyncSession} from '../cli/session.js'
import {resolveRunConfig} from '../config/load.js'
import {describeStore} from '../config/schema.js'
import {selectionOf} from '../config/tuning.js'
import {ConfigError} from '../errors.js'
import {printFailure} from '../cli/failure.js'
import {silentLogger} from '../log.js'
import {createProgressReporter, type ProgressMode} from '../report/progress.js'
import {renderPlan} from '../report/plan.js'
import {exitMeaning, renderSummary} from '../report/summary.js'
import type {EngineHooks} from '../sync/engine.js'
import type {RunResult} from '../sync/events.js'
import type {PlanPreview} from '../sync/preview.js'
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
    'debug-kill-at': Flags.string({
      hidden: true,
      summary: 'before-append:N, after-append:N, or append-sent:N (the N-th APPEND command written, its answer not read): SIGKILL ourselves there.',
    }),
    'debug-no-pipeline': Flags.boolean({hidden: true, summary: 'One imapflow session per APPEND, as before the pipeline (benchmark the old path).'}),
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
    try {
      return await this.sync(flags)
    } catch (error) {
      return this.fail(error, flags.debug)
    }
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
      process.exitCode = preview.exitCode
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
        pipeline: !flags['debug-no-pipeline'],
        onAppendCommandSent: commandSentKill(flags['debug-kill-at']),
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
      result.exitMeaning = exitMeaning(result.exitCode)
      result.peakRssBytes = peakRssBytes()
      result.warnings.unshift(...warnings, ...retryWarnings(session))
      logRunEnd(log, result)
      if (!this.jsonEnabled()) this.log(renderSummary(result))
      process.exitCode = result.exitCode
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

  /**
   * One line that says what and where (not wrapped, unlike oclif's error box), a hint line,
   * the exit code for the kind of failure; the stack only with --debug.
   */
  private fail(error: unknown, debug: boolean): FailureReport {
    const {message, hint, exitCode} = printFailure(error, debug)
    this.runLog.error(`run stopped: exit ${exitCode} (${exitMeaning(exitCode)}): ${message}${hint ? ` (hint: ${hint})` : ''}`)
    this.runLog.close()
    if (!this.jsonEnabled()) this.exit(exitCode)
    // With --json the report is the return value (oclif prints it); the exit code still tells.
    process.exitCode = exitCode
    return {ok: false, exitCode, exitMeaning: exitMeaning(exitCode), error: message}
  }
}

/** --debug-kill-at before-append:N | after-append:N: die by SIGKILL at that APPEND, as a crash would. */
function killHooks(spec: string | undefined): EngineHooks {
  if (!spec || spec.startsWith('append-sent:')) return {}
  const match = /^(before|after)-append:(\d+)$/.exec(spec)
  if (!match) throw new ConfigError(`--debug-kill-at: expected before-append:N, after-append:N or append-sent:N, got "${spec}"`)
  const at = Number(match[2])
  const kill = (ordinal: number) => {
    if (ordinal === at) process.kill(process.pid, 'SIGKILL')
  }
  return match[1] === 'before' ? {beforeAppend: kill} : {afterAppend: kill}
}

/**
 * --debug-kill-at append-sent:N: die by SIGKILL once the N-th APPEND command (a whole MULTIAPPEND
 * batch) was written, before its tagged answer: every message of it has its pending row.
 */
function commandSentKill(spec: string | undefined): ((ordinal: number) => void) | undefined {
  const match = /^append-sent:(\d+)$/.exec(spec ?? '')
  if (!match) return undefined
  const at = Number(match[1])
  return (ordinal) => {
    if (ordinal === at) process.kill(process.pid, 'SIGKILL')
  }
}

/** "destination: 3 operations were retried after a lost connection or server pushback" (issue #5). */
function retryWarnings(session: SyncSession | undefined): string[] {
  const out: string[] = []
  for (const store of [session?.source, session?.dest]) {
    const {retries, droppedSessions} = (store ?? {}) as {retries?: unknown; droppedSessions?: unknown}
    if (typeof retries === 'number' && retries > 0) {
      out.push(`${store!.label}: ${retries} ${retries === 1 ? 'operation was' : 'operations were'} retried after a lost connection or server pushback`)
    }
    if (typeof droppedSessions === 'number' && droppedSessions > 0) {
      out.push(`${store!.label}: ${droppedSessions} ${droppedSessions === 1 ? 'session was' : 'sessions were'} lost (closed by the server or the network) and replaced`)
    }
  }
  return out
}
