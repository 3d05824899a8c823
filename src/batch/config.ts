/**
 * Batch migrations: many account pairs from one YAML file or an imapsync-style CSV.
 * Pure: parses text into BatchJob lists; reading files and the environment happens in run.ts.
 *
 * YAML:
 *   stateDir: ./state            # optional; default: the config file's directory
 *   defaults:
 *     source: {host: old.example, port: 993, tls: implicit, passwordEnv: OLD_PW}
 *     dest:   {host: new.example, tls: implicit}
 *     concurrency: 2
 *   jobs:
 *     - source: {user: alice, passwordFile: /secrets/alice-old}
 *       dest:   {user: alice@new.example, passwordEnv: ALICE_NEW}
 *
 * CSV (imapsync's order, `;` or `,` separated, optional header row naming the columns):
 *   host1;user1;password1;host2;user2;password2
 * A password cell is a reference, `env:NAME` or `file:/path`, never a password: a plaintext cell is an
 * error naming the line, without echoing the cell.
 */
import {homedir} from 'node:os'

import {parse as parseYaml} from 'yaml'

import {ConfigError} from '../errors.js'
import {sideFromFile} from '../config/config-file.js'
import {defaultStateFileName, resolveFilePath} from '../config/paths.js'
import {ENDPOINT_PATH_KEYS, endpointKeysOf} from '../config/endpoint.js'
import {DEFAULT_PORTS, describeEndpoint, type SecretSource, type TlsMode} from '../config/schema.js'
import {
  checkEnvName,
  checkHost,
  checkKnownKeys,
  checkPath,
  checkPort,
  checkUser,
  describeDocument,
  describeValue,
  isMapping,
  validateFileConfig,
  ConfigKeyError,
  type FileConfigInput,
} from '../config/validate.js'

export type BatchSide = 'source' | 'dest'

/** Who and where, for the job's identity, its state file name and the per-host connection budget. */
export interface BatchEndpoint {
  host: string
  port: number
  tls: TlsMode
  user: string
}

export interface BatchJob {
  /** Stable identity of the job within the batch: "source user@host:port -> dest user@host:port". */
  id: string
  /** Where it was written: "jobs[3]" or "accounts.csv:4". */
  origin: string
  source: BatchEndpoint
  dest: BatchEndpoint
  concurrency: number
  /**
   * Everything else, exactly as a `mailferry sync` config file would say it (defaults merged in,
   * paths resolved): TLS options, login (passwords from env/file/command, OAuth2), folder rules,
   * tuning keys. The account is run from this, through the same code as `sync --config`.
   */
  settings: FileConfigInput
}

export interface BatchConfig {
  jobs: BatchJob[]
  /** Absolute directory holding one state DB per job and batch.json. */
  stateDir: string
}

export const DEFAULT_BATCH_CONCURRENCY = 2
const TOP_KEYS = ['stateDir', 'defaults', 'jobs'] as const
/** A batch decides each account's state file (under stateDir): `state:` has no place in it. */
const BATCH_REFUSED = ['state'] as const

export function jobId(source: Pick<BatchEndpoint, 'user' | 'host' | 'port'>, dest: Pick<BatchEndpoint, 'user' | 'host' | 'port'>): string {
  return `${describeEndpoint(source)} -> ${describeEndpoint(dest)}`
}

/** A sync config fragment (defaults: or one job), checked with the sync file's own rules, labels under `at`. */
function checkFragment(value: unknown, at: string): Record<string, unknown> {
  if (value === undefined || value === null) return {}
  if (!isMapping(value)) throw new ConfigKeyError(at, `expected a mapping (source:, dest:, ...), got ${describeValue(value)}`, [at])
  for (const key of BATCH_REFUSED) {
    if (key in value) throw new ConfigKeyError(`${at}.${key}`, 'each account gets its state file under stateDir; remove it', [at, key])
  }
  underLabel(at, () => validateFileConfig(value))
  return value
}

/** Re-labels a config mistake as found under `at` ("jobs[3]" + "source.prot" -> "jobs[3].source.prot"). */
function underLabel<T>(at: string, fn: () => T): T {
  try {
    return fn()
  } catch (error) {
    if (error instanceof ConfigKeyError) throw new ConfigKeyError(`${at}.${error.label}`, error.detail, [at, ...(error.keyPath ?? [])])
    if (error instanceof ConfigError) throw new ConfigError(`${at}: ${error.message}`, {cause: error, hint: error.hint})
    throw error
  }
}

/** Ways to log in: a job giving any of them replaces all of the defaults' (passwordFile after passwordEnv). */
const LOGIN_KEYS: string[] = endpointKeysOf('password', 'token')
const ADDRESS_KEYS: string[] = endpointKeysOf('address').filter((name) => name !== 'url')

/** defaults < job; per side, key by key; any other key (folders:, maxErrors: ...) is replaced whole. */
function mergeJob(defaults: Record<string, unknown>, job: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = {...defaults, ...job}
  for (const side of ['source', 'dest'] as const) {
    if (!isMapping(defaults[side]) && !isMapping(job[side])) continue
    const base: Record<string, unknown> = isMapping(defaults[side]) ? {...defaults[side]} : {}
    const own: Record<string, unknown> = isMapping(job[side]) ? job[side] : {}
    const gives = (keys: string[]) => Object.keys(own).some((key) => keys.includes(key))
    if (gives(LOGIN_KEYS)) for (const key of LOGIN_KEYS) delete base[key]
    // url: says host, port, user and tls at once; a job's host: replaces the defaults' url.
    if ('url' in own) for (const key of ADDRESS_KEYS) delete base[key]
    if ('host' in own) delete base.url
    merged[side] = {...base, ...own}
  }
  return merged
}

/** Who and where of one side, from the job's settings (url: or host:/port:/tls:/user:). */
function endpointOf(side: BatchSide, settings: FileConfigInput, where: string, resolvePath: (p: string) => string): BatchEndpoint {
  const input = settings[side]
  const draft = input ? underLabel(where, () => sideFromFile(side, input, resolvePath)) : {}
  const missing = (what: string) => new ConfigError(`${where}: ${side}.${what} is missing (give it in the job or under defaults.${side})`)
  if (draft.maildir !== undefined) throw new ConfigError(`${where}: ${side}: a batch migrates IMAP accounts, not maildir: directories`)
  if (draft.host === undefined) throw missing('host')
  if (draft.user === undefined) throw missing('user')
  const hasLogin =
    draft.secret !== undefined || (draft.auth !== undefined && (draft.auth.token !== undefined || draft.auth.prompt === true))
  if (!hasLogin) throw missing('passwordEnv, passwordFile, passwordCommand or a token source')
  if (draft.auth?.prompt) throw new ConfigError(`${where}: ${side}.passwordPrompt: a batch runs unattended; use passwordEnv, passwordFile or passwordCommand`)
  const tls = draft.tls ?? 'implicit'
  return {host: draft.host, port: draft.port ?? DEFAULT_PORTS[tls], tls, user: draft.user}
}

/** Relative paths in a job (caFile, passwordFile, tokenFile, logFile ...) are the batch file's. */
function resolveSettingsPaths(settings: FileConfigInput, resolvePath: (p: string) => string): FileConfigInput {
  const out: FileConfigInput = {...settings}
  for (const side of ['source', 'dest'] as const) {
    const input = settings[side]
    if (!input) continue
    const copy = {...input}
    for (const key of ENDPOINT_PATH_KEYS) if (copy[key] !== undefined) Object.assign(copy, {[key]: resolvePath(copy[key] as string)})
    if (copy.oauth2) {
      const o: Record<string, unknown> = {...copy.oauth2}
      for (const key of ['clientSecretFile', 'refreshTokenFile', 'certificateFile', 'privateKeyFile', 'keyFile']) {
        if (typeof o[key] === 'string') o[key] = resolvePath(o[key] as string)
      }
      copy.oauth2 = o as unknown as typeof copy.oauth2
    }
    out[side] = copy
  }
  if (out.logFile !== undefined) out.logFile = resolvePath(out.logFile)
  return out
}

/** Parses a batch YAML file's text. `baseDir` resolves relative paths (stateDir, passwordFile, caFile ...). */
export function parseBatchYaml(text: string, origin: string, baseDir: string): BatchConfig {
  let value: unknown
  try {
    value = parseYaml(text, {uniqueKeys: true})
  } catch (error) {
    throw new ConfigError(`${origin}: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`)
  }
  const resolvePath = (p: string) => resolveFilePath(p, baseDir, homedir())
  try {
    if (!isMapping(value)) throw new ConfigKeyError('(top level)', `expected a mapping with defaults: and jobs:, got ${describeDocument(value)}`, [])
    checkKnownKeys(value, TOP_KEYS, [])
    const defaults = checkFragment(value.defaults, 'defaults')
    if (!Array.isArray(value.jobs) || value.jobs.length === 0) {
      throw new ConfigKeyError('jobs', `expected a non-empty list of jobs (source:, dest:), got ${describeValue(value.jobs)}`, ['jobs'])
    }
    const jobs = value.jobs.map((entry: unknown, index: number): BatchJob => {
      const where = `jobs[${index}]`
      if (!isMapping(entry)) throw new ConfigKeyError(where, `expected a mapping (source:, dest:), got ${describeValue(entry)}`)
      checkFragment(entry, where)
      const settings = underLabel(where, () => validateFileConfig(mergeJob(defaults, entry)))
      const source = endpointOf('source', settings, where, resolvePath)
      const dest = endpointOf('dest', settings, where, resolvePath)
      const concurrency = settings.concurrency ?? DEFAULT_BATCH_CONCURRENCY
      const resolved = resolveSettingsPaths(settings, resolvePath)
      // One log file per account: {account} is the account pair's name (as its state file's).
      if (resolved.logFile !== undefined) resolved.logFile = resolved.logFile.replaceAll('{account}', defaultStateFileName(source, dest).replace(/\.sqlite$/, ''))
      return {id: jobId(source, dest), origin: where, source, dest, concurrency, settings: resolved}
    })
    checkDuplicates(jobs)
    checkLogFiles(jobs)
    const stateDir = value.stateDir != null ? resolvePath(checkPath(value.stateDir, 'stateDir', ['stateDir'])) : baseDir
    return {jobs, stateDir}
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`${origin}: ${error.message}`, {cause: error, hint: error.hint})
    throw error
  }
}

const CSV_COLUMNS = ['host1', 'user1', 'password1', 'host2', 'user2', 'password2'] as const

/** One password cell: `env:NAME` or `file:/path`. Anything else is refused without being echoed. */
export function parseSecretCell(cell: string, where: string, column: string, resolvePath: (p: string) => string): SecretSource {
  const env = /^env:(.*)$/s.exec(cell)
  if (env) return {kind: 'env', name: checkEnvName(env[1], `${where}: ${column}`)}
  const file = /^file:(.+)$/s.exec(cell)
  if (file) return {kind: 'file', path: resolvePath(file[1])}
  throw new ConfigError(
    `${where}: ${column} must be a reference, env:VARIABLE or file:/path/to/file, not a password (the cell is not shown)`,
    {hint: 'put the password in an environment variable or a file (mode 0600) and write env:NAME or file:PATH in the cell'},
  )
}

/** host or host:port (a port in the host cell, as imapsync users often write it). */
function hostCell(cell: string, where: string, column: string, tls: TlsMode): {host: string; port: number} {
  const match = /^(.*?)(?::(\d{1,5}))?$/.exec(cell)!
  const host = checkHost(match[1], `${where}: ${column}`)
  const port = match[2] === undefined ? DEFAULT_PORTS[tls] : checkPort(Number(match[2]), `${where}: ${column} port`)
  return {host, port}
}

function splitCsvLine(line: string, separator: string): string[] {
  const cells: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"'
        i++
      } else if (c === '"') quoted = false
      else cell += c
    } else if (c === '"' && cell === '') quoted = true
    else if (c === separator) {
      cells.push(cell.trim())
      cell = ''
    } else cell += c
  }
  cells.push(cell.trim())
  return cells
}

export interface CsvOptions {
  /** TLS mode of every account (CSV has no column for it). Default implicit. */
  sourceTls?: TlsMode
  destTls?: TlsMode
  concurrency?: number
  resolvePath?: (p: string) => string
}

/**
 * imapsync's `host1;user1;password1;host2;user2;password2` lines. `#` comments and blank lines are
 * skipped; a first line whose cells are the column names (any order) is a header.
 */
export function parseBatchCsv(text: string, origin: string, options: CsvOptions = {}): BatchJob[] {
  const resolvePath = options.resolvePath ?? ((p: string) => p)
  const lines = text.split(/\r?\n/)
  let order: number[] | undefined
  const jobs: BatchJob[] = []
  for (let index = 0; index < lines.length; index++) {
    const raw = lines[index]
    if (raw.trim() === '' || raw.trim().startsWith('#')) continue
    const where = `${origin}:${index + 1}`
    const separator = raw.includes(';') ? ';' : ','
    const cells = splitCsvLine(raw, separator)
    if (order === undefined && jobs.length === 0) {
      const names = cells.map((c) => c.toLowerCase())
      if (names.includes('host1') || names.includes('user1')) {
        order = CSV_COLUMNS.map((column) => {
          const at = names.indexOf(column)
          if (at === -1) throw new ConfigError(`${where}: the header row has no ${column} column (needs ${CSV_COLUMNS.join(';')})`)
          return at
        })
        continue
      }
    }
    const columns = order ?? [0, 1, 2, 3, 4, 5]
    if (cells.length < 6 || (order === undefined && cells.length !== 6)) {
      throw new ConfigError(`${where}: expected 6 cells (${CSV_COLUMNS.join(';')}), got ${cells.length}`, {
        hint: 'one account pair per line, its cells separated by ; (or , when the line has no ;); a first row naming the columns may put them in another order',
      })
    }
    const cell = (i: number) => cells[columns[i]] ?? ''
    const sourceTls = options.sourceTls ?? 'implicit'
    const destTls = options.destTls ?? 'implicit'
    // Password cells first: a cell holding a password is reported before anything could echo it.
    const sourceSecret = parseSecretCell(cell(2), where, 'password1', resolvePath)
    const destSecret = parseSecretCell(cell(5), where, 'password2', resolvePath)
    const source: BatchEndpoint = {...hostCell(cell(0), where, 'host1', sourceTls), tls: sourceTls, user: checkUser(cell(1), `${where}: user1`)}
    const dest: BatchEndpoint = {...hostCell(cell(3), where, 'host2', destTls), tls: destTls, user: checkUser(cell(4), `${where}: user2`)}
    const side = (e: BatchEndpoint, secret: SecretSource) => ({
      host: e.host,
      port: e.port,
      tls: e.tls,
      user: e.user,
      ...(secret.kind === 'env' ? {passwordEnv: secret.name} : secret.kind === 'file' ? {passwordFile: secret.path} : {}),
    })
    const settings: FileConfigInput = {source: side(source, sourceSecret), dest: side(dest, destSecret)}
    jobs.push({id: jobId(source, dest), origin: where, source, dest, concurrency: options.concurrency ?? DEFAULT_BATCH_CONCURRENCY, settings})
  }
  if (jobs.length === 0) throw new ConfigError(`${origin}: no accounts (expected lines host1;user1;password1;host2;user2;password2)`)
  checkDuplicates(jobs)
  return jobs
}

/** Accounts run side by side: two writing one log file would interleave their lines. */
function checkLogFiles(jobs: BatchJob[]): void {
  const seen = new Map<string, string>()
  for (const job of jobs) {
    const file = job.settings.logFile
    if (file === undefined) continue
    const before = seen.get(file)
    if (before) {
      throw new ConfigError(`${job.origin}: logFile ${file} is also the log of ${before}`, {
        hint: 'put {account} in the logFile name (e.g. logs/{account}.log): each account gets its own file',
      })
    }
    seen.set(file, job.origin)
  }
}

function checkDuplicates(jobs: BatchJob[]): void {
  const seen = new Map<string, string>()
  for (const job of jobs) {
    const before = seen.get(job.id)
    if (before) throw new ConfigError(`${job.origin}: the same account pair as ${before} (${job.id})`)
    seen.set(job.id, job.origin)
  }
}
