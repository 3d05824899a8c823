/**
 * The YAML config file: read (its mode checked), parsed and validated, errors placed at
 * "file:line:col", and each side written there turned into a draft of its endpoint (endpoint.ts).
 */
import {createRequire} from 'node:module'
import {homedir} from 'node:os'
import {dirname} from 'node:path'

import type * as Yaml from 'yaml'

import {formatMode, readTextFile, urlPasswordAdvice} from '../credentials/secrets.js'
import {ConfigError} from '../errors.js'
import {SIDES, assembleDraft, draftFromInput, type EndpointDraft, type EndpointInput, type Side} from './endpoint.js'
import {resolveFilePath} from './paths.js'
import {ConfigKeyError, validateFileConfig, type FileConfigInput} from './validate.js'

export interface ParsedConfigFile {
  /** The file as written (paths unresolved). */
  input: FileConfigInput
  /** Each side given in the file, URL parsed and paths resolved. */
  drafts: Partial<Record<Side, EndpointDraft>>
}

export interface LoadedConfigFile extends ParsedConfigFile {
  path: string
  warnings: string[]
}

/** Reads, parses and validates the YAML file. Errors carry "path:line:col: ". */
export function loadConfigFile(
  path: string,
  options: {platform?: NodeJS.Platform; homeDir?: string} = {},
): LoadedConfigFile {
  const {text, mode} = readTextFile(path, 'config file')
  // The file holds no secrets, so reading it is harmless (examples ship 0644); writing it is not:
  // whoever can change it can send the mail elsewhere.
  const platform = options.platform ?? process.platform
  const warning =
    platform !== 'win32' && (mode & 0o022) !== 0
      ? `config file ${path} is writable by group/others (mode ${formatMode(mode)}); whoever can change it can redirect your mail: chmod go-w ${path}`
      : undefined
  const home = options.homeDir ?? homedir()
  const baseDir = dirname(path)
  const parsed = parseConfigText(text, path, (p) => resolveFilePath(p, baseDir, home))
  return {path, ...parsed, warnings: warning ? [warning] : []}
}

/** The yaml package, loaded when a file is read: most runs have none, and loading it costs ~80 ms of CPU at start. */
let yamlPackage: typeof Yaml | undefined
const yaml = (): typeof Yaml => (yamlPackage ??= createRequire(import.meta.url)('yaml') as typeof Yaml)

/**
 * Parses and validates YAML text (pure). `origin` is the file name used in messages; `resolvePath`
 * turns a path written in the file into a usable one.
 */
export function parseConfigText(
  text: string,
  origin: string,
  resolvePath: (path: string) => string = (path) => path,
): ParsedConfigFile {
  const {LineCounter, parseDocument} = yaml()
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {prettyErrors: false, lineCounter, uniqueKeys: true})
  const where = (offset: number): string => {
    const {line, col} = lineCounter.linePos(offset)
    return `${origin}:${line}:${col}`
  }
  if (doc.errors.length > 0) {
    const error = doc.errors[0]
    const message =
      error.code === 'MULTIPLE_DOCS'
        ? 'the file holds several YAML documents (---); mailferry reads exactly one'
        : yamlMessage(error.message)
    throw new ConfigError(`${where(error.pos[0])}: ${message}`)
  }
  let value: unknown
  try {
    value = doc.toJS({maxAliasCount: 100})
  } catch (error) {
    throw new ConfigError(`${origin}: ${yamlMessage(error instanceof Error ? error.message : String(error))}`)
  }
  try {
    return draftFile(validateFileConfig(value), resolvePath)
  } catch (error) {
    if (error instanceof ConfigKeyError && error.keyPath !== undefined) {
      const offset = locateKey(doc.contents, error.keyPath)
      throw new ConfigError(`${offset === undefined ? origin : where(offset)}: ${error.message}`, {cause: error})
    }
    throw error
  }
}

/** A validated file with each side it gives drafted (a file read here, or a batch job's config given as data). */
export function draftFile(input: FileConfigInput, resolvePath: (path: string) => string): ParsedConfigFile {
  const drafts: Partial<Record<Side, EndpointDraft>> = {}
  for (const side of SIDES) {
    const endpoint = input[side]
    if (endpoint) drafts[side] = draftFromFile(side, endpoint, resolvePath)
  }
  return {input, drafts}
}

/**
 * One line, without the token text the yaml package sometimes appends (`...stream: "xyz"`):
 * that text could be anything in the file.
 */
function yamlMessage(message: string): string {
  const line = message.split('\n')[0].trim()
  return line.replace(/:\s*"[^]*"$/, '').replace(/\s+/g, ' ')
}

/** Offset of the deepest key of `keyPath` found in the document (the key itself, not its value). */
export function locateKey(root: unknown, keyPath: readonly string[]): number | undefined {
  const {isMap, isScalar} = yaml()
  let node = root
  let offset: number | undefined
  for (const segment of keyPath) {
    if (!isMap(node)) break
    const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === segment)
    if (!pair) break
    offset = (pair.key as Yaml.Node).range?.[0] ?? offset
    node = pair.value
  }
  return offset
}

/** One side as written in the file (its own layer, without a preset). `path` resolves a file path written there. */
export function draftFromFile(side: Side, input: EndpointInput, path: (p: string) => string): EndpointDraft {
  return draftFromInput(input, {side, from: 'file', path, secretAdvice: urlPasswordAdvice(side, true)})
}

/** One side as written in the file, over its provider's preset (a batch job's address, before flags). */
export function sideFromFile(side: Side, input: EndpointInput, path: (p: string) => string): EndpointDraft {
  return assembleDraft(side, {input, draft: draftFromFile(side, input, path)}, {input: {}, draft: {}})
}
