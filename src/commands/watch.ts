import type {OpenRun} from '../app/open.js'
import {syncPass, withRun} from '../app/run.js'
import {MailferryCommand} from '../cli/command.js'
import {accountFlags, debugFlag, settingFlags} from '../cli/flags.js'
import {mappingFlags} from '../cli/mapping-flags.js'
import {abortOnSignals} from '../cli/signals.js'
import {untilAborted, Wake} from '../cli/wake.js'
import {ExitCode} from '../errors.js'
import {createProgressReporter} from '../report/progress.js'
import type {RunResult} from '../sync/events.js'

export default class Watch extends MailferryCommand {
  static override summary = 'Keep the destination in step with the source: sync, then again whenever the source changes.'

  static override description = `Runs a sync, then keeps running: new mail and flag changes reach the destination within seconds.
The source INBOX is watched with IMAP IDLE (a change starts a pass at once); every folder is checked every --interval seconds
(a folder that did not change costs one STATUS command). A lost connection is retried with growing pauses, and IDLE
is set up again. SIGINT/SIGTERM stop it within a second, also during a pause, with the state saved (exit 0).`

  static override examples = ['<%= config.bin %> <%= command.id %> --config examples/migrate.yaml --interval 60']

  static override flags = {
    ...accountFlags,
    ...mappingFlags,
    ...settingFlags('watch'),
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
    try {
      await this.report(flags.debug, async () => {
        const spec = this.resolveSpec(flags)
        await withRun(spec, 'watch', {signal: abort.signal}, async (run) => {
          const interval = spec.config.settings.interval
          this.say(`watching ${run.sourceName} -> ${run.destName} (every ${interval} s, IDLE on INBOX)`)
          await this.loop(run, interval, abort.signal)
        })
        this.say('stopped; the state is saved')
      })
    } finally {
      removeSignalHandlers()
    }
  }

  private async loop(run: OpenRun, interval: number, signal: AbortSignal): Promise<void> {
    const wake = new Wake()
    let watcher: {stop(): Promise<void>; readonly closed: boolean} | undefined
    let failures = 0
    const progress = createProgressReporter({stream: process.stderr, mode: 'lines', lineIntervalMs: 60_000})
    try {
      while (!signal.aborted) {
        // (Re)arm IDLE before the pass, so a change made during the pass wakes the next one; also
        // after its session dropped while the passes went on working.
        if (watcher?.closed) watcher = undefined
        watcher ??= await this.armIdle(run, wake, signal)
        if (signal.aborted) break
        const result = await syncPass(run, {signal, emit: progress.listener})
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
        const pauseMs = failures > 0 ? Math.min(60_000, 1000 * 2 ** failures) : interval * 1000
        await wake.wait(pauseMs, signal)
      }
    } finally {
      progress.stop()
      await watcher?.stop().catch(() => undefined)
    }
  }

  /** IDLE on the source INBOX, or undefined (not offered, or failed: tried again next pass). Gives up on abort. */
  private async armIdle(run: OpenRun, wake: Wake, signal: AbortSignal): Promise<{stop(): Promise<void>; readonly closed: boolean} | undefined> {
    const arming = run.source.watch?.('INBOX', () => wake.fire()).catch(() => undefined)
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

