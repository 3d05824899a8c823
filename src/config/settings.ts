/**
 * The run settings, each declared once: its YAML key (top level) or none, its flag, its parser and
 * type, its default, the commands that take it, the side it acts on and its help text. The YAML
 * validation (validate.ts), the oclif flags (cli/flags.ts) and the merged, typed RunSettings of a run
 * (load.ts) are all derived from SETTINGS; adding a setting is one entry here plus its use.
 *
 * A value is checked by the same parser whether it comes from the file or a flag: `--max-age 0.5`
 * is accepted exactly where `maxAge: 0.5` is. Flags arrive as text and are read as numbers first.
 */
import {REPAIR_KINDS, type RepairKind} from '../check/repair-kinds.js'
import {ConfigKeyError, MAX_CONCURRENCY, MIN_CONCURRENCY, checkPath, checkText, describeValue} from './checks.js'

/** The commands that take run settings (backup and restore take sync's; batch has its own flags, and these for every account). */
export type SettingCommand = 'sync' | 'watch' | 'plan' | 'verify' | 'check' | 'batch'

/** What a setting acts on: each side's store, one side, or the run as a whole. */
export type SettingScope = 'each side' | 'source' | 'destination' | 'run'

export type SettingKind = 'integer' | 'number' | 'path' | 'text' | 'boolean'

export interface Setting<T, D extends T | undefined = T | undefined> {
  kind: SettingKind
  /** A YAML key of the same name exists (false: a flag only, a switch for one invocation). */
  yaml: boolean
  /** The flag name; default: the key in kebab-case (maxAge -> --max-age). */
  flag?: string
  /** Left out of --help (test switches). */
  hidden?: boolean
  help: string
  commands: readonly SettingCommand[]
  scope: SettingScope
  default: D
  /** The value, checked; `label` names the key or flag, `keyPath` locates a YAML key. */
  parse(value: unknown, label: string, keyPath?: readonly string[]): T
}

type Common = Pick<Setting<unknown>, 'help' | 'commands' | 'scope'> & Partial<Pick<Setting<unknown>, 'flag' | 'hidden'>> & {yaml?: boolean}

function numeric<D extends number | undefined>(
  kind: 'integer' | 'number',
  accepts: (value: number) => boolean,
  expected: string,
  common: Common & {default?: D},
): Setting<number, D> {
  return {
    kind,
    yaml: true,
    ...common,
    default: common.default as D,
    parse(value, label, keyPath) {
      if (typeof value === 'number' && accepts(value)) return value
      throw new ConfigKeyError(label, `expected ${expected}, got ${describeValue(value)}`, keyPath)
    },
  }
}

function integer<D extends number | undefined = undefined>(min: number, max: number, common: Common & {default?: D}): Setting<number, D> {
  return numeric('integer', (v) => Number.isInteger(v) && v >= min && v <= max, `an integer ${min}-${max}`, common)
}

/** A number > 0, fractions allowed (0.5 messages per second, half a day). */
function positive<D extends number | undefined = undefined>(common: Common & {default?: D}): Setting<number, D> {
  return numeric('number', (v) => Number.isFinite(v) && v > 0, 'a number greater than 0', common)
}

function path(common: Common): Setting<string, undefined> {
  return {kind: 'path', yaml: true, ...common, default: undefined, parse: (value, label, keyPath) => checkPath(value, label, keyPath)}
}

function text(what: string, common: Common): Setting<string, undefined> {
  return {kind: 'text', yaml: true, ...common, default: undefined, parse: (value, label, keyPath) => checkText(value, label, what, keyPath)}
}

/** An on/off switch, off by default. */
function toggle(common: Common): Setting<boolean, boolean> {
  return {
    kind: 'boolean',
    yaml: true,
    ...common,
    default: false,
    parse(value, label, keyPath) {
      if (typeof value === 'boolean') return value
      throw new ConfigKeyError(label, `expected true or false, got ${describeValue(value)}`, keyPath)
    },
  }
}

/** --repair headers,nul (or `repair: [headers, nul]` in the file): the repairs allowed, each named once. */
function repairList(common: Common): Setting<RepairKind[], RepairKind[]> {
  return {
    kind: 'text',
    yaml: true,
    ...common,
    default: [],
    parse(value, label, keyPath) {
      const items = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : undefined
      if (!items || items.some((item) => typeof item !== 'string')) {
        throw new ConfigKeyError(label, `expected a comma-separated list of ${REPAIR_KINDS.join(', ')}, got ${describeValue(value)}`, keyPath)
      }
      const names = (items as string[]).map((item) => item.trim()).filter((item) => item !== '')
      const unknown = names.find((name) => !(REPAIR_KINDS as readonly string[]).includes(name))
      if (unknown !== undefined) throw new ConfigKeyError(label, `unknown repair "${unknown}"; expected ${REPAIR_KINDS.join(', ')}`, keyPath)
      return [...new Set(names)] as RepairKind[]
    },
  }
}

const CONNECTING: readonly SettingCommand[] = ['sync', 'watch', 'plan', 'verify', 'check']
/** What a run copies and skips: sync's selection, which `check` looks at the same way. */
const SELECTING: readonly SettingCommand[] = ['sync', 'watch', 'check']
const COPYING: readonly SettingCommand[] = ['sync', 'watch']

export const SETTINGS = {
  concurrency: integer(MIN_CONCURRENCY, MAX_CONCURRENCY, {
    default: 4,
    commands: CONNECTING,
    scope: 'each side',
    help: 'Connections per side (default 4); 64 messages are copied at once per connection (256 with fewer than 4).',
  }),
  state: path({
    commands: ['sync', 'watch', 'plan', 'check', 'verify'],
    scope: 'run',
    help: 'State database path (default: one per account pair in the data directory; plan, check and verify only read it, never create it).',
  }),
  connections: integer(1, 64, {commands: CONNECTING, scope: 'each side', help: 'Sessions per side (default: --concurrency).'}),
  retries: integer(0, 1000, {
    default: 8,
    commands: CONNECTING,
    scope: 'each side',
    help: 'Retries of an operation after a lost connection or server pushback (default 8).',
  }),
  retryMaxDelay: positive({
    default: 30,
    commands: CONNECTING,
    scope: 'each side',
    help: 'Longest pause between retries, in seconds (default 30; pauses double from 0.5 s).',
  }),
  maxBytesPerSecond: positive({commands: CONNECTING, scope: 'each side', help: 'Per side: message bytes read from the source / written to the destination.'}),
  maxMessagesPerSecond: positive({commands: CONNECTING, scope: 'each side', help: 'Per side: messages read from the source / written to the destination.'}),
  maxBytesPerDay: integer(1, Number.MAX_SAFE_INTEGER, {
    commands: COPYING,
    scope: 'each side',
    help: 'Per side, a rolling 24 h budget: message bytes downloaded from the source / uploaded to the destination. Spent: the run stops (exit 75) and says when to resume; watch and batch wait.',
  }),
  maxMessagesPerHour: integer(1, 1_000_000_000, {
    commands: COPYING,
    scope: 'each side',
    help: 'Per side, a rolling 1 h budget: messages downloaded from the source / uploaded to the destination (exit 75 as --max-bytes-per-day).',
  }),
  maxErrors: integer(1, 1_000_000_000, {commands: COPYING, scope: 'run', help: 'Stop the run (exit 1) once this many messages failed (imapsync --errorsmax).'}),
  maxAge: positive({commands: SELECTING, scope: 'source', help: 'Copy only messages younger than N days, by INTERNALDATE (fractions allowed; imapsync --maxage).'}),
  minAge: positive({commands: SELECTING, scope: 'source', help: 'Copy only messages older than N days (imapsync --minage).'}),
  maxSize: integer(1, Number.MAX_SAFE_INTEGER, {commands: SELECTING, scope: 'source', help: 'Copy only messages of at most N bytes (imapsync --maxsize).'}),
  logFile: path({commands: CONNECTING, scope: 'run', help: 'Append a timestamped log to this file (mode 0600). Secrets are never written.'}),
  debugImap: toggle({
    yaml: false,
    commands: CONNECTING,
    scope: 'each side',
    help: 'Trace the IMAP protocol (to the log file, else stderr); passwords and tokens are redacted.',
  }),
  mirror: toggle({
    yaml: false,
    commands: COPYING,
    scope: 'destination',
    help: "Make destination flags equal to the source's, overriding changes made only on the destination.",
  }),
  deleteExtraneous: toggle({
    yaml: false,
    commands: COPYING,
    scope: 'destination',
    help: 'Delete destination copies whose source message is gone (only copies the state database pairs with a source message).',
  }),
  deleteExtraneousFolders: toggle({
    yaml: false,
    commands: ['sync'],
    scope: 'destination',
    help: 'Delete destination folders mailferry created whose source folder is gone (kept if they hold other mail).',
  }),
  move: toggle({
    yaml: false,
    commands: ['sync'],
    scope: 'source',
    help: 'Delete each source message once its copy is confirmed on the destination (imapsync --delete1).',
  }),
  foldersOnly: toggle({yaml: false, commands: ['sync'], scope: 'run', help: 'Create the destination folders and subscriptions, copy no message.'}),
  dryRun: toggle({
    yaml: false,
    commands: ['sync'],
    scope: 'run',
    help: 'Print the folder plan with message counts (as `mailferry plan`) and stop: nothing is written anywhere.',
  }),
  interval: integer(1, 86_400, {yaml: false, default: 30, commands: ['watch'], scope: 'run', help: 'Seconds between passes over every folder.'}),
  deep: toggle({
    yaml: false,
    commands: ['verify', 'check', 'batch'],
    scope: 'run',
    help: 'verify: also compare the SHA-256 of every message; check (and batch --check): inspect whole messages, not only headers (slow: downloads the mail).',
  }),
  repair: repairList({
    commands: [...COPYING, 'batch'],
    scope: 'destination',
    help: `Repair a message the destination refuses, then store it (recorded in the state): a comma-separated list of ${REPAIR_KINDS.join(', ')} (default: none).`,
  }),
  // Test switches (mbsync's -T): stop at an exact point, or act as if a capability were missing.
  debugKillAt: text('(before|after)-(append|expunge|delete):N or append-sent:N', {
    yaml: false,
    hidden: true,
    commands: ['sync'],
    scope: 'run',
    help: '(before|after)-(append|expunge):N, or append-sent:N (the N-th APPEND command written, its answer not read): SIGKILL ourselves there.',
  }),
  debugNoPipeline: toggle({yaml: false, hidden: true, commands: ['sync'], scope: 'run', help: 'No pipelined connections: one imapflow session per APPEND and per read, as before the pipelines (benchmark the old paths).'}),
  debugIgnoreAppenduid: toggle({yaml: false, hidden: true, commands: ['sync'], scope: 'destination', help: 'Act as if the destination had no UIDPLUS.'}),
  debugNoCondstore: toggle({yaml: false, hidden: true, commands: ['sync'], scope: 'source', help: "Ignore the source's CONDSTORE (benchmark the fallback)."}),
}

export type SettingKey = keyof typeof SETTINGS

type ValueOf<S> = S extends Setting<infer T, infer D> ? (undefined extends D ? T | undefined : T) : never

/** Every setting of a run, merged (defaults < file < flags) and checked; paths resolved. */
export type RunSettings = {[K in SettingKey]: ValueOf<(typeof SETTINGS)[K]>}

/** The settings the YAML file may hold. */
export type FileSettingKey = {[K in SettingKey]: (typeof SETTINGS)[K]['yaml'] extends false ? never : K}[SettingKey]

export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[]

/** Keys the YAML top level accepts for settings. */
export const FILE_SETTING_KEYS = SETTING_KEYS.filter((key) => SETTINGS[key].yaml)

/** `maxAge` -> `max-age`, unless the entry names its flag. */
export function flagName(key: SettingKey): string {
  return SETTINGS[key].flag ?? key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
}

/** Flag values as oclif hands them over (text for numbers, booleans, undefined when not given). */
export type SettingFlagValues = Partial<Record<SettingKey, unknown>>

/** Each given flag checked by its setting's parser (a mistake is a ConfigKeyError naming the flag), before anything runs. */
export function checkSettingFlags(flags: SettingFlagValues): void {
  for (const key of SETTING_KEYS) {
    const flag = flags[key]
    if (flag !== undefined && !(SETTINGS[key].kind === 'boolean' && flag === false)) SETTINGS[key].parse(fromFlag(key, flag), `--${flagName(key)}`)
  }
}

/** The settings of the YAML top level, checked (paths as written). */
export function validateFileSettings(value: Record<string, unknown>): Partial<RunSettings> {
  const out: Record<string, unknown> = {}
  for (const key of FILE_SETTING_KEYS) {
    const given = value[key]
    if (given !== undefined && given !== null) out[key] = SETTINGS[key].parse(given, key, [key])
  }
  return out as Partial<RunSettings>
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i

/** A flag's text as the value its parser checks: numbers read as numbers, the rest as given. */
function fromFlag(key: SettingKey, value: unknown): unknown {
  const kind = SETTINGS[key].kind
  if ((kind === 'integer' || kind === 'number') && typeof value === 'string' && NUMBER.test(value.trim())) return Number(value)
  return value
}

/**
 * defaults < file < flags, key by key. A boolean flag that was not given (false) leaves the file's
 * value. `paths` resolve a path written in the file (against its directory) or given as a flag.
 */
export function resolveSettings(
  file: Partial<RunSettings>,
  flags: SettingFlagValues,
  paths: {fromFile: (p: string) => string; fromFlag: (p: string) => string},
): RunSettings {
  const out: Record<string, unknown> = {}
  for (const key of SETTING_KEYS) {
    const setting = SETTINGS[key]
    const flag = flags[key]
    let value: unknown = setting.default
    if (flag !== undefined && !(setting.kind === 'boolean' && flag === false)) {
      value = setting.parse(fromFlag(key, flag), `--${flagName(key)}`)
      if (setting.kind === 'path') value = paths.fromFlag(value as string)
    } else if (file[key] !== undefined) {
      value = setting.kind === 'path' ? paths.fromFile(file[key] as string) : file[key]
    }
    out[key] = value
  }
  const settings = out as RunSettings
  if (settings.maxAge !== undefined && settings.minAge !== undefined && settings.minAge >= settings.maxAge) {
    throw new ConfigKeyError('--min-age', `${settings.minAge} days is not less than --max-age ${settings.maxAge}: no message could be copied`)
  }
  return settings
}

/** The settings the file or the flags set (a boolean flag only when on): these win over a provider preset. */
export function explicitSettingKeys(file: Partial<RunSettings>, flags: SettingFlagValues): Set<SettingKey> {
  return new Set(SETTING_KEYS.filter((key) => file[key] !== undefined || (flags[key] !== undefined && flags[key] !== false)))
}

/** Every default, nothing set: what a run gets without any key or flag. */
export function defaultSettings(): RunSettings {
  return resolveSettings({}, {}, {fromFile: (p) => p, fromFlag: (p) => p})
}

/** The first pause of the reconnect backoff, which doubles up to retryMaxDelay. */
export const RETRY_INITIAL_DELAY_MS = 500
