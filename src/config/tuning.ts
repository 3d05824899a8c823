/**
 * Run tuning for production connectivity (issue #5): connections, reconnects, throttling, the
 * error budget and the log file. YAML keys at the top level, flags of the same meaning override them.
 *
 *   connections: 4            # sessions per side (--connections; default = concurrency)
 *   retries: 8                # retries of an operation after a lost connection or pushback (--retries)
 *   retryMaxDelay: 30         # seconds; backoff doubles from 0.5 s up to this (--retry-max-delay)
 *   maxBytesPerSecond: 2000000    # per side: bodies read from the source / written to the destination
 *   maxMessagesPerSecond: 10      # per side, likewise
 *   maxErrors: 50             # stop the run (exit 1) once this many messages failed (--max-errors)
 *   maxAge: 90                # only messages younger than 90 days, by INTERNALDATE (--max-age)
 *   minAge: 7                 # only messages older than 7 days (--min-age)
 *   maxSize: 25000000         # only messages of at most this many bytes (--max-size)
 *   logFile: ~/mailferry.log  # timestamped log, mode 0600 (--log-file)
 */
import {TUNING_KEYS} from './keys.js'
import {ConfigKeyError} from './validate.js'

export interface Tuning {
  /** Sessions per side. Undefined: as many as concurrency. */
  connections?: number
  retries: number
  /** Backoff: first pause and cap, in ms. */
  retryInitialDelayMs: number
  retryMaxDelayMs: number
  maxBytesPerSecond?: number
  maxMessagesPerSecond?: number
  maxErrors?: number
  /** Which messages are copied at all (sync/select.ts). */
  maxAgeDays?: number
  minAgeDays?: number
  maxSize?: number
  logFile?: string
}

export const DEFAULT_RETRIES = 8
export const DEFAULT_RETRY_INITIAL_DELAY_MS = 500
export const DEFAULT_RETRY_MAX_DELAY_S = 30

export interface TuningInput {
  connections?: number
  retries?: number
  retryMaxDelay?: number
  maxBytesPerSecond?: number
  maxMessagesPerSecond?: number
  maxErrors?: number
  maxAge?: number
  minAge?: number
  maxSize?: number
  logFile?: string
}

export {TUNING_KEYS}

// Every TUNING_KEYS entry is a key of TuningInput.
const _tuningKeysChecked: readonly (keyof TuningInput)[] = TUNING_KEYS
void _tuningKeysChecked

const given = (value: unknown) => value !== undefined && value !== null

/** An integer within [min, max]; `label` names the key or flag. */
export function checkInteger(value: unknown, label: string, min: number, max: number, keyPath?: readonly string[]): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value
  const shown = typeof value === 'string' ? `"${value}" (string)` : `${String(value)} (${typeof value})`
  throw new ConfigKeyError(label, `expected an integer ${min}-${max}, got ${shown}`, keyPath)
}

/** A number > 0 (rates may be fractional: 0.5 messages per second). */
export function checkRate(value: unknown, label: string, keyPath?: readonly string[]): number {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value
  const shown = typeof value === 'string' ? `"${value}" (string)` : `${String(value)} (${typeof value})`
  throw new ConfigKeyError(label, `expected a number greater than 0, got ${shown}`, keyPath)
}

/** The tuning keys of the YAML top level, checked (paths unresolved). */
export function validateTuningInput(value: Record<string, unknown>): TuningInput {
  const out: TuningInput = {}
  if (given(value.connections)) out.connections = checkInteger(value.connections, 'connections', 1, 64, ['connections'])
  if (given(value.retries)) out.retries = checkInteger(value.retries, 'retries', 0, 1000, ['retries'])
  if (given(value.retryMaxDelay)) out.retryMaxDelay = checkRate(value.retryMaxDelay, 'retryMaxDelay', ['retryMaxDelay'])
  if (given(value.maxBytesPerSecond)) out.maxBytesPerSecond = checkRate(value.maxBytesPerSecond, 'maxBytesPerSecond', ['maxBytesPerSecond'])
  if (given(value.maxMessagesPerSecond)) {
    out.maxMessagesPerSecond = checkRate(value.maxMessagesPerSecond, 'maxMessagesPerSecond', ['maxMessagesPerSecond'])
  }
  if (given(value.maxErrors)) out.maxErrors = checkInteger(value.maxErrors, 'maxErrors', 1, 1_000_000_000, ['maxErrors'])
  if (given(value.maxAge)) out.maxAge = checkRate(value.maxAge, 'maxAge', ['maxAge'])
  if (given(value.minAge)) out.minAge = checkRate(value.minAge, 'minAge', ['minAge'])
  if (given(value.maxSize)) out.maxSize = checkInteger(value.maxSize, 'maxSize', 1, Number.MAX_SAFE_INTEGER, ['maxSize'])
  if (given(value.logFile)) {
    if (typeof value.logFile !== 'string' || value.logFile.trim() === '') throw new ConfigKeyError('logFile', 'expected a file path', ['logFile'])
    out.logFile = value.logFile
  }
  return out
}

/** The tuning flags, as resolveSyncConfig receives them: the same keys as the file's. */
export type TuningFlags = TuningInput

/** The message selection (--max-age, --min-age, --max-size) for the engine's policy. */
export function selectionOf(tuning: Tuning | undefined): {maxAgeDays?: number; minAgeDays?: number; maxSize?: number} {
  return {maxAgeDays: tuning?.maxAgeDays, minAgeDays: tuning?.minAgeDays, maxSize: tuning?.maxSize}
}

/** Every default, nothing set: what a run gets without any tuning key or flag. */
export function defaultTuning(): Tuning {
  return {
    retries: DEFAULT_RETRIES,
    retryInitialDelayMs: DEFAULT_RETRY_INITIAL_DELAY_MS,
    retryMaxDelayMs: DEFAULT_RETRY_MAX_DELAY_S * 1000,
  }
}

/** True when `tuning` is defaultTuning() (then SyncConfig.tuning is left out). */
export function isDefaultTuning(tuning: Tuning): boolean {
  const defaults = defaultTuning()
  const keys = Object.keys(tuning) as (keyof Tuning)[]
  return keys.length === Object.keys(defaults).length && keys.every((key) => tuning[key] === defaults[key])
}

/** defaults < file < flags. `fromFile` / `fromFlag` resolve the log file path. */
export function resolveTuning(
  file: TuningInput,
  flags: TuningFlags,
  paths: {fromFile: (p: string) => string; fromFlag: (p: string) => string},
): Tuning {
  const pick = <K extends keyof TuningInput>(key: K) => (flags[key] !== undefined ? flags[key] : file[key])
  const connections = flags.connections !== undefined ? checkInteger(flags.connections, '--connections', 1, 64) : file.connections
  const retries = flags.retries !== undefined ? checkInteger(flags.retries, '--retries', 0, 1000) : file.retries
  const maxDelay = flags.retryMaxDelay !== undefined ? checkRate(flags.retryMaxDelay, '--retry-max-delay') : file.retryMaxDelay
  const tuning: Tuning = {
    retries: retries ?? DEFAULT_RETRIES,
    retryInitialDelayMs: DEFAULT_RETRY_INITIAL_DELAY_MS,
    retryMaxDelayMs: Math.max(DEFAULT_RETRY_INITIAL_DELAY_MS, (maxDelay ?? DEFAULT_RETRY_MAX_DELAY_S) * 1000),
  }
  if (connections !== undefined) tuning.connections = connections
  const bytes = pick('maxBytesPerSecond')
  if (bytes !== undefined) tuning.maxBytesPerSecond = checkRate(bytes, '--max-bytes-per-second')
  const messages = pick('maxMessagesPerSecond')
  if (messages !== undefined) tuning.maxMessagesPerSecond = checkRate(messages, '--max-messages-per-second')
  const maxErrors = pick('maxErrors')
  if (maxErrors !== undefined) tuning.maxErrors = checkInteger(maxErrors, '--max-errors', 1, 1_000_000_000)
  const maxAge = pick('maxAge')
  if (maxAge !== undefined) tuning.maxAgeDays = checkRate(maxAge, '--max-age')
  const minAge = pick('minAge')
  if (minAge !== undefined) tuning.minAgeDays = checkRate(minAge, '--min-age')
  if (tuning.maxAgeDays !== undefined && tuning.minAgeDays !== undefined && tuning.minAgeDays >= tuning.maxAgeDays) {
    throw new ConfigKeyError('--min-age', `${tuning.minAgeDays} days is not less than --max-age ${tuning.maxAgeDays}: no message could be copied`)
  }
  const maxSize = pick('maxSize')
  if (maxSize !== undefined) tuning.maxSize = checkInteger(maxSize, '--max-size', 1, Number.MAX_SAFE_INTEGER)
  if (flags.logFile !== undefined) tuning.logFile = paths.fromFlag(flags.logFile)
  else if (file.logFile !== undefined) tuning.logFile = paths.fromFile(file.logFile)
  return tuning
}
