/**
 * mailferry watch: a sync, then passes again and again on the same open run. The source INBOX is
 * watched with IMAP IDLE (a change starts a pass at once), from a session in one of the source's
 * --connections that makes way when a pass needs it; every folder is checked every `interval`
 * seconds. A failed pass (a lost connection) is retried after a growing pause, IDLE set up again
 * (also when only IDLE could not be set up: after 2 s, doubling up to the interval); a pass stopped
 * at a budget waits until its window has room.
 */
import {ExitCode} from '../errors.js'
import type {StateRepository} from '../state/repository.js'
import type {FolderStatus, FolderWatch} from '../stores/store.js'
import {clockFromEnv} from '../sync/clock.js'
import type {RunResult} from '../sync/events.js'
import {untilAborted, Wake} from './wake.js'
import {syncPass, withRun, type RunHooks} from './run.js'
import type {OpenRun, RunSpec} from './open.js'

export interface WatchHooks extends RunHooks {
  signal: AbortSignal
  /** One line for the operator: started, a pass that copied something, a failed pass. */
  say(line: string): void
}

/** Longest pause after failed passes (they double from 2 s). */
const MAX_FAILURE_PAUSE_MS = 60_000

/** First pause before IDLE is tried again after its session could not be set up (doubling, up to the interval). */
const IDLE_RETRY_MS = 2000

/** Runs until the signal aborts; the state is saved as each message is copied. */
export async function watch(spec: RunSpec, hooks: WatchHooks): Promise<void> {
  await withRun(spec, 'watch', hooks, async (run) => {
    const interval = spec.config.settings.interval
    hooks.say(`watching ${run.sourceName} -> ${run.destName} (every ${interval} s, IDLE on INBOX)`)
    await loop(run, interval, hooks)
  })
}

async function loop(run: OpenRun, interval: number, hooks: WatchHooks): Promise<void> {
  const {signal} = hooks
  const wake = new Wake()
  let watcher: FolderWatch | undefined
  let failures = 0
  /** Times in a row IDLE could not be set up (its session failed to open or select INBOX). */
  let idleFailures = 0
  const clock = clockFromEnv(process.env)
  try {
    while (!signal.aborted) {
      // (Re)arm IDLE before the pass, so a change made during the pass wakes the next one; also
      // after its session dropped while the passes went on working.
      if (watcher?.closed) watcher = undefined
      watcher ??= await armIdle(run, wake, signal)
      if (signal.aborted) break
      idleFailures = watcher || !run.source.watch ? 0 : idleFailures + 1
      const result = await syncPass(run, hooks)
      // A failed commit leaves the state unwritable in this process (StateWriter.commit): further
      // passes would fail the same way, so watch ends with it (exit 6); a new process starts afresh.
      if (run.state?.failure) throw run.state.failure
      const resumeAt = result.exitCode === ExitCode.budget ? result.budget?.resumeAt : undefined
      if (resumeAt && !signal.aborted) {
        // A budget is spent: no pass before its window frees (a change on the source would only stop again).
        if (hasNews(result)) hooks.say(passLine(result))
        hooks.say(`${result.error}; waiting`)
        failures = 0
        await clock.sleepUntil(Date.parse(resumeAt), signal)
        continue
      }
      if (result.error && !signal.aborted) {
        failures++
        hooks.say(`pass failed: ${result.error}`)
        // The IDLE session may be gone with the connection: set it up again on the next pass.
        await watcher?.stop().catch(() => undefined)
        watcher = undefined
      } else {
        failures = 0
        if (hasNews(result)) hooks.say(passLine(result))
      }
      // IDLE made way for the pass (it holds one of the pool's places) and is set up again now; a
      // change it came too late to see (after the pass looked at INBOX) starts the next pass at once.
      if (watcher?.inTurns && watcher.closed && !signal.aborted) {
        watcher = await armIdle(run, wake, signal)
        if (watcher && changedSincePass(run.state, watcher.selected)) wake.fire()
      }
      let pauseMs = failures > 0 ? Math.min(MAX_FAILURE_PAUSE_MS, 1000 * 2 ** failures) : interval * 1000
      // Without IDLE nothing wakes the loop before the interval: set it up again soon (a session
      // opened while the network was down, say), then a pass for what came meanwhile.
      if (idleFailures > 0) pauseMs = Math.min(pauseMs, IDLE_RETRY_MS * 2 ** (idleFailures - 1))
      await wake.wait(pauseMs, signal)
    }
  } finally {
    await watcher?.stop().catch(() => undefined)
  }
}

/** IDLE on the source INBOX, or undefined (not offered, or failed: tried again next pass). Gives up on abort. */
async function armIdle(run: OpenRun, wake: Wake, signal: AbortSignal): Promise<FolderWatch | undefined> {
  const arming = run.source.watch?.('INBOX', () => wake.fire()).catch(() => undefined)
  if (!arming) return undefined
  const armed = await untilAborted(arming, signal)
  // Armed only after the stop: end that session too.
  if (armed === undefined && signal.aborted) void arming.then((late) => late?.stop())
  return armed
}

/**
 * INBOX as IDLE found it is not as the last pass recorded it (StateRepository.setSnapshot, the STATUS
 * taken before a complete sync of it). No record (a pass with failures there): false, the interval
 * brings the next pass, not a loop of passes.
 */
export function changedSincePass(state: StateRepository | undefined, selected: FolderStatus): boolean {
  const pair = state?.pairs().find((p) => p.sourcePath === 'INBOX')
  if (!pair || pair.sourceUidNext === null) return false
  const modseqChanged = selected.highestModseq !== undefined && pair.sourceModseq !== selected.highestModseq.toString()
  return pair.sourceUidValidity !== selected.uidValidity || pair.sourceUidNext !== selected.uidNext || pair.sourceMessages !== selected.messages || modseqChanged
}

function hasNews(result: RunResult): boolean {
  const t = result.totals
  return t.copied + t.failed + t.flagsUpdated + t.moved + t.deleted > 0
}

function passLine(result: RunResult): string {
  const t = result.totals
  return `copied ${t.copied}, flags updated ${t.flagsUpdated}, moved ${t.moved}, deleted ${t.deleted}, failed ${t.failed}`
}
