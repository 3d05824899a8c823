/**
 * Folder mapping configuration: the `folders:` section of the YAML file and the mapping flags
 * (--include, --exclude, --map, --rename, --nest-under, --subscribed-only, --no-automap,
 * --gmail-all-mail, --no-subscriptions). Pure: validation and merging only.
 *
 * Folder names in rules are normalised names: hierarchy levels joined with "/", whatever separator
 * the servers use, without the namespace prefix ("INBOX." on Courier/Cyrus), INBOX case-insensitive.
 * Precedence: defaults < file < flags, key by key; a list flag given once or more replaces the file's list.
 */
import {
  ConfigKeyError,
  checkBoolean,
  checkKnownKeys,
  checkText,
  describeValue,
  isMapping,
} from './checks.js'

export interface NameMappingConfig {
  from: string
  to: string
}

export interface SubstitutionConfig {
  from: string
  to: string
  /** "g" and/or "i". */
  flags: string
  /** As written, for messages and `plan` output. */
  text: string
}

export interface FolderMappingConfig {
  /** Regexes: when any is given, only folders matching one of them are copied. */
  include: string[]
  /** Regexes: folders matching any of them are not copied. */
  exclude: string[]
  /** Exact renames, source name -> destination name. */
  map: NameMappingConfig[]
  /** Regex renames, applied in order (s/from/to/flags). */
  rename: SubstitutionConfig[]
  /** Put every folder below this destination folder. */
  nestUnder?: string
  /** Only folders subscribed on the source. */
  subscribedOnly: boolean
  /** Special-use mapping (Sent, Trash, Drafts, Junk, Archive). */
  automap: boolean
  /** Copy Gmail's "[Gmail]/All Mail" and "[Gmail]/Important" too. */
  gmailAllMail: boolean
  /** Subscribe on the destination what is subscribed on the source. */
  subscriptions: boolean
}

export const DEFAULT_MAPPING: FolderMappingConfig = {
  include: [],
  exclude: [],
  map: [],
  rename: [],
  subscribedOnly: false,
  automap: true,
  gmailAllMail: false,
  subscriptions: true,
}

/** The `folders:` section as written (validated, not yet merged with the flags). */
export type FolderMappingInput = Partial<FolderMappingConfig>

// ---------------------------------------------------------------------------------------------
// Single values

function fail(label: string, detail: string, keyPath?: readonly string[]): never {
  throw new ConfigKeyError(label, detail, keyPath)
}

/** A JavaScript regex (compiled once here so that a mistake is reported with its key or flag). */
export function checkRegex(value: unknown, label: string, keyPath?: readonly string[], flags = ''): string {
  const pattern = checkText(value, label, 'a regular expression', keyPath)
  try {
    new RegExp(pattern, flags)
  } catch (error) {
    return fail(label, `invalid regular expression ${JSON.stringify(pattern)}: ${(error as Error).message.replace(/^Invalid regular expression: /, '')}`, keyPath)
  }
  return pattern
}

/** A normalised folder name: "/" between levels, no empty level, no control characters. */
export function checkFolderName(value: unknown, label: string, keyPath?: readonly string[]): string {
  const name = checkText(value, label, 'a folder name ("Parent/Child", "/" between levels)', keyPath)
  if (name.split('/').some((segment) => segment === '')) {
    return fail(label, `folder name ${JSON.stringify(name)} has an empty level (leading, trailing or double "/")`, keyPath)
  }
  return name
}

/** "Old/Name=New/Name" (the first "=" separates them). */
export function parseMapFlag(text: string, label: string): NameMappingConfig {
  const at = text.indexOf('=')
  if (at <= 0 || at === text.length - 1) return fail(label, `expected "Old/Name=New/Name", got ${describeValue(text)}`)
  return {from: checkFolderName(text.slice(0, at), label), to: checkFolderName(text.slice(at + 1), label)}
}

/**
 * s/FROM/TO/FLAGS, as in sed and imapsync's --regextrans2. Any punctuation may stand in for "/"
 * (s#^Old/#New/#); a backslash escapes the delimiter. Flags: g (every match), i (ignore case).
 */
export function parseSubstitution(text: string, label: string, keyPath?: readonly string[]): SubstitutionConfig {
  const shape = 'expected s/FROM/TO/ with optional flags g and i, e.g. s/^Old\\//New\\//'
  if (text.length < 4 || text[0] !== 's' || /[A-Za-z0-9\s\\]/.test(text[1])) return fail(label, `${shape}, got ${describeValue(text)}`, keyPath)
  const delimiter = text[1]
  const parts: string[] = []
  let current = ''
  for (let i = 2; i < text.length; i++) {
    const char = text[i]
    if (char === '\\' && text[i + 1] === delimiter) {
      current += delimiter
      i++
    } else if (char === delimiter && parts.length < 2) {
      parts.push(current)
      current = ''
    } else {
      current += char
    }
  }
  if (parts.length < 2) return fail(label, `${shape}, got ${describeValue(text)}`, keyPath)
  const [from, to] = parts
  const flags = current
  if (!/^[gi]*$/.test(flags) || new Set(flags).size !== flags.length) {
    return fail(label, `unknown substitution flags ${JSON.stringify(flags)}: use g and/or i`, keyPath)
  }
  return {from: checkRegex(from, label, keyPath, flags), to, flags, text}
}

// ---------------------------------------------------------------------------------------------
// The YAML section

const given = (value: unknown): boolean => value !== undefined && value !== null

function checkList(value: unknown, label: string, keyPath: readonly string[], each: (item: unknown, label: string, keyPath: readonly string[]) => string): string[] {
  const items = typeof value === 'string' ? [value] : value
  if (!Array.isArray(items)) return fail(label, `expected a list of regular expressions, got ${describeValue(value)}`, keyPath)
  return items.map((item, i) => each(item, `${label}[${i}]`, keyPath))
}

/** `folders:` -> typed input. Errors name the key path (folders.rename[1].from: ...). */
export function validateFolders(value: unknown): FolderMappingInput | undefined {
  if (!given(value)) return undefined
  const path = ['folders']
  if (!isMapping(value)) return fail('folders', `expected a mapping (include:, exclude:, map:, rename:, ...), got ${describeValue(value)}`, path)
  checkKnownKeys(value, FOLDERS_KEYS, path)
  const out: Record<string, unknown> = {}
  for (const key of FOLDERS_KEYS) {
    if (given(value[key])) out[key] = FOLDER_KEYS[key].parse(value[key], `folders.${key}`, ['folders', key])
  }
  return out as FolderMappingInput
}

/** map: {"Old/Name": "New/Name", ...} */
function validateMap(value: unknown): NameMappingConfig[] {
  if (!isMapping(value)) return fail('folders.map', `expected a mapping of "Old/Name": "New/Name", got ${describeValue(value)}`, ['folders', 'map'])
  return Object.entries(value).map(([from, to]) => {
    const label = `folders.map.${from}`
    const keyPath = ['folders', 'map', from]
    return {from: checkFolderName(from, label, keyPath), to: checkFolderName(to, label, keyPath)}
  })
}

/** rename: ["s/^Old/New/", {from: "^Old", to: "New", flags: "i"}, ...] */
function validateRename(value: unknown): SubstitutionConfig[] {
  const keyPath = ['folders', 'rename']
  const items = typeof value === 'string' || isMapping(value) ? [value] : value
  if (!Array.isArray(items)) return fail('folders.rename', `expected a list of s/FROM/TO/ or {from:, to:}, got ${describeValue(value)}`, keyPath)
  return items.map((item, i) => {
    const label = `folders.rename[${i}]`
    if (typeof item === 'string') return parseSubstitution(item, label, keyPath)
    if (!isMapping(item)) return fail(label, `expected s/FROM/TO/ or a mapping {from:, to:}, got ${describeValue(item)}`, keyPath)
    checkKnownKeys(item, ['from', 'to', 'flags'], keyPath)
    const flags = given(item.flags) ? checkText(item.flags, `${label}.flags`, 'flags g and/or i', keyPath) : ''
    if (!/^[gi]*$/.test(flags)) fail(`${label}.flags`, `unknown flags ${JSON.stringify(flags)}: use g and/or i`, keyPath)
    const from = checkRegex(item.from, `${label}.from`, keyPath, flags)
    if (typeof item.to !== 'string') fail(`${label}.to`, `expected the replacement text, got ${describeValue(item.to)}`, keyPath)
    const to = item.to as string
    return {from, to, flags, text: `from /${from}/${flags} to "${to}"`}
  })
}

// ---------------------------------------------------------------------------------------------
// The keys, each declared once: YAML key under `folders:`, flag (the key in kebab-case), parsers, help

export interface FolderKey<T> {
  /** list: a repeatable flag (given once or more, it replaces the file's list); switch: a flag that
   * only turns the rule on; negatable: --x / --no-x; text: one value. */
  kind: 'list' | 'text' | 'switch' | 'negatable'
  help: string
  /** The YAML value, checked. */
  parse(value: unknown, label: string, keyPath: readonly string[]): T
  /** A flag's value (each value of a list flag), checked; booleans are taken as given. */
  parseFlag?(value: string, label: string): T extends (infer I)[] ? I : T
}

const regexList = (value: unknown, label: string, keyPath: readonly string[]) => checkList(value, label, keyPath, (item, l, k) => checkRegex(item, l, k))
const onOff = (value: unknown, label: string, keyPath: readonly string[]) => checkBoolean(value, label, keyPath)

export const FOLDER_KEYS: {[K in keyof FolderMappingConfig]-?: FolderKey<NonNullable<FolderMappingConfig[K]>>} = {
  include: {kind: 'list', help: 'Copy only folders whose name matches this regex (repeatable; names use "/" between levels).', parse: regexList, parseFlag: (v, l) => checkRegex(v, l)},
  exclude: {kind: 'list', help: 'Do not copy folders whose name matches this regex (repeatable).', parse: regexList, parseFlag: (v, l) => checkRegex(v, l)},
  map: {kind: 'list', help: 'Exact rename, "Old/Name=New/Name" (repeatable; subfolders are not affected).', parse: (v) => validateMap(v), parseFlag: parseMapFlag},
  rename: {
    kind: 'list',
    help: "Regex rename, 's/^Old/New/' with flags g, i (repeatable, applied in order; like imapsync --regextrans2).",
    parse: (v) => validateRename(v),
    parseFlag: (v, l) => parseSubstitution(v, l),
  },
  nestUnder: {kind: 'text', help: 'Put every folder, INBOX too, below this destination folder, e.g. Migrated/alice.', parse: checkFolderName, parseFlag: (v, l) => checkFolderName(v, l)},
  subscribedOnly: {kind: 'switch', help: 'Copy only folders subscribed on the source.', parse: onOff},
  automap: {kind: 'negatable', help: "Map Sent, Trash, Drafts, Junk and Archive to the destination's folders of the same role (default on; --no-automap).", parse: onOff},
  gmailAllMail: {kind: 'switch', help: 'Also copy Gmail\'s "[Gmail]/All Mail" and "Important" (skipped by default: labelled messages would be copied twice).', parse: onOff},
  subscriptions: {kind: 'negatable', help: 'Subscribe on the destination what is subscribed on the source (default on; --no-subscriptions).', parse: onOff},
}

export const FOLDERS_KEYS = Object.keys(FOLDER_KEYS) as (keyof FolderMappingConfig)[]

/** The mapping flags as the commands hand them over (undefined = not given). */
export type MappingFlagValues = {[K in keyof FolderMappingConfig]?: FolderMappingConfig[K] extends unknown[] ? string[] : FolderMappingConfig[K]}

/** `nestUnder` -> `nest-under`. */
export const folderFlagName = (key: keyof FolderMappingConfig) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

// ---------------------------------------------------------------------------------------------
// Merging

/**
 * defaults < provider preset < file < flags. A list flag given once or more replaces the file's list;
 * the other flags override one by one.
 */
export function resolveMapping(file: FolderMappingInput | undefined, flags: MappingFlagValues, preset?: Partial<FolderMappingConfig>): FolderMappingConfig {
  const out: Record<string, unknown> = {...DEFAULT_MAPPING, ...preset, ...file}
  for (const key of FOLDERS_KEYS) {
    const entry = FOLDER_KEYS[key] as FolderKey<unknown>
    const value: unknown = flags[key]
    const label = `--${folderFlagName(key)}`
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue
    if (Array.isArray(value)) out[key] = value.map((item: string) => entry.parseFlag!(item, label))
    else out[key] = entry.parseFlag && typeof value === 'string' ? entry.parseFlag(value, label) : value
  }
  return out as unknown as FolderMappingConfig
}
