/**
 * Checks of single configuration values, shared by the YAML validation, the flags, URLs and the
 * settings table (pure; a leaf of config/: imports nothing from it but the TLS mode list).
 *
 * A failed check throws a ConfigKeyError whose message names the key or flag and what was expected
 * vs given: `source.port: expected an integer 1-65535, got "abc" (string)`.
 */

import {ConfigError} from '../errors.js'
import {TLS_MODES, type MinTls, type TlsMode} from './schema.js'

export const MIN_CONCURRENCY = 1
export const MAX_CONCURRENCY = 64

/**
 * A ConfigError about one key or flag. `label` is what the message starts with ("source.port" or
 * "--source-tls"); `keyPath` is set for YAML keys so load.ts can add "file:line:col: " in front.
 */
export class ConfigKeyError extends ConfigError {
  readonly label: string
  readonly detail: string
  readonly keyPath?: readonly string[]

  constructor(label: string, detail: string, keyPath?: readonly string[]) {
    super(`${label}: ${detail}`)
    this.label = label
    this.detail = detail
    this.keyPath = keyPath
  }
}

// ---------------------------------------------------------------------------------------------
// Describing values

/** `"abc" (string)`, `70000 (number)`, `null`, `a list`, `a mapping`: for "expected X, got Y". */
export function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'nothing'
  if (Array.isArray(value)) return 'a list'
  switch (typeof value) {
    case 'string':
      return `${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)} (string)`
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${String(value)} (${typeof value})`
    case 'object':
      return value instanceof Date ? `a date (${value.toISOString()})` : 'a mapping'
    default:
      return `a ${typeof value}`
  }
}

/**
 * describeValue for a whole file: a file that is one scalar is most likely a password or token file
 * given as the config (the first line of such a file is the secret), so its text is never shown.
 */
export function describeDocument(value: unknown): string {
  return typeof value === 'string' ? 'text that is not a mapping (not shown: is it a password or token file?)' : describeValue(value)
}

/** A mapping: a plain object, not a list, not null. */
export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
}

export function fail(label: string, detail: string, keyPath?: readonly string[]): never {
  throw new ConfigKeyError(label, detail, keyPath)
}

// ---------------------------------------------------------------------------------------------
// Single values (shared with flags and URLs)

export function checkPort(value: unknown, label: string, keyPath?: readonly string[]): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535) return value
  return fail(label, `expected an integer 1-65535, got ${describeValue(value)}`, keyPath)
}

export function checkConcurrency(value: unknown, label: string, keyPath?: readonly string[]): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= MIN_CONCURRENCY && value <= MAX_CONCURRENCY) {
    return value
  }
  return fail(label, `expected an integer ${MIN_CONCURRENCY}-${MAX_CONCURRENCY}, got ${describeValue(value)}`, keyPath)
}

export function checkTlsMode(value: unknown, label: string, keyPath?: readonly string[]): TlsMode {
  if (typeof value === 'string' && (TLS_MODES as readonly string[]).includes(value)) return value as TlsMode
  return fail(label, `expected one of ${TLS_MODES.join(', ')}, got ${describeValue(value)}`, keyPath)
}

/** The lowest TLS version accepted: "1.2" or "1.3" (a YAML number 1.2 is read as such too). */
export function checkMinTls(value: unknown, label: string, keyPath?: readonly string[]): MinTls {
  const text = typeof value === 'number' ? value.toFixed(1) : value
  if (text === '1.2' || text === '1.3') return text
  return fail(label, `expected "1.2" or "1.3", got ${describeValue(value)}`, keyPath)
}

export function checkBoolean(value: unknown, label: string, keyPath?: readonly string[]): boolean {
  if (typeof value === 'boolean') return value
  return fail(label, `expected true or false, got ${describeValue(value)}`, keyPath)
}

/** A non-empty string without control characters. */
export function checkText(value: unknown, label: string, what: string, keyPath?: readonly string[]): string {
  if (typeof value !== 'string' || value.length === 0) {
    return fail(label, `expected ${what}, got ${describeValue(value)}`, keyPath)
  }
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    return fail(label, `expected ${what}, got a string with control characters (newline, tab...)`, keyPath)
  }
  return value
}

export function checkPath(value: unknown, label: string, keyPath?: readonly string[]): string {
  return checkText(value, label, 'a file path', keyPath)
}

export function checkUser(value: unknown, label: string, keyPath?: readonly string[]): string {
  return checkText(value, label, 'a user name', keyPath)
}

const HOST_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/
const IPV6_LIKE = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/

/**
 * A host name, IPv4 address or IPv6 address (with or without [brackets]); returned without brackets,
 * which is what net.connect and tls.connect want.
 */
export function checkHost(value: unknown, label: string, keyPath?: readonly string[]): string {
  const text = checkText(value, label, 'a host name or IP address', keyPath)
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text
  if (bare.includes(':')) {
    if (IPV6_LIKE.test(bare)) return bare
  } else if (HOST_NAME.test(bare)) {
    return bare
  }
  return fail(label, `expected a host name or IP address, got ${describeValue(text)}`, keyPath)
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** The name of an environment variable. The value given is not echoed: it might be the password. */
export function checkEnvName(value: unknown, label: string, keyPath?: readonly string[]): string {
  if (typeof value === 'string' && ENV_NAME.test(value)) return value
  const given = typeof value === 'string' ? 'a string that is not a variable name' : describeValue(value)
  return fail(label, `expected the name of an environment variable (letters, digits and _), got ${given}`, keyPath)
}

/** Keys that look like someone tried to write a password in plain text. */
const PASSWORD_LIKE = /^(password|passwd|pass|pwd|pw|secret)$/i

export const PLAINTEXT_PASSWORD_ADVICE =
  'passwords are not accepted in the config file or on the command line (they would end up in backups, ' +
  'version control or the process list); use passwordEnv: VAR_NAME (an environment variable) or ' +
  'passwordFile: /path/to/file (first line, mode 0600)'

// ---------------------------------------------------------------------------------------------
// Keys

function editDistance(a: string, b: string): number {
  const row = Array.from({length: b.length + 1}, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1))
      previous = current
    }
  }
  return row[b.length]
}

/** "did you mean port?" for a key close to a known one (case-insensitive, at most 2 edits). */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  let best: {key: string; distance: number} | undefined
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase())
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = {key: candidate, distance}
  }
  return best?.key
}

function looksLikePassword(key: string): boolean {
  return PASSWORD_LIKE.test(key) || editDistance(key.toLowerCase(), 'password') <= 2
}

/** Throws for the first key of `mapping` not in `known`. Never echoes the value. */
export function checkKnownKeys(mapping: Record<string, unknown>, known: readonly string[], path: readonly string[]): void {
  for (const key of Object.keys(mapping)) {
    if (known.includes(key)) continue
    const keyPath = [...path, key]
    const label = keyPath.join('.')
    if (looksLikePassword(key)) {
      const detail = PASSWORD_LIKE.test(key) ? PLAINTEXT_PASSWORD_ADVICE : `unknown key; ${PLAINTEXT_PASSWORD_ADVICE}`
      fail(label, detail, keyPath)
    }
    const suggestion = suggestKey(key, known)
    fail(label, suggestion ? `unknown key (did you mean ${suggestion}?)` : `unknown key (known keys: ${known.join(', ')})`, keyPath)
  }
}
