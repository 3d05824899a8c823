/**
 * The composition root: the one place that turns a run's specification into working parts. Every
 * command (sync, watch, plan and --dry-run, verify; backup and restore are sync; batch runs sync per
 * account) opens its stores here, so they all get the same connections, reconnect policy, rate
 * limits, logger and abort signal, and the engine gets its options from the same settings.
 */
import {describeStore, isMaildirConfig, type StoreConfig, type SyncConfig} from '../config/schema.js'
import {RETRY_INITIAL_DELAY_MS, type RunSettings} from '../config/settings.js'
import {ConfigError} from '../errors.js'
import {storeLimits} from '../imap/throttle.js'
import type {Logger} from '../log.js'
import {openStateDb} from '../state/db.js'
import {openStateReader, type StateReader} from '../state/reader.js'
import {SpendLedger} from '../state/spend.js'
import {StateRepository} from '../state/repository.js'
import {openStore, type OpenStoreOptions} from '../stores/open.js'
import type {Store} from '../stores/store.js'
import {clockFromEnv, type Clock} from '../sync/clock.js'
import type {EngineHooks} from '../sync/engine.js'
import type {SyncListener} from '../sync/events.js'
import {Quota, type BudgetLimits} from '../sync/quota.js'
import type {RunContext, RunOptions} from '../sync/run.js'

/** A run's configuration, merged from defaults, the YAML file and the flags, with its warnings. */
export interface RunSpec {
  config: SyncConfig<StoreConfig>
  /** One line each, for stderr and the report. Never contains a password. */
  warnings: string[]
}

/**
 * What the run does with the stores: `sync` and `watch` write the destination (and with --move the
 * source); `plan`, `dry-run`, `verify` and `check` only read both sides.
 */
export type Intent = 'sync' | 'watch' | 'plan' | 'dry-run' | 'verify' | 'check'

export interface RunIO {
  /** Reconnects, pushback, the protocol trace and the run's own lines go here. */
  log: Logger
  /** Cuts reconnect pauses short and stops the engine on SIGINT/SIGTERM. */
  signal?: AbortSignal
  /** The time the budgets reckon with (default: MAILFERRY_DEBUG_CLOCK, else the system's). */
  clock?: Clock
}

export interface OpenRun {
  spec: RunSpec
  source: Store
  dest: Store
  log: Logger
  /** sync and watch: the state database, bound to both accounts. */
  state?: StateRepository
  /** plan, dry-run, check and verify: the state database read-only, when there is one. */
  reader?: StateReader
  sourceName: string
  destName: string
  /** What runSync needs (sync and watch only). */
  context(emit: SyncListener): RunContext
  close(): Promise<void>
}

const writes = (intent: Intent) => intent === 'sync' || intent === 'watch'

/**
 * Whole folders are read on raw connections of their own (imap/scan-connections.ts): plan's and
 * check's source, verify's two sides. Not with --deep, where the sessions fetch every message.
 */
const scans = (intent: Intent, s: RunSettings) => intent === 'plan' || intent === 'dry-run' || ((intent === 'check' || intent === 'verify') && !s.deep)

/** The options of one side's store: the same connectivity for every intent, read-only unless it writes. */
export function storeOptions(spec: RunSpec, side: 'source' | 'dest', intent: Intent, io: Partial<RunIO>): OpenStoreOptions {
  const s = sideSettings(spec, side)
  const writable = side === 'dest' ? writes(intent) : intent === 'sync' && s.move
  // check SELECTs destination folders (never writes): EXAMINE does not report PERMANENTFLAGS on Dovecot.
  const selects = side === 'dest' && intent === 'check'
  return {
    label: side === 'source' ? 'source' : 'destination',
    connections: s.connections ?? s.concurrency,
    retry: {retries: s.retries, initialDelayMs: RETRY_INITIAL_DELAY_MS, maxDelayMs: Math.max(RETRY_INITIAL_DELAY_MS, s.retryMaxDelay * 1000)},
    limits: storeLimits(s.maxBytesPerSecond, s.maxMessagesPerSecond),
    logger: io.log,
    signal: io.signal,
    readOnly: !writable && !selects,
    openAllSessions: intent === 'sync' || intent === 'watch' || intent === 'verify',
    ...(side === 'source'
      ? {ignoreCondstore: s.debugNoCondstore, scanConnections: scans(intent, s), readPipeline: writes(intent) && !s.debugNoPipeline}
      : {ignoreAppendUid: s.debugIgnoreAppenduid, pipeline: writable && !s.debugNoPipeline, onAppendCommandSent: commandSentKill(s.debugKillAt), scanConnections: intent === 'verify' && scans(intent, s)}),
  }
}

/** The run's settings as they hold for one side's store: its provider preset's values over the run's. */
function sideSettings(spec: RunSpec, side: 'source' | 'dest'): RunSettings {
  return {...spec.config.settings, ...spec.config.sideSettings?.[side]}
}

/**
 * For the run log, a side that named a provider: what its preset set, as the store gets it
 * ("dest: provider microsoft365: 4 sessions, 12 retries up to 120 s apart, 1 message/s, ...").
 */
export function describePreset(spec: RunSpec, side: 'source' | 'dest'): string | undefined {
  const endpoint = spec.config[side]
  if (isMaildirConfig(endpoint) || endpoint.provider === undefined) return undefined
  const s = sideSettings(spec, side)
  const parts = [`${s.connections ?? s.concurrency} sessions`, `${s.retries} retries up to ${s.retryMaxDelay} s apart`]
  if (s.maxMessagesPerSecond !== undefined) parts.push(`${s.maxMessagesPerSecond} messages/s`)
  if (s.maxBytesPerSecond !== undefined) parts.push(`${s.maxBytesPerSecond} bytes/s`)
  if (s.maxBytesPerDay !== undefined) parts.push(`${s.maxBytesPerDay} bytes a day`)
  if (s.maxMessagesPerHour !== undefined) parts.push(`${s.maxMessagesPerHour} messages an hour`)
  if (endpoint.maxMessageSize !== undefined) parts.push(`messages up to ${endpoint.maxMessageSize} bytes`)
  if (endpoint.maxLineLength !== undefined) parts.push(`lines up to ${endpoint.maxLineLength} bytes`)
  return `${side}: provider ${endpoint.provider} (${endpoint.host}:${endpoint.port}): ${parts.join(', ')}`
}

/** The engine's options for a pass of sync or watch, from the same settings. */
export function engineOptions(spec: RunSpec, signal?: AbortSignal): RunOptions {
  const s = spec.config.settings
  return {
    concurrency: s.concurrency,
    signal,
    hooks: killHooks(s.debugKillAt),
    mapping: spec.config.mapping,
    policy: {
      mirror: s.mirror,
      deleteExtraneous: s.deleteExtraneous,
      move: s.move,
      maxErrors: s.maxErrors,
      selection: {maxAgeDays: s.maxAge, minAgeDays: s.minAge, maxSize: s.maxSize},
      repair: s.repair,
    },
    deleteExtraneousFolders: s.deleteExtraneousFolders,
    foldersOnly: s.foldersOnly,
  }
}

/** --max-bytes-per-day and --max-messages-per-hour per side, a preset's over the run's (quota.ts says what each counts). */
export function budgetLimits(spec: RunSpec): BudgetLimits {
  const limits = (side: 'source' | 'dest') => {
    const s = sideSettings(spec, side)
    return {bytesPerDay: s.maxBytesPerDay, messagesPerHour: s.maxMessagesPerHour}
  }
  return {source: limits('source'), dest: limits('dest')}
}

/** Both stores logged in, then the state (sync, watch) or the state read-only (plan, dry-run, check, verify). */
export async function openRun(spec: RunSpec, intent: Intent, io: RunIO, open: typeof openStore = openStore): Promise<OpenRun> {
  const {config} = spec
  // Either side may be a Maildir (backup, restore, verify of a backup): openStore picks the kind.
  const source = open(config.source, storeOptions(spec, 'source', intent, io))
  const dest = open(config.dest, storeOptions(spec, 'dest', intent, io))
  const closeStores = () => Promise.allSettled([source.close(), dest.close()]).then(() => undefined)
  const sourceName = describeStore(config.source)
  const destName = describeStore(config.dest)
  let closeState = () => {}
  try {
    const clock = io.clock ?? clockFromEnv(process.env)
    // Log in on both sides before the state file is created: a wrong password leaves nothing behind.
    await Promise.all([source.open(), dest.open()])
    let state: StateRepository | undefined
    let ledger: SpendLedger | undefined
    let reader: StateReader | undefined
    if (writes(intent)) {
      const db = openStateDb(config.statePath)
      const repository = (state = new StateRepository(db.db))
      closeState = () => {
        try {
          // After a failed commit the run's result holds the error already.
          if (!repository.failure) repository.commit()
        } finally {
          db.close()
        }
      }
      state.bindAccounts(sourceName, destName)
      // One commit per batch of message rows instead of two per message: safe only where the
      // destination commits them before it sends an APPEND (Store.setAppendBarrier).
      if (dest.setAppendBarrier) {
        dest.setAppendBarrier(() => repository.commit())
        state.groupCommits()
      }
      ledger = new SpendLedger(db.db)
    } else {
      reader = openStateReader(config.statePath)
      closeState = () => reader?.close()
    }
    return {
      spec,
      source,
      dest,
      log: io.log,
      state,
      reader,
      sourceName,
      destName,
      context(emit) {
        if (!state || !ledger) throw new Error(`a ${intent} run has no state database to sync with`)
        // Each pass reads the window again from the state: what earlier runs and passes spent.
        const quota = new Quota(budgetLimits(spec), ledger, clock)
        return {source, dest, state, emit, sourceName, destName, statePath: config.statePath, ...(quota.active ? {quota} : {})}
      },
      async close() {
        await closeStores()
        closeState()
      },
    }
  } catch (error) {
    closeState()
    await closeStores()
    throw error
  }
}

/**
 * --debug-kill-at before-append:N | after-append:N | before-expunge:N | after-expunge:N: die by
 * SIGKILL at that APPEND (or --move expunge, counted per folder), as a crash would.
 */
export function killHooks(spec: string | undefined): EngineHooks {
  if (!spec || spec.startsWith('append-sent:')) return {}
  const match = /^(before|after)-(append|expunge|delete):(\d+)$/.exec(spec)
  if (!match) throw new ConfigError(`--debug-kill-at: expected (before|after)-(append|expunge|delete):N or append-sent:N, got "${spec}"`)
  const at = Number(match[3])
  const kill = (ordinal: number) => {
    if (ordinal === at) process.kill(process.pid, 'SIGKILL')
  }
  const hook = `${match[1]}${match[2][0].toUpperCase()}${match[2].slice(1)}` as keyof EngineHooks
  return {[hook]: kill}
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
