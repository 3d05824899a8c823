/**
 * Secrets: where they come from and how they are read (environment, files, commands).
 *
 * A password is never given on the command line (the process list shows it to every user) nor as
 * plain text in the YAML file (backups, version control): only by naming an environment variable or
 * a file. The value is returned to the caller and never appears in an error or warning: messages
 * name the variable or the file, nothing else.
 */

import {execFile, execFileSync} from 'node:child_process'
import {closeSync, fstatSync, openSync, readFileSync} from 'node:fs'
import {isAbsolute} from 'node:path'

import {AuthError, ConfigError} from '../errors.js'
import {registerSecret} from '../log.js'
import type {StoredSecret} from '../config/auth.js'
import type {SecretSource} from '../config/schema.js'

export type Side = 'source' | 'dest'

export interface PasswordResult {
  password: string
  warnings: string[]
}

/** How to give a password for one side, for error messages. */
export function passwordAdvice(side: Side): string {
  return (
    `use --${side}-password-env NAME (an environment variable) or --${side}-password-file PATH, ` +
    `or passwordEnv: / passwordFile: under ${side}: in the config file`
  )
}

/** What to write instead of a password inside a URL. */
export function urlPasswordAdvice(side: Side, fromYaml: boolean): string {
  return fromYaml
    ? `use ${side}.passwordEnv or ${side}.passwordFile`
    : `use --${side}-password-env or --${side}-password-file`
}

/** "0644" */
export function formatMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`
}

/** Any permission bit for group or others. */
export function isGroupOrWorldAccessible(mode: number): boolean {
  return (mode & 0o077) !== 0
}

/** The password in a file is its first line, without the line end (and without a leading BOM). */
export function firstLine(text: string): string {
  const withoutBom = text.startsWith('\uFEFF') ? text.slice(1) : text
  const end = withoutBom.search(/\r?\n|\r/)
  return end === -1 ? withoutBom : withoutBom.slice(0, end)
}

export interface TextFile {
  text: string
  /** st_mode of the file that was read (same descriptor: no check-then-read race). */
  mode: number
}

const NOT_A_FILE = 'give the path of a file, not of a directory'

/**
 * Reads a regular text file, or throws a ConfigError "<what> <path> does not exist" (or cannot be
 * read, or is not a regular file).
 */
export function readTextFile(path: string, what: string): TextFile {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (error) {
    throw fileError(error, path, what)
  }
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile()) throw new ConfigError(`${what} ${path} is not a regular file`, {hint: NOT_A_FILE})
    return {text: readFileSync(fd, 'utf8'), mode: stat.mode}
  } catch (error) {
    throw error instanceof ConfigError ? error : fileError(error, path, what)
  } finally {
    closeSync(fd)
  }
}

function fileError(error: unknown, path: string, what: string): ConfigError {
  const {reason, hint} = readFailure((error as NodeJS.ErrnoException | undefined)?.code, path)
  return new ConfigError(`${what} ${path} ${reason}`, {cause: error, hint})
}

/** Why a file could not be read, in words, and what to do about it. */
function readFailure(code: string | undefined, path: string): {reason: string; hint?: string} {
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return {reason: 'does not exist', hint: `check the path${isAbsolute(path) ? '' : ` (relative to ${process.cwd()})`}`}
    case 'EACCES':
    case 'EPERM':
      return {reason: 'cannot be read (permission denied)', hint: 'make it readable by the user mailferry runs as'}
    case 'EISDIR':
      return {reason: 'is not a regular file', hint: NOT_A_FILE}
    default:
      return {reason: `cannot be read (${code ?? 'unknown error'})`}
  }
}

/** The warning for a file that group or others may read, or undefined when its mode is fine. */
export function modeWarning(
  path: string,
  mode: number,
  what: string,
  why: string,
  platform: NodeJS.Platform = process.platform,
): string | undefined {
  // Windows has no POSIX modes: fstat reports 0666 for every writable file.
  if (platform === 'win32' || !isGroupOrWorldAccessible(mode)) return undefined
  return `${what} ${path} is accessible by group/others (mode ${formatMode(mode)}); ${why}: chmod 600 ${path}`
}

/** Reads the password for one side. Throws a ConfigError naming the side and where it looked. */
export function readPassword(
  side: Side,
  source: SecretSource | undefined,
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform = process.platform,
  /** The command's environment: `env` without secrets (auth.ts secretCommandEnv). */
  commandEnv: NodeJS.ProcessEnv = secretCommandEnv(env, []),
): PasswordResult {
  if (source === undefined) throw new ConfigError(`no password configured for ${side}: ${passwordAdvice(side)}`)
  if (source.kind === 'env') return {password: readEnvPassword(side, source.name, env), warnings: []}
  if (source.kind === 'command') return {password: runSecretCommandSync(side, 'passwordCommand', source.command, commandEnv), warnings: []}
  return readFilePassword(side, source.path, platform)
}

export function readEnvPassword(side: Side, name: string, env: NodeJS.ProcessEnv): string {
  const value = env[name]
  if (value === undefined) throw new ConfigError(`${side} password: environment variable ${name} is not set`)
  if (value === '') throw new ConfigError(`${side} password: environment variable ${name} is set but empty`)
  return value
}

export function readFilePassword(side: Side, path: string, platform: NodeJS.Platform = process.platform): PasswordResult {
  const what = `${side} password file`
  const {text, mode} = readTextFile(path, what)
  const password = firstLine(text)
  if (password === '') throw new ConfigError(`${what} ${path} is empty (the password is its first line)`)
  const warning = modeWarning(path, mode, what, 'it should be 0600', platform)
  return {password, warnings: warning ? [warning] : []}
}

// ---------------------------------------------------------------------------------------------
// Secrets from the environment, files and commands

/**
 * The environment of passwordCommand and tokenCommand: the caller's, without the variables that hold
 * secrets (`secretNames`: both sides', so a command for one side never sees the other's password)
 * and without mailferry's own MAILFERRY_* variables. PATH, HOME, GNUPGHOME, PASSWORD_STORE_DIR and
 * the rest stay: `pass` and gpg need them.
 */
export function secretCommandEnv(env: NodeJS.ProcessEnv, secretNames: Iterable<string>): NodeJS.ProcessEnv {
  const drop = new Set(secretNames)
  return Object.fromEntries(Object.entries(env).filter(([name]) => !drop.has(name) && !name.toUpperCase().startsWith('MAILFERRY_')))
}

/** A secret from the environment or a file (first line), registered with the redacting logger. */
export function readStored(side: Side, what: string, source: StoredSecret, env: NodeJS.ProcessEnv, platform: NodeJS.Platform, warnings?: string[]): string {
  if (source.kind === 'env') {
    const value = env[source.name]
    if (value === undefined || value === '') throw new ConfigError(`${side} ${what}: environment variable ${source.name} is ${value === undefined ? 'not set' : 'empty'}`)
    registerSecret(value)
    return value
  }
  const label = `${side} ${what} file`
  const {text, mode} = readTextFile(source.path, label)
  const value = firstLine(text).trim()
  if (value === '') throw new ConfigError(`${label} ${source.path} is empty`)
  registerSecret(value)
  const warning = modeWarning(source.path, mode, label, 'it should be 0600', platform)
  if (warning && warnings && !warnings.includes(warning)) warnings.push(warning)
  return value
}

const COMMAND_HINT = 'run the command by hand: it must print the secret on its first line and exit 0'

/** Runs `command` with /bin/sh; its first line of output is the secret. Synchronous (config time). */
export function runSecretCommandSync(side: Side, what: string, command: string, env: NodeJS.ProcessEnv): string {
  let output: string
  try {
    // stdin and stderr stay the terminal's: `pass` and gpg may ask for a passphrase.
    output = execFileSync('/bin/sh', ['-c', command], {encoding: 'utf8', env, stdio: ['inherit', 'pipe', 'inherit'], timeout: 120_000})
  } catch (error) {
    const status = (error as {status?: number | null}).status
    throw new ConfigError(`${side} ${what}: the command failed${status ? ` (exit ${status})` : ''}`, {cause: undefined, hint: COMMAND_HINT})
  }
  const value = firstLine(output).trim()
  if (value === '') throw new ConfigError(`${side} ${what}: the command printed nothing`, {hint: COMMAND_HINT})
  registerSecret(value)
  return value
}

export function runSecretCommand(side: Side, what: string, command: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', command], {encoding: 'utf8', env, timeout: 120_000}, (error, stdout) => {
      if (error) {
        // Never the output: it may hold half a token.
        const code = (error as {code?: unknown}).code
        return reject(new AuthError(`${side} ${what}: the command failed${typeof code === 'number' ? ` (exit ${code})` : ''}`, {hint: COMMAND_HINT}))
      }
      const value = firstLine(stdout).trim()
      if (value === '') return reject(new AuthError(`${side} ${what}: the command printed nothing`, {hint: COMMAND_HINT}))
      registerSecret(value)
      resolve(value)
    })
  })
}
