/**
 * Batch migrations (issue #6): many account pairs from one YAML file or an imapsync-style CSV.
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
import {isAbsolute, resolve} from 'node:path'

import {parse as parseYaml} from 'yaml'

import {ConfigError} from '../errors.js'
import {DEFAULT_PORTS, type SecretSource, type TlsMode} from '../config/schema.js'
import {
  checkConcurrency,
  checkEnvName,
  checkHost,
  checkKnownKeys,
  checkPath,
  checkPort,
  checkTlsMode,
  checkUser,
  describeValue,
  isMapping,
  ConfigKeyError,
} from '../config/validate.js'

export type BatchSide = 'source' | 'dest'

export interface BatchEndpoint {
  host: string
  port: number
  tls: TlsMode
  user: string
  /** env or file reference; never a password. */
  secret: SecretSource
}

export interface BatchJob {
  /** Stable identity of the job within the batch: "source user@host:port -> dest user@host:port". */
  id: string
  /** Where it was written: "jobs[3]" or "accounts.csv:4". */
  origin: string
  source: BatchEndpoint
  dest: BatchEndpoint
  concurrency: number
}

export interface BatchConfig {
  jobs: BatchJob[]
  /** Absolute directory holding one state DB per job and batch.json. */
  stateDir: string
}

export const DEFAULT_BATCH_CONCURRENCY = 2
const SIDE_KEYS = ['host', 'port', 'tls', 'user', 'passwordEnv', 'passwordFile'] as const
const DEFAULTS_KEYS = ['source', 'dest', 'concurrency'] as const
const JOB_KEYS = ['source', 'dest', 'concurrency'] as const
const TOP_KEYS = ['stateDir', 'defaults', 'jobs'] as const

interface SideDraft {
  host?: string
  port?: number
  tls?: TlsMode
  user?: string
  secret?: SecretSource
}

export function jobId(source: Pick<BatchEndpoint, 'user' | 'host' | 'port'>, dest: Pick<BatchEndpoint, 'user' | 'host' | 'port'>): string {
  return `${source.user}@${source.host}:${source.port} -> ${dest.user}@${dest.host}:${dest.port}`
}

function sideDraft(value: unknown, path: string[], resolvePath: (p: string) => string): SideDraft {
  const label = path.join('.')
  if (value === undefined || value === null) return {}
  if (!isMapping(value)) throw new ConfigKeyError(label, `expected a mapping (host:, user:, ...), got ${describeValue(value)}`, path)
  checkKnownKeys(value, SIDE_KEYS, path)
  const at = (key: string): [string, string[]] => [`${label}.${key}`, [...path, key]]
  const out: SideDraft = {}
  if (value.host != null) out.host = checkHost(value.host, ...at('host'))
  if (value.port != null) out.port = checkPort(value.port, ...at('port'))
  if (value.tls != null) out.tls = checkTlsMode(value.tls, ...at('tls'))
  if (value.user != null) out.user = checkUser(value.user, ...at('user'))
  if (value.passwordEnv != null && value.passwordFile != null) {
    throw new ConfigKeyError(`${label}.passwordFile`, `give only one of ${label}.passwordEnv and ${label}.passwordFile`, [...path, 'passwordFile'])
  }
  if (value.passwordEnv != null) out.secret = {kind: 'env', name: checkEnvName(value.passwordEnv, ...at('passwordEnv'))}
  if (value.passwordFile != null) out.secret = {kind: 'file', path: resolvePath(checkPath(value.passwordFile, ...at('passwordFile')))}
  return out
}

function finishSide(side: BatchSide, draft: SideDraft, where: string): BatchEndpoint {
  const missing = (what: string) => new ConfigError(`${where}: ${side}.${what} is missing (give it in the job or under defaults.${side})`)
  if (draft.host === undefined) throw missing('host')
  if (draft.user === undefined) throw missing('user')
  if (draft.secret === undefined) throw missing('passwordEnv or passwordFile')
  const tls = draft.tls ?? 'implicit'
  return {host: draft.host, port: draft.port ?? DEFAULT_PORTS[tls], tls, user: draft.user, secret: draft.secret}
}

/** Parses a batch YAML file's text. `baseDir` resolves relative paths (stateDir, passwordFile). */
export function parseBatchYaml(text: string, origin: string, baseDir: string): BatchConfig {
  let value: unknown
  try {
    value = parseYaml(text, {uniqueKeys: true})
  } catch (error) {
    throw new ConfigError(`${origin}: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`)
  }
  const resolvePath = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p))
  try {
    if (!isMapping(value)) throw new ConfigKeyError('(top level)', `expected a mapping with defaults: and jobs:, got ${describeValue(value)}`, [])
    checkKnownKeys(value, TOP_KEYS, [])
    const defaults = value.defaults ?? {}
    if (!isMapping(defaults)) throw new ConfigKeyError('defaults', `expected a mapping, got ${describeValue(defaults)}`, ['defaults'])
    checkKnownKeys(defaults, DEFAULTS_KEYS, ['defaults'])
    const defaultSides = {
      source: sideDraft(defaults.source, ['defaults', 'source'], resolvePath),
      dest: sideDraft(defaults.dest, ['defaults', 'dest'], resolvePath),
    }
    const defaultConcurrency =
      defaults.concurrency != null ? checkConcurrency(defaults.concurrency, 'defaults.concurrency', ['defaults', 'concurrency']) : DEFAULT_BATCH_CONCURRENCY
    if (!Array.isArray(value.jobs) || value.jobs.length === 0) {
      throw new ConfigKeyError('jobs', `expected a non-empty list of jobs (source:, dest:), got ${describeValue(value.jobs)}`, ['jobs'])
    }
    const jobs = value.jobs.map((entry: unknown, index: number): BatchJob => {
      const where = `jobs[${index}]`
      if (!isMapping(entry)) throw new ConfigKeyError(where, `expected a mapping (source:, dest:), got ${describeValue(entry)}`)
      checkKnownKeys(entry, JOB_KEYS, [where])
      const source = finishSide('source', {...defaultSides.source, ...sideDraft(entry.source, [where, 'source'], resolvePath)}, where)
      const dest = finishSide('dest', {...defaultSides.dest, ...sideDraft(entry.dest, [where, 'dest'], resolvePath)}, where)
      const concurrency = entry.concurrency != null ? checkConcurrency(entry.concurrency, `${where}.concurrency`) : defaultConcurrency
      return {id: jobId(source, dest), origin: where, source, dest, concurrency}
    })
    checkDuplicates(jobs)
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
      throw new ConfigError(`${where}: expected 6 cells (${CSV_COLUMNS.join(';')}), got ${cells.length}`)
    }
    const cell = (i: number) => cells[columns[i]] ?? ''
    const sourceTls = options.sourceTls ?? 'implicit'
    const destTls = options.destTls ?? 'implicit'
    // Password cells first: a cell holding a password is reported before anything could echo it.
    const sourceSecret = parseSecretCell(cell(2), where, 'password1', resolvePath)
    const destSecret = parseSecretCell(cell(5), where, 'password2', resolvePath)
    const source: BatchEndpoint = {...hostCell(cell(0), where, 'host1', sourceTls), tls: sourceTls, user: checkUser(cell(1), `${where}: user1`), secret: sourceSecret}
    const dest: BatchEndpoint = {...hostCell(cell(3), where, 'host2', destTls), tls: destTls, user: checkUser(cell(4), `${where}: user2`), secret: destSecret}
    jobs.push({id: jobId(source, dest), origin: where, source, dest, concurrency: options.concurrency ?? DEFAULT_BATCH_CONCURRENCY})
  }
  if (jobs.length === 0) throw new ConfigError(`${origin}: no accounts (expected lines host1;user1;password1;host2;user2;password2)`)
  checkDuplicates(jobs)
  return jobs
}

function checkDuplicates(jobs: BatchJob[]): void {
  const seen = new Map<string, string>()
  for (const job of jobs) {
    const before = seen.get(job.id)
    if (before) throw new ConfigError(`${job.origin}: the same account pair as ${before} (${job.id})`)
    seen.set(job.id, job.origin)
  }
}
