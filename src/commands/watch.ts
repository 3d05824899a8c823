import {Command, Flags} from '@oclif/core'

import {accountFlags, concurrencyFlag, debugFlag, toFlagValues} from '../cli/flags.js'
import {mappingFlags, toMappingFlagValues} from '../cli/mapping-flags.js'
import {abortOnSignals, openSyncSession, type SyncSession} from '../cli/session.js'
import {Wake} from '../cli/wake.js'
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
(a folder that did not change costs one STATUS command). A lost connection is retried with growing pauses.
SIGINT/SIGTERM stop it cleanly, with the state saved (exit 0).`

  static override examples = ['<%= config.bin %> <%= command.id %> --config examples/migrate.yaml --interval 60']

  static override flags = {
    ...accountFlags,
    ...mappingFlags,
    state: Flags.string({summary: 'State database path (default: one per account pair in the data directory).'}),
    concurrency: concurrencyFlag,
    interval: Flags.integer({min: 1, default: 30, summary: 'Seconds between passes over every folder.'}),
    mirror: Flags.boolean({summary: 'Make destination flags equal to the source\'s, overriding destination-only changes.'}),
    'delete-extraneous': Flags.boolean({summary: 'Delete destination copies whose source message is gone.'}),
    debug: debugFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Watch)
    const abort = new AbortController()
    const removeSignalHandlers = abortOnSignals(abort)
    let session: SyncSession | undefined
    try {
      const values = {...toFlagValues(flags), mapping: toMappingFlagValues(flags)}
      const {config, warnings} = resolveRunConfig(values, process.env, {defaultStateDir: this.config.dataDir})
      for (const warning of warnings) this.warn(warning)
      session = await openSyncSession(config, {writableSource: false})
      this.say(`watching ${session.context.sourceName} -> ${session.context.destName} (every ${flags.interval} s, IDLE on INBOX)`)
      await this.loop(session, config.concurrency, config.mapping, flags, abort.signal)
      this.say('stopped; the state is saved')
    } catch (error) {
      this.exit(printFailure(error, flags.debug).exitCode)
    } finally {
      removeSignalHandlers()
      await session?.close()
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
    let watcher: {stop(): Promise<void>} | undefined
    let failures = 0
    const progress = createProgressReporter({stream: process.stderr, mode: 'lines', lineIntervalMs: 60_000})
    try {
      while (!signal.aborted) {
        // (Re)arm IDLE before the pass, so a change made during the pass wakes the next one.
        watcher ??= await session.source.watch?.('INBOX', () => wake.fire()).catch(() => undefined)
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

