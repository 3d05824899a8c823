import {Command, Flags} from '@oclif/core'

import {accountFlags, concurrencyFlag, connectivityFlags, debugFlag, toFlagValues} from '../cli/flags.js'
import {openRunLog} from '../cli/logging.js'
import {mappingFlags, toMappingFlagValues} from '../cli/mapping-flags.js'
import {abortOnSignals, openSyncSession, type SyncSession} from '../cli/session.js'
import {untilAborted, Wake} from '../cli/wake.js'
import {ExitCode} from '../errors.js'
import {silentLogger, type Logger} from '../log.js'
import {resolveRunConfig} from '../config/load.js'
import type {FolderMappingConfig} from '../config/mapping.js'
import {printFailure} from '../cli/failure.js'
import {createProgressReporter} from '../report/progress.js'
import type {RunResult} from '../sync/events.js'
import {runSync} from '../sync/run.js'

export default class Watch extends Command {
  static override summary = 'Keep the destination in step with the source: sync, then again whenever the source changes.'

  static override description = `Runs a sync, then keeps running: new mail and flag changes reach the destination within seconds.
The source INBOX is watched with IMAP IDLE (a change starts a pass at once); every folder is checked every --interval seconds
(a folder that did not change costs one STATUS command). A lost connection is retried with growing pauses, and IDLE
is set up again. SIGINT/SIGTERM stop it within a second, also during a pause, with the state saved (exit 0).`

  static override examples = ['<%= config.bin %> <%= command.id %> --config examples/migrate.yaml --interval 60']

  static override flags = {
    ...accountFlags,
    ...mappingFlags,
    state: Flags.string({summary: 'State database path (default: one per account pair in the data directory).'}),
    concurrency: concurrencyFlag,
    ...connectivityFlags,
    interval: Flags.integer({min: 1, default: 30, summary: 'Seconds between passes over every folder.'}),
    mirror: Flags.boolean({summary: 'Make destination flags equal to the source\'s, overriding destination-only changes.'}),
    'delete-extraneous': Flags.boolean({summary: 'Delete destination copies whose source message is gone.'}),
    debug: debugFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Watch)
    const abort = new AbortController()
    const removeSignalHandlers = abortOnSignals(abort)
    // Every wait ends on the signal; what can still hang (a logout to, or a session being set up
    // with, a host that does not answer) must not hold the stop past a second. Commits are
    // per message, so this is no worse than a kill: the next run resumes.
    abort.signal.addEventListener('abort', () => {
      setTimeout(() => {
        this.say('stopped before the sessions were closed; the next run resumes')
        process.exit(ExitCode.interrupted)
      }, 1000).unref()
    })
    let session: SyncSession | undefined
    let log: Logger = silentLogger
    try {
      const values = {...toFlagValues(flags), mapping: toMappingFlagValues(flags)}
      const {config, warnings} = resolveRunConfig(values, process.env, {defaultStateDir: this.config.dataDir})
      for (const warning of warnings) this.warn(warning)
      log = openRunLog(config.tuning?.logFile, flags['debug-imap'])
      // The signal also cuts reconnect pauses and rate-limit waits short.
      session = await openSyncSession(config, {writableSource: false, logger: log, signal: abort.signal})
      this.say(`watching ${session.context.sourceName} -> ${session.context.destName} (every ${flags.interval} s, IDLE on INBOX)`)
      await this.loop(session, config.concurrency, config.mapping, flags, abort.signal)
      this.say('stopped; the state is saved')
    } catch (error) {
      this.exit(printFailure(error, flags.debug).exitCode)
    } finally {
      removeSignalHandlers()
      await session?.close()
      log.close()
    }
  }

  private async loop(
    session: SyncSession,
    concurrency: number,
    mapping: FolderMappingConfig | undefined,
    flags: {interval: number; mirror: boolean; 'delete-extraneous': boolean},
    signal: AbortSignal,
  ): Promise<void> {
    const wake = new Wake()
    let watcher: {stop(): Promise<void>; readonly closed: boolean} | undefined
    let failures = 0
    const progress = createProgressReporter({stream: process.stderr, mode: 'lines', lineIntervalMs: 60_000})
    try {
      while (!signal.aborted) {
        // (Re)arm IDLE before the pass, so a change made during the pass wakes the next one; also
        // after its session dropped while the passes went on working.
        if (watcher?.closed) watcher = undefined
        watcher ??= await this.armIdle(session, wake, signal)
        if (signal.aborted) break
        const result = await runSync(
          {...session.context, emit: progress.listener},
          {concurrency, signal, mapping, policy: {mirror: flags.mirror, deleteExtraneous: flags['delete-extraneous'], move: false}},
        )
        if (result.error && !signal.aborted) {
          failures++
          this.say(`pass failed: ${result.error}`)
          // The IDLE session may be gone with the connection: set it up again on the next pass.
          await watcher?.stop().catch(() => undefined)
          watcher = undefined
        } else {
          failures = 0
          if (hasNews(result)) this.say(passLine(result))
        }
        const pauseMs = failures > 0 ? Math.min(60_000, 1000 * 2 ** failures) : flags.interval * 1000
        await wake.wait(pauseMs, signal)
      }
    } finally {
      progress.stop()
      await watcher?.stop().catch(() => undefined)
    }
  }

  /** IDLE on the source INBOX, or undefined (not offered, or failed: tried again next pass). Gives up on abort. */
  private async armIdle(session: SyncSession, wake: Wake, signal: AbortSignal): Promise<{stop(): Promise<void>; readonly closed: boolean} | undefined> {
    const arming = session.source.watch?.('INBOX', () => wake.fire()).catch(() => undefined)
    if (!arming) return undefined
    const armed = await untilAborted(arming, signal)
    // Armed only after the stop: end that session too.
    if (armed === undefined && signal.aborted) void arming.then((late) => late?.stop())
    return armed
  }

  private say(line: string): void {
    process.stderr.write(`[${new Date().toISOString()}] ${line}\n`)
  }
}

function hasNews(result: RunResult): boolean {
  const t = result.totals
  return t.copied + t.failed + t.flagsUpdated + t.moved + t.deleted > 0
}

function passLine(result: RunResult): string {
  const t = result.totals
  return `copied ${t.copied}, flags updated ${t.flagsUpdated}, moved ${t.moved}, deleted ${t.deleted}, failed ${t.failed}`
}

