/**
 * What the commands that copy (sync, watch) assemble before the engine runs: both stores logged in,
 * then the state database opened and bound to the two accounts. Lives outside src/commands because
 * oclif treats every module there as a command.
 */
import {describeStore, type StoreConfig, type SyncConfig} from '../config/schema.js'
import {ExitCode} from '../errors.js'
import {openStateDb} from '../state/db.js'
import {StateRepository} from '../state/repository.js'
import {defaultTuning} from '../config/tuning.js'
import {storeLimits} from '../imap/throttle.js'
import type {Logger} from '../log.js'
import {openStore} from '../stores/open.js'
import type {Store} from '../stores/store.js'
import type {RunContext} from '../sync/run.js'

export interface SyncSession {
  source: Store
  dest: Store
  /** Everything runSync needs but the event listener. */
  context: Omit<RunContext, 'emit'>
  close(): Promise<void>
}

export interface SessionOptions {
  /** --move: the source is selected read-write; otherwise it is only ever EXAMINEd. */
  writableSource: boolean
  /** Test switch: act as if the destination had no UIDPLUS. */
  ignoreAppendUid?: boolean
  /** Test and benchmark switch: act as if the source had no CONDSTORE. */
  ignoreCondstore?: boolean
  /** false: APPEND through one imapflow session per message, as before the pipeline. Default true. */
  pipeline?: boolean
  /** Test hook (--debug-kill-at append-sent:N). */
  onAppendCommandSent?: (ordinal: number) => void
  /** Reconnects, pushback and (with --debug-imap) the protocol trace are logged here. */
  logger?: Logger
  /** Cuts reconnect pauses short on SIGINT/SIGTERM. */
  signal?: AbortSignal
}

export async function openSyncSession(config: SyncConfig<StoreConfig>, options: SessionOptions): Promise<SyncSession> {
  // Issue #5: --connections (default: concurrency), reconnects with backoff, rate limits per side.
  const tuning = config.tuning ?? defaultTuning()
  const connectivity = () => ({
    connections: tuning.connections ?? config.concurrency,
    retry: {retries: tuning.retries, initialDelayMs: tuning.retryInitialDelayMs, maxDelayMs: tuning.retryMaxDelayMs},
    limits: storeLimits(tuning.maxBytesPerSecond, tuning.maxMessagesPerSecond),
    logger: options.logger,
    signal: options.signal,
  })
  // Either side may be a Maildir (backup, restore): openStore picks the kind of store.
  const source = openStore(config.source, {
    label: 'source',
    ...connectivity(),
    readOnly: !options.writableSource,
    ignoreCondstore: options.ignoreCondstore,
  })
  const dest = openStore(config.dest, {
    label: 'destination',
    ...connectivity(),
    readOnly: false,
    ignoreAppendUid: options.ignoreAppendUid,
    pipeline: options.pipeline,
    onAppendCommandSent: options.onAppendCommandSent,
  })
  const closeStores = () => Promise.allSettled([source.close(), dest.close()]).then(() => undefined)
  try {
    // Log in on both sides before the state file is created: a wrong password leaves nothing behind.
    await Promise.all([source.open(), dest.open()])
    const state = openStateDb(config.statePath)
    try {
      const repository = new StateRepository(state.db)
      repository.bindAccounts(describeStore(config.source), describeStore(config.dest))
      return {
        source,
        dest,
        context: {
          source,
          dest,
          state: repository,
          sourceName: describeStore(config.source),
          destName: describeStore(config.dest),
          statePath: config.statePath,
        },
        async close() {
          await closeStores()
          state.close()
        },
      }
    } catch (error) {
      state.close()
      throw error
    }
  } catch (error) {
    await closeStores()
    throw error
  }
}

/**
 * SIGINT/SIGTERM abort the signal: work in flight finishes and the state is saved. A second signal
 * exits at once. Returns a function that removes the handlers.
 */
export function abortOnSignals(abort: AbortController): () => void {
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(ExitCode.interrupted)
    abort.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return () => {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
