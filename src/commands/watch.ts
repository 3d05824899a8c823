import {watch} from '../app/watch.js'
import {MailferryCommand} from '../cli/command.js'
import {accountFlags, debugFlag, settingFlags} from '../cli/flags.js'
import {mappingFlags} from '../cli/mapping-flags.js'
import {abortOnSignals} from '../cli/signals.js'
import {ExitCode} from '../errors.js'
import {createProgressReporter} from '../report/progress.js'

export default class Watch extends MailferryCommand {
  static override summary = 'Keep the destination in step with the source: sync, then again whenever the source changes.'

  static override description = `Runs a sync, then keeps running: new mail and flag changes reach the destination within seconds.
The source INBOX is watched with IMAP IDLE (a change starts a pass at once); every folder is checked every --interval seconds
(a folder that did not change costs one STATUS command). A lost connection is retried with growing pauses, and IDLE
is set up again. A spent budget (--max-bytes-per-day, --max-messages-per-hour) pauses it until its window has room.
SIGINT/SIGTERM stop it within a second, also during a pause, with the state saved (exit 0).`

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
    const say = (line: string) => process.stderr.write(`[${new Date().toISOString()}] ${line}\n`)
    // Every wait ends on the signal; what can still hang (a logout to, or a session being set up
    // with, a host that does not answer) must not hold the stop past a second. Commits are
    // per message, so this is no worse than a kill: the next run resumes.
    abort.signal.addEventListener('abort', () => {
      setTimeout(() => {
        say('stopped before the sessions were closed; the next run resumes')
        process.exit(ExitCode.interrupted)
      }, 1000).unref()
    })
    const progress = createProgressReporter({stream: process.stderr, mode: 'lines', lineIntervalMs: 60_000})
    try {
      await this.report(flags.debug, async () => {
        await watch(this.resolveSpec(flags), {signal: abort.signal, say, emit: progress.listener})
        say('stopped; the state is saved')
      })
    } finally {
      progress.stop()
      removeSignalHandlers()
    }
  }
}
